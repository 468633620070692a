"""What the write worker does: apply one write to a fresh copy of the dataset read from its files,
validate the result against the shapes, and return the new bytes of every file that changed.

It runs in a killable worker process (kg.workers), so a runaway update or a hostile upload costs a
worker, never the server, and it changes nothing on disk: the web process commits what it returns
(kg.writer, kg.commit) or nothing at all.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib import Dataset

from kg import dataset, formats, update, uploads, validation
from kg.errors import DataParseError, KGError, QueryError
from kg.store import KNOWN_PREFIXES
from kg.terms import to_oxigraph

UPDATE, PUT, POST, DELETE = "update", "PUT", "POST", "DELETE"


@dataclass(frozen=True)
class Write:
    """One write: a SPARQL Update request, or a Graph Store PUT/POST/DELETE on graph (None: default)."""

    operation: str
    files: tuple  # the data files as they are now (the writes file among them once it exists)
    writes_file: str  # where graphs of no file go, and the graph of default-graph inserts
    base: str  # relative IRIs resolve against it
    protected: tuple = ()  # graphs no write may change (the provenance graph, kept by the server)
    update: str | None = None
    using: tuple = ()
    using_named: tuple = ()
    graph: str | None = None
    parts: tuple = ()  # ((media type, bytes), ...): the RDF sent to the Graph Store


@dataclass(frozen=True)
class Outcome:
    status: int  # 200 done (changes may be empty: nothing changed), else the HTTP error
    message: str = ""
    changes: dict = field(default_factory=dict)  # {file path: new bytes}
    graphs: tuple = ()  # the IRIs of the graphs that changed
    created: bool = False  # a Graph Store write made a graph that did not exist
    summary: str = ""  # the validation's one line (warnings stay allowed)
    report: dict | None = None  # on 422: {"json": dict, "turtle": str, "text": str}


def open_writer(shape_files):
    """The `init` of the write worker: the shapes, parsed once."""
    return validation.load_shapes(shape_files)


def handle(shapes, job):
    """The `handle` of the write worker: never raises, every outcome is an Outcome."""
    try:
        return _write(shapes, job)
    except QueryError as exc:
        return Outcome(400, str(exc))
    except DataParseError as exc:
        # A body that does not parse is the client's; a data file that does not is the server's.
        return Outcome(400 if exc.source == uploads.SOURCE else 500, str(exc))
    except RecursionError:
        return Outcome(400, "the request is nested too deeply to process")
    except KGError as exc:
        return Outcome(400, str(exc))


def _write(shapes, job):
    writes = Path(job.writes_file).resolve()
    store, owners = _load([Path(f) for f in job.files])
    writes_graph = ox.NamedNode(dataset.graph_name(writes))
    before = update.snapshot(store)
    created = False
    if job.operation == UPDATE:
        update.apply(store, update.check(job.update, job.using, job.using_named), job.base, writes_graph)
    else:
        target = None if job.graph is None else ox.NamedNode(job.graph)
        if job.operation == DELETE and target is not None and target not in before:
            return Outcome(404, f"There is no graph <{job.graph}>.")
        created = target is not None and target not in before
        body = [t for media_type, data in job.parts
                for t in _triples(uploads.parse(data, media_type, job.graph or job.base))]
        _graph_store(store, before, job.operation, target, body, writes_graph)
    after = update.snapshot(store)
    changed = sorted((g for g in set(before) | set(after) if before.get(g) != after.get(g)), key=str)
    if not changed:
        return Outcome(200, "Nothing changed.", created=created)
    refused = [str(g.value) for g in changed if g.value in job.protected]
    if refused:
        return Outcome(403, f"The graph <{refused[0]}> is the record of writes; only the server writes it.")
    shared = [g for g in changed if len(owners.get(g, ())) > 1]
    if shared:
        return Outcome(409, f"The graph <{shared[0].value}> is stated in several files "
                       f"({', '.join(map(dataset.display_path, owners[shared[0]]))}); edit them by hand.")
    report = validation.validate_graph(_rdflib(store), shapes)
    if not report.conforms:
        # The text shows what refused the write; the JSON and Turtle reports carry every result.
        text = validation.Report(report.violations, report.results_graph).to_text()
        return Outcome(422, f"The write was refused and nothing changed: {report.summary()}.",
                       summary=report.summary(), report={
                           "json": report.to_json(), "turtle": report.to_turtle(), "text": text})
    files = {owners[g][0] if g in owners else writes for g in changed}
    changes = {str(path): _serialize(store, path, owners, writes) for path in sorted(files)}
    return Outcome(200, changes=changes, graphs=tuple(g.value for g in changed), created=created,
                   summary=report.summary())


def _load(files):
    """An oxigraph store with every graph of files, and {graph: [the files that state it]}."""
    store, owners = ox.Store(), {}
    for path in files:
        fmt = formats.by_extension(path.suffix, formats.RDF) or formats.by_name("turtle")
        own = ox.NamedNode(dataset.graph_name(path))
        try:
            quads = [ox.Quad(q.subject, q.predicate, q.object,
                             own if isinstance(q.graph_name, ox.DefaultGraph) else q.graph_name)
                     for q in ox.parse(path=str(path), format=fmt.oxigraph, base_iri=path.resolve().as_uri())]
        except SyntaxError as exc:
            raise DataParseError(dataset.display_path(path), exc.msg, exc.lineno, exc.offset) from None
        except OSError as exc:
            raise DataParseError(dataset.display_path(path), exc.strerror or str(exc)) from None
        graphs = {q.graph_name for q in quads} | ({own} if not fmt.named_graphs else set())
        for graph in graphs:
            store.add_graph(graph)
            owners.setdefault(graph, []).append(path.resolve())
        store.extend(quads)
    return store, owners


def _graph_store(store, before, operation, target, body, writes_graph):
    """A Graph Store PUT/POST/DELETE on target (None: the default graph, the union), then reconcile."""
    update.set_union(store, before)
    graph = ox.DefaultGraph() if target is None else target
    if operation in (PUT, DELETE):
        if target is None:
            store.clear_graph(graph)
        elif target in before:
            store.remove_graph(target)
    if operation in (PUT, POST):
        if target is not None:
            store.add_graph(target)
        store.extend(ox.Quad(s, p, o, graph) for s, p, o in body)
    update.reconcile(store, before, writes_graph)


def _triples(graph):
    return [tuple(to_oxigraph(t) for t in triple) for triple in graph]


def _rdflib(store):
    """The store as an rdflib Dataset (what the validation takes), its literals as written."""
    rdflib.NORMALIZE_LITERALS = False  # kg.dataset.parse_file says why it is set every time
    data = Dataset()
    quads = ox.serialize((q for q in store if not isinstance(q.graph_name, ox.DefaultGraph)),
                         format=ox.RdfFormat.N_QUADS)
    data.parse(data=quads.decode("utf-8"), format="nquads")
    return data


def _serialize(store, path, owners, writes):
    """The new bytes of the file at path: its graphs as they are now, sorted so that the file changes
    only where the data did. A Turtle file loses its comments and layout, never a triple."""
    fmt = formats.by_extension(path.suffix, formats.RDF) or formats.by_name("turtle")
    graphs = [g for g, files in owners.items() if files[0] == path]
    if path == writes:
        graphs += [g for g in store.named_graphs() if g not in owners]
    quads = sorted((q for g in graphs for q in store.quads_for_pattern(None, None, None, g)), key=str)
    if fmt.named_graphs:
        return ox.serialize(quads, format=fmt.oxigraph, prefixes=KNOWN_PREFIXES)
    return ox.serialize((q.triple for q in quads), format=fmt.oxigraph, prefixes=KNOWN_PREFIXES)
