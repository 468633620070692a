"""A read-only SPARQL store over the dataset, one named graph per source file, with three backends.

"oxigraph" (pyoxigraph, the default) is fast and can live on disk; "memory" (an rdflib Dataset,
kg.memory_store) is the reference the tests hold it to; "sparql:URL" (kg.remote) asks a SPARQL 1.1
server. All answer with the same Result and refuse the same queries.
"""

import json
import re
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

import pyoxigraph as ox
from rdflib import URIRef, Variable
from rdflib.namespace import OWL, RDF, RDFS, XSD

from kg import config, dataset, formats
from kg.commit import write_atomic
from kg.errors import DataParseError, QueryError, UsageError
from kg.namespaces import PREFIXES
from kg.queries import prepare, walk
from kg.terms import bindable, tidy, to_rdflib

SELECT, ASK, GRAPH = "select", "ask", "graph"
KINDS = ("oxigraph", "memory", "sparql")  # the last as sparql:URL
# What queries may use undeclared and what output abbreviates: the project's prefixes and the W3C's own.
KNOWN_PREFIXES = {
    "rdf": str(RDF), "rdfs": str(RDFS), "xsd": str(XSD), "owl": str(OWL),
    **{prefix: str(namespace) for prefix, namespace in PREFIXES.items()},
}


@dataclass(frozen=True)
class Result:
    """A query answer in rdflib terms: rows for SELECT, a boolean for ASK, triples for CONSTRUCT/DESCRIBE."""

    kind: str
    variables: tuple = ()
    rows: tuple = ()  # one tuple per solution, aligned with variables; None where unbound
    boolean: bool | None = None
    triples: tuple = ()

    def __len__(self):
        return len(self.triples) if self.kind == GRAPH else len(self.rows)


def open_store(kind="oxigraph", files=None, path=None, read_only=False, **remote):
    """A store holding files (default: dataset.default_files()), in memory or, for oxigraph, at path.

    read_only opens the oxigraph store already at path as it is and loads nothing, in any number of
    processes, once the process that loaded it has closed it: beside a writer still open, a reader can
    find the files it was told of already compacted away (RocksDB says "Corruption").
    "sparql:URL" opens no file: the server at URL holds the data (remote: graph_store, timeout).
    """
    if kind.startswith("sparql:"):
        from kg.remote import RemoteStore  # kg.remote builds on this module

        return RemoteStore(kind[len("sparql:"):], files=files, path=path, read_only=read_only, **remote)
    if read_only and (kind != "oxigraph" or path is None or files is not None):
        raise UsageError("only an oxigraph store on disk opens read-only, and it takes no files")
    files = dataset.default_files() if files is None else [Path(f) for f in files]
    if kind == "oxigraph":
        return OxigraphStore(files, path, read_only)
    if kind == "memory":
        if path is not None:
            raise UsageError("the memory store cannot be kept on disk; use --store oxigraph")
        from kg.memory_store import MemoryStore  # kg.memory_store builds on this module

        return MemoryStore(files)
    raise UsageError(f"unknown store {kind!r}; choose oxigraph, memory or sparql:URL")


class Store:
    kind = None

    def query(self, text, default_graphs=(), named_graphs=(), limit=None, bindings=None):
        """Run a read-only SPARQL query; the default graph is the union of the named graphs.

        Relative IRIs resolve against config.BASE; rdf, rdfs, xsd, owl and the project's prefixes need
        no PREFIX line. default_graphs / named_graphs are the protocol's default-graph-uri and
        named-graph-uri: they replace the query's FROM / FROM NAMED. With a limit, at most limit + 1
        rows (or triples) are read: one more than wanted tells the caller the answer was cut.
        bindings ({variable name: rdflib term}) give variables their values before evaluation: the
        way to put a value taken from a request into a query, never by formatting it into the text.
        Oxigraph substitutes as SPARQL SEP-0007 says: a bound variable must be in the SELECT clause.
        """
        query = _prepare(text, default_graphs, named_graphs, bindings)
        result = self._run(query, None if limit is None else limit + 1)
        if result.kind != SELECT:
            return result
        order = column_order(query, result.variables)
        return Result(SELECT, variables=tuple(result.variables[i] for i in order),
                      rows=tuple(tuple(row[i] for i in order) for row in result.rows))

    def results(self, text, default_graphs=(), named_graphs=(), limit=None):
        """query()'s answer on its way to a client (kg.results): cut to its first rows, written as
        bytes. The oxigraph store writes its own answers, without building rdflib terms."""
        from kg.results import TermResults  # kg.results builds on this module

        return TermResults(self.query(text, default_graphs, named_graphs, limit))

    def graphs(self):
        return sorted(self.graph_sizes())

    def close(self):
        """Release the store (an on-disk oxigraph store can then be opened by other processes)."""

    def graph_sizes(self):
        """{named graph IRI: its number of triples}."""
        raise NotImplementedError

    def __len__(self):
        """Triples over all named graphs; a triple stated in two files counts twice here."""
        return sum(self.graph_sizes().values())

    def dump(self, name, merged=False):
        """The dataset as bytes in the RDF format called name: a graph per file where the format has
        named graphs, unless merged; otherwise the merged graph (a triple in two files once)."""
        raise NotImplementedError

    def _run(self, query, most):
        raise NotImplementedError


OXIGRAPH_FORMATS = {".nq": ox.RdfFormat.N_QUADS, ".trig": ox.RdfFormat.TRIG, ".nt": ox.RdfFormat.N_TRIPLES,
                    ".rdf": ox.RdfFormat.RDF_XML, ".owl": ox.RdfFormat.RDF_XML}


# Beside the store's own files in its directory: which files it was last loaded from (see below).
LOADED = "msc-kg-loaded.json"


class OxigraphStore(Store):
    kind = "oxigraph"

    def __init__(self, files, path=None, read_only=False):
        self._loaded = None
        try:
            if path is None:
                self._store = ox.Store()
            else:
                self._store = ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))
        except (OSError, RuntimeError) as exc:
            raise UsageError(f"cannot open the store at {path}: {exc}") from None
        if not read_only:
            self._load_unless_current(files, path)
        self._union = not _holds_merge(self._store)
        self._sizes = None  # counted when first asked: seconds at 100k studies, and a start needs none

    def _load_unless_current(self, files, path):
        """Load files, unless the on-disk store at path holds them as they are now: a restart over
        unchanged files opens the store as it is (seconds at 100k studies, not minutes)."""
        if path is None:
            return self._load(files)
        marker = Path(path) / LOADED
        # A file's path, size and modification time, as make judges it: edited files differ. Sorted,
        # because the order files are given in changes nothing in the store (one graph per file).
        loaded = json.dumps(sorted([str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files))
        if marker.exists() and marker.read_text(encoding="utf-8") == loaded:
            return None
        # Gone before the load starts, so a load cut short is never taken for a finished one.
        marker.unlink(missing_ok=True)
        self._load(files)
        # Written by close(), once the store is shut and its data on disk: a process that dies before
        # leaves no marker, and the next start loads again.
        self._loaded = (marker, loaded)
        return None

    def _load(self, files):
        # On disk, a previous run's graphs would otherwise outlive files since removed.
        self._store.clear()
        for file in files:
            options = {"format": OXIGRAPH_FORMATS.get(file.suffix.lower(), ox.RdfFormat.TURTLE)}
            if file.suffix.lower() not in dataset.QUAD_FORMATS:
                options["to_graph"] = ox.NamedNode(dataset.graph_name(file))
                self._store.add_graph(options["to_graph"])
            try:
                self._store.load(path=str(file), base_iri=file.resolve().as_uri(), **options)
            except SyntaxError as exc:
                reason = re.sub(r"^Parser error (at|between) .*?: ", "", exc.msg)
                raise DataParseError(dataset.display_path(file), reason, exc.lineno, exc.offset) from None
            except OSError as exc:
                raise DataParseError(dataset.display_path(file), exc.strerror or str(exc)) from None
        # Oxigraph's own union counts a triple stated in two graphs twice; only then is every triple
        # copied into the default graph, which doubles the store and slows scans (decision 0014).
        # The copy runs inside oxigraph: a Python list of every quad cost 1.5x the store's memory.
        if _distinct_triples(self._store) != len(self._store):
            self._store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")

    def graph_sizes(self):
        if self._sizes is None:
            counts = self._store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
                                       "GROUP BY ?g")
            sizes = {URIRef(g.value): 0 for g in self._store.named_graphs()}
            sizes.update({URIRef(row["g"].value): int(row["n"].value) for row in counts})
            self._sizes = sizes
        return dict(self._sizes)

    def close(self):
        if self._loaded is not None:
            # Written out now rather than replayed from the log by the next process to open it (20 s
            # at 10k studies).
            self._store.flush()
        # pyoxigraph has no close(): dropping the last reference shuts the store and releases its lock.
        self._store = None
        if self._loaded is not None:
            write_atomic(*self._loaded)
            self._loaded = None

    def dump(self, name, merged=False):
        fmt = formats.by_name(name)
        if fmt is None or fmt.kind != formats.RDF:
            names = ", ".join(f.name for f in formats.rdf_formats())
            raise UsageError(f"{name!r} is not an RDF format; choose one of {names}")
        if merged or not fmt.named_graphs:
            if self._union:  # no triple is in two graphs: every quad's triple is the merge's, once
                return ox.serialize((q.triple for q in self._store), format=fmt.oxigraph,
                                    prefixes=KNOWN_PREFIXES)
            merge = ox.DefaultGraph()
            return self._store.dump(format=fmt.oxigraph, from_graph=merge, prefixes=KNOWN_PREFIXES)
        quads = (q for q in self._store if not isinstance(q.graph_name, ox.DefaultGraph))
        return ox.serialize(quads, format=fmt.oxigraph, prefixes=KNOWN_PREFIXES)

    def results(self, text, default_graphs=(), named_graphs=(), limit=None):
        from kg.results import native  # kg.results builds on this module

        query = _prepare(text, default_graphs, named_graphs)
        answer = self._answer(query)
        variables = [v.value for v in answer.variables] if isinstance(answer, ox.QuerySolutions) else []
        return native(answer, column_order(query, variables), None if limit is None else limit + 1)

    def _answer(self, query):
        # The union option would replace a FROM / FROM NAMED of the query, so it goes without them.
        options = {"use_default_graph_as_union": self._union}
        if query.default_graphs or query.named_graphs:
            options = {"default_graph": [ox.NamedNode(g) for g in query.default_graphs],
                       "named_graphs": [ox.NamedNode(g) for g in query.named_graphs]}
        if query.bindings:
            options["substitutions"] = {ox.Variable(name): bindable(term) for name, term in query.bindings}
        return _oxigraph_query(self._store, query.text, **options)

    def _run(self, query, most):
        answer = self._answer(query)
        if isinstance(answer, ox.QueryBoolean):
            return Result(ASK, boolean=bool(answer))
        if isinstance(answer, ox.QueryTriples):
            triples = islice(answer, most)
            return Result(GRAPH, triples=tuple(tuple(to_rdflib(t) for t in triple) for triple in triples))
        variables = tuple(v.value for v in answer.variables)
        rows = tuple(tuple(to_rdflib(solution[v]) for v in variables) for solution in islice(answer, most))
        return Result(SELECT, variables=variables, rows=rows)


def _prepare(text, default_graphs=(), named_graphs=(), bindings=None):
    query = replace(prepare(text), bindings=tuple(sorted((bindings or {}).items())))
    if default_graphs or named_graphs:
        for name in (*default_graphs, *named_graphs):
            bindable(URIRef(name))  # both engines refuse a graph name that is no IRI
        query = replace(query, default_graphs=tuple(URIRef(g) for g in default_graphs),
                        named_graphs=tuple(URIRef(g) for g in named_graphs))
    return query


def column_order(query, variables):
    """The positions of a SELECT answer's variables in the order its columns are written: as the
    query projects them, or for SELECT *, which leaves the order open and where the backends differ,
    by first use in the text."""
    if query.tree[1].projection:
        return list(range(len(variables)))
    first = {}
    for node in walk(query.tree):
        if isinstance(node, Variable):
            first.setdefault(str(node), len(first))
    return sorted(range(len(variables)), key=lambda i: first.get(variables[i], len(first)))


def _distinct_triples(store):
    count = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
    return int(next(store.query(count, use_default_graph_as_union=True))["n"].value)


def _holds_merge(store):
    """Whether the default graph holds the copy _load makes (then a named graph's triple is in it too,
    which the union layout never has). Read off the store, so that a store on disk opened by another
    process, or loaded by an older msc-kg (which always copied), is queried as it was loaded."""
    for graph in store.named_graphs():
        for quad in store.quads_for_pattern(None, None, None, graph):
            copy = store.quads_for_pattern(quad.subject, quad.predicate, quad.object, ox.DefaultGraph())
            return next(copy, None) is not None
    return False


def _oxigraph_query(store, text, **options):
    try:
        return store.query(text, base_iri=config.BASE, prefixes=KNOWN_PREFIXES, **options)
    except SyntaxError as exc:
        raise QueryError(tidy(str(exc))) from None
