"""SHACL validation as query-worker jobs (kg.endpoint.answer hands them here), so that a slow or
hostile validation is stopped by the worker's deadline and never by the web server's patience.

- CheckData: data a client sent, validated together with the served dataset against the server's
  shapes; the report keeps the results on the nodes the body describes (decision 0008).
- CheckShapes: shapes a client sent, Fuseki's SHACL service: a graph of the served dataset
  validated against them.
- CheckDataset: the served dataset against the server's shapes, with the shapes' coverage; the web
  server asks once and keeps it for /validation.
- CheckServedFiles (kg.served_results): the same results for the resource pages, from
  kg.incremental's cache over the files the store was loaded from.

Bodies are parsed by kg.uploads, which refuses what could expand or fetch. Shapes from a client
may hold SPARQL, which rdflib would let reach out through SERVICE: any such text is refused.
No Flask here.
"""

import json
import re
import time
from dataclasses import dataclass

import pyoxigraph as ox
from pyparsing.exceptions import ParseBaseException
from rdflib import BNode, Dataset, Graph, URIRef
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql.parser import expandUnicodeEscapes

from kg import config, coverage, formats, served_results, uploads, validation
from kg.errors import KGError, QueryError, UsageError
from kg.report_text import NAMESPACES, node_id
from kg.served_results import CheckServedFiles

HTML = "text/html"
JSON = "application/json"
# Offered in this order: Turtle is what a client that accepts anything gets, as from Fuseki.
RDF_OFFERS = ("text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml")
OFFERS = (*RDF_OFFERS, HTML, JSON)
QUADS = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
SHAPE_MARKS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target,
               SH.property, SH.path, SH.sparql)
SPARQL_TEXTS = (SH.select, SH.ask, SH.construct, SH.update)
SERVICE = re.compile(r"\bSERVICE\b", re.IGNORECASE)
BODY_GRAPH = URIRef("urn:x-msc-kg:request-body")  # the posted triples' graph while they are checked


@dataclass(frozen=True)
class CheckData:
    body: bytes
    media_type: str  # the body's
    answer: str  # one of OFFERS
    target: str | None = None  # only the results on this node (Fuseki's ?target=)
    max_results: int = 10_000
    max_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class CheckShapes:
    body: bytes
    media_type: str
    answer: str
    graph: str = "default"  # "default", "union" (both the union of the files here) or a graph's IRI
    target: str | None = None
    max_results: int = 10_000
    max_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class CheckDataset:
    pass


@dataclass(frozen=True)
class Checked:
    """A validation's answer: bytes in the media type asked for, or for HTML the results to show."""

    conforms: bool
    counts: dict  # of all the results, shown or not
    media_type: str
    body: bytes = b""
    results: tuple = ()  # kg.validation.Result, for HTML
    truncated: str | None = None  # why fewer results are shown than were found, for Results-Truncated


@dataclass(frozen=True)
class DatasetReport:
    """The served dataset's report and the shapes' coverage, as the web server keeps them."""

    results: tuple  # kg.validation.Result
    documents: dict  # {media type: the SHACL validation report graph in it}, for every RDF format offered
    pages: dict  # {IRI: indexes into results}: each result under its focus node, or the IRI holding it
    coverage: coverage.Coverage
    seconds: float  # how long the validation took in the worker

    def report(self):
        """A kg.validation.Report of the results (counts, summary, JSON)."""
        return validation.Report(list(self.results), None)


JOBS = (CheckData, CheckShapes, CheckDataset, CheckServedFiles)


def run(store, job):
    """The answer to one of this module's jobs; raises KGError (the worker answers 400) for bad input."""
    try:
        if isinstance(job, CheckDataset):
            return check_dataset(store)
        if isinstance(job, CheckServedFiles):
            return served_results.check(store, job, check_dataset)
        if isinstance(job, CheckData):
            return _answer(check_data(store, job), job)
        if isinstance(job, CheckShapes):
            return _answer(check_shapes(store, job), job)
    except RecursionError:
        raise UsageError("the request body is nested too deeply to validate") from None
    except (RuntimeError, ValueError, TypeError, AttributeError, LookupError, re.error,
            ParseBaseException) as exc:
        # pyshacl reports a shape it cannot use (ShapeLoadError, ConstraintLoadError...) as a
        # RuntimeError, a bad sh:pattern or SPARQL text as these; the body's fault, told as such.
        what = "the shapes could not be applied" if isinstance(job, CheckShapes) else "validation failed"
        raise UsageError(f"{what}: {exc}") from None
    raise TypeError(f"not a SHACL job: {job!r}")


def served_dataset(store, graph=None):
    """The store's named graphs (or only `graph`) as an rdflib Dataset, one graph per source file."""
    data = Dataset(default_union=True)
    bindings = {"g": URIRef(graph)} if graph is not None else None
    for s, p, o, g in store.query(QUADS, bindings=bindings).rows:
        data.add((s, p, o, g))
    return data


def parse(job):
    return uploads.parse(job.body, job.media_type, config.BASE)


def check_data(store, job):
    body = parse(job)
    if _holds_shapes(body):
        raise UsageError("the request body holds SHACL shapes: to validate the served dataset against "
                         "them, POST them to /shacl?graph=default (Fuseki's SHACL service); without "
                         "?graph= the body is data, validated against this server's shapes")
    data = served_dataset(store)
    sources = validation.node_sources(data)
    mine = {node_id(s) for s in body.subjects()}
    for triple in body:
        data.add((*triple, BODY_GRAPH))
    sources.update({s: uploads.SOURCE for s in body.subjects()})
    report = validation.validate_graph(data, validation.load_shapes(), sources)
    return report.subset(lambda r: r.focus in mine and job.target in (None, r.focus))


def check_shapes(store, job):
    shapes = parse(job)
    if not _holds_shapes(shapes):
        raise UsageError("the request body holds no SHACL shapes (no sh:NodeShape, sh:PropertyShape or "
                         "target): to validate data against this server's shapes, POST it to /shacl "
                         "without ?graph=")
    _refuse_service(shapes)
    graph = None if job.graph in ("default", "union") else job.graph
    report = validation.validate_graph(served_dataset(store, graph), shapes)
    return report.subset(lambda r: job.target in (None, r.focus))


def check_dataset(store):
    started = time.monotonic()
    data = served_dataset(store)
    shapes = validation.load_shapes()
    report = validation.validate_graph(data, shapes)
    union = Graph()
    for part in data.graphs():
        union += part

    def holder(focus):
        held = coverage.holder(union, BNode(focus[2:]))
        return None if held is None else str(held[0])

    return DatasetReport(
        results=tuple(report.results),
        documents={m: _rdf(report, formats.by_media_type(m)).encode("utf-8") for m in RDF_OFFERS},
        pages=served_results.pages(report.results, holder),
        coverage=coverage.coverage(union, shapes),
        seconds=time.monotonic() - started,
    )


def _holds_shapes(graph):
    if any((None, RDF.type, kind) in graph for kind in (SH.NodeShape, SH.PropertyShape)):
        return True
    return any((None, mark, None) in graph for mark in SHAPE_MARKS)


def _refuse_service(shapes):
    """rdflib runs a SPARQL constraint's SERVICE by fetching the URL it names; nothing here may fetch."""
    for mark in SPARQL_TEXTS:
        for text in shapes.objects(None, mark):
            previous, expanded = None, str(text)
            while expanded != previous:
                previous, expanded = expanded, expandUnicodeEscapes(expanded)
            if SERVICE.search(expanded):
                raise QueryError("SERVICE is refused in the shapes' SPARQL: validation runs on the "
                                 "local dataset only")


def _answer(report, job):
    """The report in the media type asked for, cut to the result and byte limits (and saying so)."""
    conforms, counts = report.conforms, report.counts()
    truncated = None
    if len(report.results) > job.max_results:
        truncated = f"results; limit={job.max_results}"
        report = report.subset(most=job.max_results)
    if job.answer == HTML:
        return Checked(conforms, counts, HTML, results=tuple(report.results), truncated=truncated)
    body = _serialize(report, job.answer, counts, truncated)
    # Halve the results until the answer fits, as the SPARQL endpoint does with rows.
    while len(body) > job.max_bytes and report.results:
        truncated = f"bytes; limit={job.max_bytes}"
        report = report.subset(most=len(report.results) // 2)
        body = _serialize(report, job.answer, counts, truncated)
    if len(body) > job.max_bytes:
        raise KGError(f"even an empty report is over the {job.max_bytes}-byte limit")
    return Checked(conforms, counts, job.answer, body=body, truncated=truncated)


def _serialize(report, media_type, counts, truncated):
    if media_type == JSON:
        document = report.to_json()
        document["counts"] = counts
        if truncated:
            document["truncated"] = truncated
        return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    fmt = formats.by_media_type(media_type, formats.RDF)
    text = _rdf(report, fmt)
    if truncated and fmt.name in ("turtle", "ntriples"):
        text = f"# Truncated: {truncated}; {counts['violations']} violations in all.\n" + text
    return text.encode("utf-8")


def _rdf(report, fmt):
    """The report graph in fmt, written by oxigraph (rdflib's Turtle would respell an offending
    value such as "7"^^xsd:decimal as 7.0): the report first, then each result with its parts."""
    ntriples = report.results_graph.serialize(format="nt", encoding="utf-8")
    try:
        triples = list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES))
    except SyntaxError:
        # rdflib keeps terms oxigraph refuses (an IRI with a space, from a lenient parse): its own writer.
        return report.results_graph.serialize(format=fmt.rdflib)
    order = [*report.results_graph.subjects(RDF.type, SH.ValidationReport), *report.nodes]
    rank = {node_id(node): place for place, node in enumerate(order)}

    def key(triple):
        subject = triple.subject
        name = f"_:{subject.value}" if isinstance(subject, ox.BlankNode) else subject.value
        return rank.get(name, len(rank)), name, str(triple.predicate), str(triple.object)

    used = {str(t.predicate.value) for t in triples} | {str(t.object.value) for t in triples}
    prefixes = {prefix: ns for prefix, ns in NAMESPACES.items() if any(iri.startswith(ns) for iri in used)}
    return ox.serialize(sorted(triples, key=key), format=fmt.oxigraph, prefixes=prefixes).decode("utf-8")
