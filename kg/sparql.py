"""Query results written out: SPARQL results formats, RDF for graph answers, and a table for the terminal."""

import json
import re

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from kg import formats
from kg.errors import QueryError, UsageError
from kg.store import ASK, GRAPH, KNOWN_PREFIXES, SELECT

TABLE = "table"
# A graph answer has no named graphs, so N-Quads and TriG would only be N-Triples and Turtle renamed.
GRAPH_FORMATS = ("turtle", "ntriples", "jsonld", "rdfxml")
NAMES = (TABLE,) + tuple(f.name for f in formats.FORMATS if f.kind == formats.RESULTS) + GRAPH_FORMATS

_NAMESPACES = sorted(KNOWN_PREFIXES.items(), key=lambda item: -len(item[1]))
_BARE = {XSD.integer, XSD.decimal, XSD.double, XSD.boolean}
# A local name Turtle takes without escapes; anything else (a slash, a trailing dot) is shown as <iri>.
_LOCAL_NAME = re.compile(r"(\w[\w.-]*)?(?<!\.)")


def fitting(result):
    """The format names result can be written in, table first."""
    if result.kind == GRAPH:
        return (TABLE,) + GRAPH_FORMATS
    return (TABLE,) + tuple(f.name for f in formats.results_formats())


def serialize(result, name):
    """result as text in the format called name (one of fitting(result))."""
    if name not in fitting(result):
        kind = "CONSTRUCT/DESCRIBE" if result.kind == GRAPH else result.kind.upper()
        raise UsageError(f"format {name!r} does not fit a {kind} query; "
                         f"choose one of {', '.join(fitting(result))}")
    if name == TABLE:
        return table(result)
    if name == "json":
        return json.dumps(results_json(result), indent=2, ensure_ascii=False) + "\n"
    fmt = formats.by_name(name)
    # Oxigraph writes every format from what rdflib writes most plainly (N-Triples, results JSON): its
    # CSV/TSV/XML follow the specs to the letter, and its Turtle keeps "7"^^xsd:decimal (rdflib's says 7.0).
    if result.kind == GRAPH:
        ntriples = graph(result).serialize(format="nt", encoding="utf-8")
        try:
            triples = list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES))
        except SyntaxError as exc:
            raise QueryError(f"the answer holds a term that cannot be written as {name}: {exc}") from None
        return ox.serialize(triples, format=fmt.oxigraph, prefixes=_prefixes_used(result)).decode("utf-8")
    try:
        answer = ox.parse_query_results(json.dumps(results_json(result)), format=ox.QueryResultsFormat.JSON)
        return answer.serialize(format=fmt.oxigraph).decode("utf-8")
    except SyntaxError as exc:
        # rdflib builds terms oxigraph refuses (IRI("a b")); the answer cannot be written as asked.
        raise QueryError(f"the answer holds a term that cannot be written as {name}: {exc}") from None


def results_json(result):
    """A SELECT or ASK answer as the SPARQL 1.1 results JSON object."""
    if result.kind == ASK:
        return {"head": {}, "boolean": result.boolean}
    if result.kind != SELECT:
        raise UsageError("a CONSTRUCT/DESCRIBE answer is a graph, not SPARQL results")
    bindings = [
        {var: _json_term(term) for var, term in zip(result.variables, row, strict=True) if term is not None}
        for row in result.rows
    ]
    return {"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}}


def graph(result):
    """A CONSTRUCT/DESCRIBE answer as an rdflib Graph with the project's prefixes bound."""
    answer = Graph()
    for prefix, namespace in KNOWN_PREFIXES.items():
        answer.bind(prefix, namespace)
    for triple in result.triples:
        answer.add(triple)
    return answer


def table(result):
    """An aligned plain-text table, IRIs shortened to prefixed names where a known prefix fits."""
    if result.kind == ASK:
        return ("true" if result.boolean else "false") + "\n"
    if result.kind == GRAPH:
        header, rows = ("subject", "predicate", "object"), result.triples
    else:
        header, rows = result.variables, result.rows
    cells = [[text(term) for term in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    count = len(rows)
    lines.append(f"({count} {'triple' if result.kind == GRAPH else 'row'}{'' if count == 1 else 's'})")
    return "\n".join(lines) + "\n"


def text(term):
    """A term as one line of Turtle-like text: prefixed name, <iri>, _:bnode or literal."""
    if term is None:
        return ""
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, URIRef):
        return prefixed(term)
    if isinstance(term, Literal):
        if term.datatype in _BARE:
            return str(term)
        quoted = '"' + str(term).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
            .replace("\r", "\\r").replace("\t", "\\t") + '"'
        if term.language:
            return f"{quoted}@{term.language}"
        if term.datatype is not None:
            return f"{quoted}^^{prefixed(term.datatype)}"
        return quoted
    return str(term)


def prefixed(iri):
    """iri as prefix:local when a known namespace holds it and local needs no escaping, else <iri>."""
    for prefix, namespace in _NAMESPACES:
        if iri.startswith(namespace):
            local = iri[len(namespace):]
            if _LOCAL_NAME.fullmatch(local):
                return f"{prefix}:{local}"
    return f"<{iri}>"


def _prefixes_used(result):
    """The known prefixes the triples need: oxigraph declares every prefix it is given, used or not."""
    iris = set()
    for triple in result.triples:
        for term in triple:
            if isinstance(term, URIRef):
                iris.add(str(term))
            elif isinstance(term, Literal) and term.datatype is not None:
                iris.add(str(term.datatype))
    return {prefix: ns for prefix, ns in KNOWN_PREFIXES.items() if any(iri.startswith(ns) for iri in iris)}


def _json_term(term):
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    value = {"type": "literal", "value": str(term)}
    if term.language:
        value["xml:lang"] = term.language
    elif term.datatype is not None:
        value["datatype"] = str(term.datatype)
    return value
