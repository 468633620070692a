"""Validate only what changed: a cache of each study file's results, by content hash.

pyshacl over the whole library grows faster than the library (bench/RESULTS.md), while a curator
changes one or two study files at a time. So the files are split in two:

- study files, those that state an msc:Study (data/studies/*.ttl): each is validated together with
  the shared files, and its results (those whose focus node the file states) are kept in the cache
  under the file's hash. Files not in the cache are validated in batches of BATCH files.
- shared files, all the others (ontology, vocabulary, library, sources): a change to one of them,
  or to the shapes, invalidates every cached result.

Two passes then look across files, and are cheap because each sees a small graph:
- shared nodes: the shared files plus every study file's links into them (one triple per
  predicate and target: enough for "some study names this person"), so the checks on shared
  nodes see what points at them;
- CROSS_FILE shapes (unique titles): every study's type and title, from every file.

A run also records one digest of everything it read (the shapes, every file's name and content hash)
and the outcome: last_outcome() answers from that record alone when nothing changed, which is what
the server's start-up check asks (decision 0010). A cache that cannot be read or does not hold what
it should is ignored and rebuilt; one that cannot be written is reported through `warn`, and the
results are returned all the same. The cache files themselves are kg.validation_cache's: it also
keeps each file's size and mtime, so that a file unchanged since the last run is not read again.

The assumption, which tests/test_incremental.py holds against a full validation: a study file's
nodes are checked with the shared files only (no shape looks from one study file into another
except CROSS_FILE), and checks on shared nodes ask only whether something points at them.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rdflib import RDF, BNode, Graph, URIRef
from rdflib.namespace import DCTERMS
from rdflib.util import from_n3

from kg import config, coverage, dataset
from kg import validation_cache as stored
from kg.namespaces import MSC, SHAPES
from kg.validation import SEVERITY_RANK, Report, Result, load_shapes, validate_graph
from kg.validation import node_sources as sources
from kg.validation_cache import CACHE_VERSION, ENGINE  # noqa: F401 (part of this module's API)

CACHE_DIR = config.ROOT / ".kg-cache"
# Study files a pyshacl run. Every run validates the shared files again, so runs are few; validation
# now grows linearly with the data (bench/RESULTS.md), so a bigger run costs no more a file.
BATCH = 1000
CROSS_FILE = (SHAPES.StudyTitleShape,)
SH_PREFIXES = URIRef("http://www.w3.org/ns/shacl#prefixes")
LINKS = Path("incremental-links.ttl")  # the graph the shared pass puts the study files' links in


class Progress:
    """What one incremental run did, for the curator and the benchmark."""

    def __init__(self):
        self.validated, self.cached, self.passes = [], [], []
        # {blank focus node ("_:id", as in the results): the IRI holding it}: a blank node has no page
        # of its own, so its results show on its holder's (kg.web.validation_page).
        self.holders = {}


@dataclass(frozen=True)
class Outcome:
    """What the server's start-up check needs of a run: conforms, the summary line, the violations."""

    conforms: bool
    summary: str
    violations: list

    @classmethod
    def of(cls, report):
        return cls(report.conforms, report.summary(), report.violations)


def last_outcome(files=None, cache_dir=None):
    """The Outcome of the last run over exactly these files, shapes and contents; None if there was
    none (or its record is unreadable). Parses nothing, and reads only the files whose size or mtime
    is not the recorded one (then records theirs, so that the next start reads none)."""
    files = dataset.default_files() if files is None else [Path(f) for f in files]
    keys = stored.resolved(files)
    last = stored.last_file(_cache_file(keys, cache_dir))
    record = stored.read_json(last)
    if not isinstance(record.get("conforms"), bool) or not isinstance(record.get("summary"), str) \
            or not stored.valid_results(record.get("violations")):
        return None
    found = stored.file_hashes(files, keys, record.get("files"), record.get("stats_taken"))
    if record.get("digest") != stored.digest(files, keys, found.hashes):
        return None
    if found.read:
        stored.write(last, {**record, "files": found.stats, "stats_taken": found.taken}, None)
    return Outcome(record["conforms"], record["summary"], [Result(**r) for r in record["violations"]])


def validate_changed(files=None, cache_dir=None, progress=None, warn=None):
    """A Report equal to kg.validation.validate(files)'s results, re-validating only files whose
    content changed since the cached run (all of them when the shapes or a shared file changed).
    warn(message) is told when the cache cannot be written (default: ignored)."""
    files = dataset.default_files() if files is None else [Path(f) for f in files]
    progress = Progress() if progress is None else progress
    shapes_text = b"".join(path.read_bytes() for path in dataset.shape_files())
    keys = stored.resolved(files)
    cache_file = _cache_file(keys, cache_dir)
    cache = stored.read(cache_file)
    found = stored.file_hashes(files, keys, cache["files"], cache.get("stats_taken"))
    hashes = found.hashes
    digest = stored.digest(files, keys, hashes)
    units = {}
    for path in files:
        entry = cache["files"].get(keys[path])
        if not stored.valid_entry(entry) or entry["hash"] != hashes[path]:
            entry = {"study": _states_a_study(path)}
        units[path] = {**entry, **found.stats[keys[path]]}
    shared = [p for p in files if not units[p]["study"]]
    studies = {p: units[p] for p in files if units[p]["study"]}
    context = stored.hash_bytes(shapes_text + "".join([ENGINE, *(hashes[p] for p in shared)]).encode())
    if cache.get("context") != context:
        for entry in units.values():
            entry.pop("results", None)
    shapes = load_shapes()
    stale = [p for p, entry in studies.items() if "results" not in entry]
    progress.cached = [p for p in studies if p not in stale]
    for start in range(0, len(stale), BATCH):
        batch = stale[start:start + BATCH]
        _validate_batch(shared, batch, shapes, units)
        progress.validated += batch
    results = [Result(**r) for entry in studies.values() for r in entry["results"]]
    for entry in studies.values():
        progress.holders.update(entry["holders"])
    shown = {dataset.display_path(p) for p in shared}
    # One link per predicate and target over all files: what a check on a shared node asks, and a key
    # that changes only when some shared node gains its first link or loses its last.
    links = {}
    for entry in studies.values():
        for line in entry["links"]:
            _, p, o = json.loads(line)
            links[(p, o)] = min(line, links.get((p, o), line))
    results += _pass(cache, "shared", shared, {LINKS: sorted(links.values())}, context,
                     shapes, lambda r: r.file in shown, progress)
    results += _pass(cache, "cross", [], {p: e["titles"] for p, e in studies.items()}, context,
                     _subgraph(shapes, CROSS_FILE), lambda r: True, progress)
    results.sort(key=lambda r: (r.file or "~", r.focus, SEVERITY_RANK[r.severity], f"{r.path}", r.message))
    report = Report(results, None)
    # Written again when something new was learnt, a file's stats included (after a touch, say).
    if cache.get("digest") != digest or progress.validated or progress.passes or found.read:
        stored.write(cache_file, {"version": stored.CACHE_VERSION, "context": context, "digest": digest,
                                  "stats_taken": found.taken,
                                  "files": {keys[p]: entry for p, entry in units.items()},
                                  "passes": cache["passes"]}, warn)
    outcome = Outcome.of(report)
    record = {"version": stored.CACHE_VERSION, "digest": digest, "conforms": outcome.conforms,
              "summary": outcome.summary, "violations": [asdict(r) for r in outcome.violations]}
    last = stored.read_json(stored.last_file(cache_file))
    if found.read or any(last.get(name) != value for name, value in record.items()):
        stored.write(stored.last_file(cache_file),
                     {**record, "files": found.stats, "stats_taken": found.taken}, warn)
    return report


def _validate_batch(shared, batch, shapes, units):
    """Validate the shared files with a batch of study files; cache each file's own results."""
    data = dataset.load_dataset([*shared, *batch])
    names = {dataset.display_path(p): p for p in batch}
    report = validate_graph(data, shapes, sources(data, [*shared, *batch]))
    for path in batch:
        units[path]["results"] = []
    for result in report.results:
        if result.file in names and URIRef(result.shape or "") not in CROSS_FILE:
            units[names[result.file]]["results"].append(asdict(result))
    for path in batch:
        units[path]["holders"] = _holders(data, units[path]["results"])
    targets = {s for p in shared for s in data.graph(dataset.graph_name(p)).subjects()
               if isinstance(s, URIRef)}
    for path in batch:
        graph = data.graph(dataset.graph_name(path))
        links = {}
        for s, p, o in graph:
            if o in targets and p != RDF.type:
                # A blank node's label is each parse's own; a fixed one keeps the cache key stable.
                stable = s
                if isinstance(s, BNode):
                    stable = BNode("link" + stored.hash_bytes(f"{path}{p}{o}".encode())[:16])
                links.setdefault((p, o), stable)
        titles = [(s, RDF.type, MSC.Study) for s in graph.subjects(RDF.type, MSC.Study)]
        titles += [(s, DCTERMS.title, t) for s, _, _ in titles for t in graph.objects(s, DCTERMS.title)]
        entry = units[path]
        entry["links"] = sorted(_n3(s, p, o) for (p, o), s in links.items())
        entry["titles"] = sorted(_n3(*triple) for triple in titles)


def _pass(cache, name, files, extracts, context, shapes, keep, progress):
    """Validate files plus triples extracted from study files ({path: [triple as JSON]}), each in its
    file's graph so that results name the right file; or reuse the last answer when nothing changed."""
    lines = [f"{dataset.display_path(path)}\t{line}"
             for path, triples in extracts.items() for line in triples]
    key = stored.hash_bytes((context + "\n".join(sorted(lines))).encode())
    known = cache["passes"].get(name)
    if isinstance(known, dict) and known.get("key") == key and stored.valid_results(known.get("results")) \
            and stored.valid_holders(known.get("holders")):
        progress.holders.update(known["holders"])
        return [Result(**r) for r in known["results"]]
    data = dataset.load_dataset(files)
    for path, triples in extracts.items():
        graph = data.graph(dataset.graph_name(path))
        for line in triples:
            graph.add(tuple(from_n3(term) for term in json.loads(line)))
    report = validate_graph(data, shapes, sources(data, [*files, *extracts]))
    results = [r for r in report.results if keep(r)]
    cache["passes"][name] = {"key": key, "results": [asdict(r) for r in results]}
    cache["passes"][name]["holders"] = _holders(data, cache["passes"][name]["results"])
    progress.holders.update(cache["passes"][name]["holders"])
    progress.passes.append(name)
    return results


def _holders(data, results):
    """{blank focus node: the IRI holding it} for these results (as dicts), found in the graph they
    were validated in (its blank node labels are this parse's own)."""
    found = {}
    for result in results:
        focus = result["focus"]
        if focus.startswith("_:") and focus not in found:
            held = coverage.holder(data, BNode(focus[2:]))
            if held is not None:
                found[focus] = str(held[0])
    return found


def _subgraph(shapes, roots):
    """The shapes named by roots, with their blank nodes and the prefixes they declare."""
    graph = Graph()
    todo = list(roots)
    seen = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for p, o in shapes.predicate_objects(node):
            graph.add((node, p, o))
            if isinstance(o, BNode) or p == SH_PREFIXES:
                todo.append(o)
    for prefix, namespace in shapes.namespaces():
        graph.bind(prefix, namespace)
    return graph


def _states_a_study(path):
    return (None, RDF.type, MSC.Study) in dataset.parse_file(path)


def _cache_file(keys, cache_dir):
    return stored.cache_file(keys, CACHE_DIR if cache_dir is None else cache_dir)


def _n3(*terms):
    return json.dumps([term.n3() for term in terms], ensure_ascii=False)
