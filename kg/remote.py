"""The `sparql:` store: a SPARQL 1.1 server over HTTP holds the dataset and answers (decision 0007).

Queries are checked here first, by the local stores' own code, so refused ones are never sent; what is
sent carries BASE and PREFIX lines, and bound values as a VALUES block (see with_values). A server that
is down, failing or slow raises RemoteUnavailable or RemoteTimeout (502 and 504 on the web); nothing
outlives a call, so the first call after the server is back succeeds.
"""

import json
from itertools import islice
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from kg import config, dataset, formats
from kg.endpoint import _TOKENS
from kg.errors import QueryError, RemoteUnavailable, UsageError
from kg.remote_http import call, check_url, detail, plain
from kg.store import (
    ASK,
    GRAPH,
    KNOWN_PREFIXES,
    SELECT,
    OxigraphStore,
    Result,
    Store,
    _oxigraph_query,
)
from kg.terms import to_oxigraph, to_rdflib

PREFIX = "sparql:"
TIMEOUT = 8.0  # seconds one call may take, reading included; the server sets it below its query deadline
RESULTS_JSON = "application/sparql-results+json"
GRAPH_TYPES = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/turtle": ox.RdfFormat.TURTLE,
               "text/plain": ox.RdfFormat.N_TRIPLES}
PROLOGUE = f"BASE <{config.BASE}> " + " ".join(f"PREFIX {p}: <{ns}>" for p, ns in KNOWN_PREFIXES.items())
SIZES = "SELECT ?g (COUNT(?s) AS ?n) WHERE { GRAPH ?g { OPTIONAL { ?s ?p ?o } } } GROUP BY ?g"
QUADS = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
UNION = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
NO_ROOM = ("on a sparql: store, values are bound by a VALUES block opening the WHERE group, and this query "
           "has no room for one")


def default_graph_store(query_url):
    """The Graph Store Protocol URL beside a query URL, where the server's layout says it (Oxigraph's)."""
    head, _, last = query_url.rstrip("/").rpartition("/")
    if last != "query":
        raise UsageError(f"cannot tell the Graph Store Protocol URL of {query_url}: give --graph-store "
                         "(Oxigraph server: .../store, Fuseki: .../DATASET/data)")
    return f"{head}/store"


class RemoteStore(Store):
    kind = "sparql"

    def __init__(self, url, graph_store=None, timeout=TIMEOUT, files=None, path=None, read_only=False):
        if files is not None or path is not None or read_only:
            raise UsageError("a sparql: store serves what its server holds: it takes no data files and "
                             "no store path; put the files there with kg load --into")
        # Nothing is sent here: a worker starts while the server is down, and answers 502 until it is back.
        self.url = check_url(url)
        self.graph_store = None if graph_store is None else check_url(graph_store, "the Graph Store URL")
        self.timeout = timeout

    def graph_sizes(self):
        return {g: int(n) for g, n in self.query(SIZES).rows}

    def dump(self, name, merged=False):
        fmt = formats.by_name(name)
        copy = OxigraphStore([])  # empty: it refuses a name that is no RDF format before anything is sent
        if fmt is not None and fmt.kind == formats.RDF:
            # The server's default graph is the union, as `kg load --into` puts it there.
            whole = merged or not fmt.named_graphs
            quads = self.query(TRIPLES).triples if whole else self.query(QUADS).rows
            copy._store.extend(ox.Quad(*map(to_oxigraph, quad)) for quad in quads)
        return copy.dump(name, merged)

    def _run(self, query, most):
        # The local parser has the final word on what is well-formed, and its messages point into the
        # client's own text, not into the PREFIX lines added below.
        _oxigraph_query(ox.Store(), query.text)
        text = with_values(query) if query.bindings else query.text
        form = query.tree[1]
        if most is not None and form.name == "SelectQuery" and form.valuesClause is None \
                and (form.limitoffset is None or form.limitoffset.limit is None):
            text += f"\nLIMIT {most}"  # the one row past the limit says the answer was cut
        text = f"{PROLOGUE}\n{text}"
        if query.bindings:
            try:
                _oxigraph_query(ox.Store(), text)
            except QueryError:
                raise QueryError(NO_ROOM) from None
        graph = form.name in ("ConstructQuery", "DescribeQuery")
        accept = "application/n-triples, text/turtle;q=0.9" if graph else RESULTS_JSON
        media_type, body = self._post(text, query.default_graphs, query.named_graphs, accept)
        return (_graph if graph else _results)(body, media_type, most, self.url)

    def _post(self, text, default_graphs, named_graphs, accept):
        form = [("query", text), *(("default-graph-uri", str(g)) for g in default_graphs),
                *(("named-graph-uri", str(g)) for g in named_graphs)]
        headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        status, media_type, body = call("POST", self.url, self.timeout, urlencode(form).encode(), headers)
        if status == 400:
            # Checked here first, the query is SPARQL 1.1; the server's engine does not take all of it.
            raise QueryError(f"the SPARQL server at {self.url} refused the query: {detail(body)}")
        if status != 200:
            raise RemoteUnavailable(f"the SPARQL server at {self.url} is unreachable: it answered {status}: "
                                    f"{detail(body)}")
        return media_type, body

    def load(self, files, progress=lambda graph, size: None):
        """Make the server hold the files: each file's graph PUT as a named graph, then the merge of all
        of them PUT as the default graph (the local stores' default graph is the union; a server's is
        not). Every file is parsed before anything is sent. Returns ({graph: triples}, the server's other
        graphs, left alone); a failure raises with the graphs already replaced in its `loaded`."""
        if self.graph_store is None:
            raise UsageError("loading needs the server's Graph Store Protocol URL (--graph-store)")
        local = OxigraphStore(dataset.default_files() if files is None else [Path(f) for f in files])
        sizes = local.graph_sizes()
        loaded = []
        try:
            for graph, size in sorted(sizes.items()):
                body = local._store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(str(graph)))
                self._put(f"{self.graph_store}?{urlencode({'graph': str(graph)})}", body)
                loaded.append(graph)
                progress(graph, size)
            self._put(f"{self.graph_store}?default", local.dump("ntriples", merged=True))
            held = self.graph_sizes()
            union = int(self.query(UNION).rows[0][0])
        except (RemoteUnavailable, QueryError) as exc:
            exc.loaded = loaded
            raise
        # Counted back: a server that dropped or merged triples is not left to be found out later.
        expected = local.query(UNION).rows[0][0].toPython()
        wrong = [f"{g}: {held.get(g, 0)} triples, not {n}"
                 for g, n in sorted(sizes.items()) if held.get(g) != n]
        if union != expected:
            wrong.append(f"the default graph: {union} triples, not {expected}")
        if wrong:
            error = RemoteUnavailable(f"the SPARQL server at {self.url} does not hold what was sent: "
                                      + "; ".join(wrong))
            error.loaded = loaded
            raise error
        return sizes, sorted(set(held) - set(sizes))

    def _put(self, url, body):
        headers = {"Content-Type": "application/n-triples"}
        status, _, answer = call("PUT", url, self.timeout, body, headers)
        if status not in (200, 201, 204):
            raise RemoteUnavailable(f"the Graph Store at {plain(url)} refused the data: it answered "
                                    f"{status}: {detail(answer)}")


def with_values(query):
    """The query's text with its bindings as a VALUES block opening its WHERE group.

    Unlike SEP-0007 substitution (what the local stores do), the values are joined in: patterns,
    FILTERs and OPTIONALs of the WHERE group see them; subqueries and FILTERs inside nested groups
    or UNION branches do not. Blank nodes cannot be bound: a server's labels last one answer only.
    """
    form = query.tree[1]
    names = [name for name, _ in query.bindings]
    if form.name == "SelectQuery" and form.projection:
        projected = {str(v.var or v.evar) for v in form.projection}
        missing = [f"?{name}" for name in names if name not in projected]
        if missing:
            raise QueryError(f"bound variables must be in the SELECT clause: {', '.join(missing)}")
    values = []
    for name, term in query.bindings:
        if not name.isidentifier() or not name.isascii():
            raise QueryError(f"cannot bind {name!r}: not a plain variable name")
        if isinstance(term, BNode):
            raise QueryError(f"cannot bind ?{name} to a blank node on a sparql: store")
        values.append(str(to_oxigraph(term)))
    block = f"VALUES ({' '.join('?' + n for n in names)}) {{ ({' '.join(values)}) }}"
    # CONSTRUCT's first top-level group is its template; the short form CONSTRUCT WHERE has no room.
    skip = 1 if form.name == "ConstructQuery" and form.template is not None else 0
    start = _group_start(query.text, skip)
    if start is None or (form.name == "ConstructQuery" and form.template is None):
        raise QueryError(NO_ROOM)
    return f"{query.text[:start]} {block} {query.text[start:]}"


def _group_start(text, skip):
    """Where the (skip+1)-th group outside any brackets begins, just past its "{"; None if none."""
    brackets = depth = seen = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("(", "["):
            brackets += 1
        elif token in (")", "]"):
            brackets -= 1
        elif token == "{":
            if depth == 0 and brackets == 0:
                if seen == skip:
                    return match.end()
                seen += 1
            depth += 1
        elif token == "}":
            depth -= 1
    return None


def _results(body, media_type, most, url):
    if media_type not in (RESULTS_JSON, "application/json"):
        raise RemoteUnavailable(f"the SPARQL server at {url} answered {media_type or 'no Content-Type'}, "
                                "not SPARQL JSON results")
    try:
        document = json.loads(body)
        if "boolean" in document:
            return Result(ASK, boolean=bool(document["boolean"]))
        variables = tuple(document["head"]["vars"])
        bindings = islice(document["results"]["bindings"], most)
        rows = tuple(tuple(_json_term(b.get(v)) for v in variables) for b in bindings)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RemoteUnavailable(f"the SPARQL server at {url} answered with something that is not SPARQL "
                                f"JSON results: {exc}") from None
    return Result(SELECT, variables=variables, rows=rows)


def _json_term(node):
    """A SPARQL JSON results term as the rdflib term the local stores give."""
    if node is None:
        return None
    kind, value = node["type"], node["value"]
    if kind == "uri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(value)
    if kind in ("literal", "typed-literal"):  # "typed-literal": the 2008 note's name, still sent by some
        if node.get("xml:lang"):
            return Literal(value, lang=node["xml:lang"])
        datatype = node.get("datatype")
        datatype = None if datatype == str(XSD.string) else datatype
        return Literal(value, datatype=datatype, normalize=False)
    if kind == "triple":
        raise QueryError("RDF 1.2 triple terms are not supported")
    raise ValueError(f"unknown term type {kind!r}")


def _graph(body, media_type, most, url):
    if media_type not in GRAPH_TYPES:
        raise RemoteUnavailable(f"the SPARQL server at {url} answered {media_type or 'no Content-Type'}, "
                                "not N-Triples or Turtle")
    try:
        triples = tuple(tuple(to_rdflib(t) for t in (q.subject, q.predicate, q.object))
                        for q in islice(ox.parse(body, format=GRAPH_TYPES[media_type]), most))
    except SyntaxError as exc:
        raise RemoteUnavailable(f"the SPARQL server at {url} answered RDF that does not parse: {exc}") \
            from None
    return Result(GRAPH, triples=triples)
