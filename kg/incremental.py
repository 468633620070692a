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

The assumption, which tests/test_incremental.py holds against a full validation: a study file's
nodes are checked with the shared files only (no shape looks from one study file into another
except CROSS_FILE), and checks on shared nodes ask only whether something points at them.
"""

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from rdflib import RDF, BNode, Graph, URIRef
from rdflib.namespace import DCTERMS
from rdflib.util import from_n3

from kg import config, dataset
from kg.errors import UsageError
from kg.namespaces import MSC, SHAPES
from kg.validation import SEVERITY_RANK, Report, Result, load_shapes, validate_graph
from kg.validation import node_sources as sources

CACHE_DIR = config.ROOT / ".kg-cache"
CACHE_VERSION = 1
BATCH = 100  # study files a pyshacl run; some constraints cost more per node as the graph grows
CROSS_FILE = (SHAPES.StudyTitleShape,)
SH_PREFIXES = URIRef("http://www.w3.org/ns/shacl#prefixes")
LINKS = Path("incremental-links.ttl")  # the graph the shared pass puts the study files' links in


class Progress:
    """What one incremental run did, for the curator and the benchmark."""

    def __init__(self):
        self.validated, self.cached, self.passes = [], [], []


def validate_changed(files=None, cache_dir=None, progress=None):
    """A Report equal to kg.validation.validate(files)'s results, re-validating only files whose
    content changed since the cached run (all of them when the shapes or a shared file changed)."""
    files = dataset.default_files() if files is None else [Path(f) for f in files]
    progress = Progress() if progress is None else progress
    cache_dir = CACHE_DIR if cache_dir is None else cache_dir
    shapes_text = b"".join(path.read_bytes() for path in dataset.shape_files())
    keys = {path: str(path.resolve()) for path in files}
    hashes = {path: _hash(path.read_bytes()) for path in files}
    # One cache per set of directories: a file added or removed keeps the others' results.
    folders = sorted({str(path.resolve().parent) for path in files})
    cache_file = Path(cache_dir) / f"validate-{_hash(chr(10).join(folders).encode())[:16]}.json"
    cache = _read(cache_file)
    units = {}
    for path in files:
        entry = cache.get("files", {}).get(keys[path])
        if entry is None or entry["hash"] != hashes[path]:
            entry = {"hash": hashes[path], "study": _states_a_study(path)}
        units[path] = entry
    shared = [p for p in files if not units[p]["study"]]
    studies = {p: units[p] for p in files if units[p]["study"]}
    context = _hash(shapes_text + "".join(hashes[p] for p in shared).encode())
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
    _write(cache_file, {"version": CACHE_VERSION, "context": context,
                        "files": {keys[p]: entry for p, entry in units.items()},
                        "passes": cache.get("passes", {})})
    results.sort(key=lambda r: (r.file or "~", r.focus, SEVERITY_RANK[r.severity], f"{r.path}", r.message))
    return Report(results, None)


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
    targets = {s for p in shared for s in data.graph(dataset.graph_name(p)).subjects()
               if isinstance(s, URIRef)}
    for path in batch:
        graph = data.graph(dataset.graph_name(path))
        links = {}
        for s, p, o in graph:
            if o in targets and p != RDF.type:
                # A blank node's label is each parse's own; a fixed one keeps the cache key stable.
                stable = BNode("link" + _hash(f"{path}{p}{o}".encode())[:16]) if isinstance(s, BNode) else s
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
    key = _hash((context + "\n".join(sorted(lines))).encode())
    known = cache.setdefault("passes", {}).get(name)
    if known and known["key"] == key:
        return [Result(**r) for r in known["results"]]
    data = dataset.load_dataset(files)
    for path, triples in extracts.items():
        graph = data.graph(dataset.graph_name(path))
        for line in triples:
            graph.add(tuple(from_n3(term) for term in json.loads(line)))
    report = validate_graph(data, shapes, sources(data, [*files, *extracts]))
    results = [r for r in report.results if keep(r)]
    cache["passes"][name] = {"key": key, "results": [asdict(r) for r in results]}
    progress.passes.append(name)
    return results


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


def _n3(*terms):
    return json.dumps([term.n3() for term in terms], ensure_ascii=False)


def _hash(data):
    return hashlib.sha256(data).hexdigest()


def _read(path):
    try:
        cache = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) and cache.get("version") == CACHE_VERSION else {}


def _write(path, content):
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(content, out, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"cannot write the validation cache {path}: {exc.strerror or exc}") from None
