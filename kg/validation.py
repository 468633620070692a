"""Validate the knowledge graph against its SHACL shapes, and report to the curator.

validate() loads the ontology and data files (one named graph per file, so every result
names the file its node came from), validates their union against shapes/*.ttl and
returns a Report; validate_graph() does the same for graphs a caller already holds.
The ontology belongs in the data graph: the shapes check the data's msc: terms against it.

pyshacl is always handed rdflib Graphs, never strings (it would fetch a string as a URL),
and always handed the shapes (without them it would read shapes from the data itself).
"""

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
import pyshacl
from pyshacl.errors import ValidationFailure
from rdflib import BNode, ConjunctiveGraph, Dataset, Graph, Literal
from rdflib.namespace import DCTERMS, RDF, RDFS, SDO, SH, SKOS
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Prologue

from kg import config, dataset, report_text
from kg.errors import QueryError
from kg.namespaces import MSC, PREFIXES, SHAPES
from kg.queries import walk
from kg.report_text import compact_text, curie, node_id, path_text, plural, result_line, term_text

SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
SEVERITY_RANK = {"Violation": 0, "Warning": 1, "Info": 2}
LABEL_PREDICATES = (DCTERMS.title, SKOS.prefLabel, SDO.name, RDFS.label)
PART_PREDICATES = {MSC.publication, MSC.intervention, MSC.studyGroup, MSC.outcome, MSC.attribution}


@dataclass(frozen=True)
class Result:
    """One validation result, in the terms a curator reads."""

    severity: str  # "Violation", "Warning" or "Info"
    focus: str  # the node's IRI, or "_:id" for a blank node
    focus_label: str  # its title, preferred label, name or label; else the IRI
    file: str | None  # the source file that states the node, relative to the repository
    message: str
    path: str | None  # compact, e.g. "dcterms:title" or "^msc:outcome"
    value: str | None  # the offending value in Turtle notation
    shape: str | None  # IRI of the named shape; a nested property shape reports its parent
    component: str | None  # e.g. "sh:MinCountConstraintComponent"


class Report:
    """The results of one validation; conforms when no result is a sh:Violation."""

    def __init__(self, results, results_graph, nodes=(), conforms=None):
        self.results = results
        self.results_graph = results_graph
        self.nodes = nodes  # each result's sh:ValidationResult node in results_graph, in the same order
        self._conforms = conforms  # given when results are the first of more (Report.subset's most)

    violations = property(lambda self: [r for r in self.results if r.severity == "Violation"])
    warnings = property(lambda self: [r for r in self.results if r.severity == "Warning"])
    infos = property(lambda self: [r for r in self.results if r.severity == "Info"])
    conforms = property(lambda self: not self.violations if self._conforms is None else self._conforms)

    def counts(self):
        nodes = len({r.focus for r in self.results})
        return {"violations": len(self.violations), "warnings": len(self.warnings), "infos": len(self.infos),
                "nodes": nodes}

    def summary(self):
        counts = self.counts()
        text = f"{plural(counts['violations'], 'violation')}, {plural(counts['warnings'], 'warning')}"
        text += f", {plural(counts['infos'], 'info')}" if counts["infos"] else ""
        return f"Conforms: {text}" if self.conforms else f"{text} in {plural(counts['nodes'], 'node')}"

    def to_text(self):
        """The results grouped by focus node: its label and file, then one line per result."""
        groups = {}
        for result in self.results:
            groups.setdefault(result.focus, []).append(result)
        lines = []
        for focus, results in groups.items():
            first = results[0]
            shown = focus if focus.startswith("_:") else f"<{focus}>"
            lines.append(shown if first.focus_label == focus else f"{first.focus_label}  {shown}")
            if first.file:
                lines.append(f"  in {first.file}")
            # Two components can fail one value with one message (sh:nodeKind and sh:pattern): say it once.
            lines.extend(dict.fromkeys(result_line(r) for r in results))
            lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def to_json(self):
        """A JSON-ready dict: conforms, counts and the results."""
        return dict(conforms=self.conforms, counts=self.counts(), results=[asdict(r) for r in self.results])

    def to_turtle(self):
        """The SHACL validation report graph, as Turtle."""
        return self.results_graph.serialize(format="turtle")

    def subset(self, wanted=lambda result: True, most=None):
        """A Report of the results wanted(result) admits, whose report graph holds those results alone
        and conforms unless one of them is a violation; with `most`, only the first `most` are kept
        (and conforms still speaks for all of them)."""
        pairs = [(r, n) for r, n in zip(self.results, self.nodes, strict=True) if wanted(r)]
        conforms = all(r.severity != "Violation" for r, _ in pairs)
        pairs = pairs[:most]
        graph = Graph(namespace_manager=self.results_graph.namespace_manager)
        report = BNode()
        graph.add((report, RDF.type, SH.ValidationReport))
        graph.add((report, SH.conforms, Literal(conforms)))
        seen = set()
        for _, node in pairs:
            graph.add((report, SH.result, node))
            stack = [node]  # the result's own triples and the blank nodes they lead to (paths, lists)
            while stack:
                subject = stack.pop()
                for predicate, obj in self.results_graph.predicate_objects(subject):
                    graph.add((subject, predicate, obj))
                    if isinstance(obj, BNode) and obj not in seen:
                        seen.add(obj)
                        stack.append(obj)
        return Report([r for r, _ in pairs], graph, [n for _, n in pairs], conforms)


class _PreparedQueryGraph(Graph):
    """A Graph that parses each SPARQL text once. pyshacl runs a SPARQL constraint once per focus
    node with the same text (the focus is an initial binding); rdflib would parse it every time,
    which was most of the validation time."""

    def query(self, query_object, *args, **kwargs):
        if isinstance(query_object, str):
            query_object = _prepared(query_object)
        return super().query(query_object, *args, **kwargs)


# What rdflib lets a query use undeclared; oxigraph, reading a text first, must allow the same.
RDFLIB_PREFIXES = {prefix: str(ns) for prefix, ns in Prologue().namespace_manager.namespaces()}


@lru_cache(maxsize=512)
def _prepared(text):
    """A SPARQL text of the shapes, parsed once. Shapes may come from a client (POST /shacl), and
    rdflib fails on some texts with a bare Exception (an undeclared prefix, GRAPH over one graph) and
    runs SERVICE by fetching: oxigraph's stricter parser reads the text first, and what reaches
    outside the one data graph is refused."""
    try:
        ox.Store().query(text, prefixes=RDFLIB_PREFIXES)  # an empty store: a syntax check
    except SyntaxError as exc:
        reason = str(exc).splitlines()[0].split("[")[0].rstrip(" ,")  # without oxigraph's character classes
        raise QueryError(f"a SPARQL query of the shapes does not parse: {reason}") from None
    query = prepareQuery(text)
    outside = ("ServiceGraphPattern", "Graph")
    if query.algebra.datasetClause or any(isinstance(n, CompValue) and n.name in outside
                                          for n in walk(query.algebra)):
        raise QueryError("SERVICE, GRAPH and FROM are refused in the shapes' SPARQL: a validation reads "
                         "its one data graph and nothing else")
    return query


def load_shapes(paths=None):
    """The shapes files (default: shapes/*.ttl) merged into one graph."""
    graph = dataset.load_graph(dataset.shape_files() if paths is None else [Path(p) for p in paths])
    graph.bind("mscsh", SHAPES)
    return graph


def validate(files=None, shapes=None):
    """Validate the ontology and data files (default: all of them) against the shapes.

    `shapes` is a list of shapes files (default: shapes/*.ttl) or an already loaded Graph.
    A file that does not parse raises kg.errors.DataParseError naming file, line and column.
    """
    files = dataset.default_files() if files is None else [Path(f) for f in files]
    data = dataset.load_dataset(files)
    shapes_graph = shapes if isinstance(shapes, Graph) else load_shapes(shapes)
    return validate_graph(data, shapes_graph, node_sources(data, files))


def validate_graph(data_graph, shapes_graph, sources=None):
    """Validate a data graph against a shapes graph; `sources` maps nodes to file names.

    A Dataset is validated as the union of its graphs (pyshacl would validate each named
    graph alone), and names its files itself when `sources` is not given.
    """
    if not isinstance(data_graph, Graph) or not isinstance(shapes_graph, Graph):
        raise TypeError("validate_graph() takes rdflib Graphs for both the data and the shapes")
    if isinstance(data_graph, ConjunctiveGraph) and sources is None:
        sources = node_sources(data_graph)
    # Validate copies, so that pyshacl may work in place (no clone of its own) on a graph whose
    # queries are prepared once, and the caller's graphs are never touched (pyshacl adds to shapes).
    data_graph, shapes_graph = _union(data_graph), _union(shapes_graph, Graph())
    _, results_graph, _ = pyshacl.validate(
        data_graph, shacl_graph=shapes_graph, ont_graph=None, inplace=True, advanced=True, inference="none",
        allow_infos=True, allow_warnings=True, meta_shacl=False, js=False, do_owl_imports=False,
    )
    if isinstance(results_graph, ValidationFailure):  # pyshacl returns some refusals (SERVICE) instead
        raise QueryError(f"the shapes cannot be applied: {results_graph}")
    for prefix, namespace in report_text.NAMESPACES.items():
        results_graph.bind(prefix, namespace, override=True)
    pairs = [
        (_result(results_graph, node, data_graph, shapes_graph, sources or {}), node)
        for report in results_graph.subjects(RDF.type, SH.ValidationReport)
        for node in results_graph.objects(report, SH.result)
    ]
    pairs.sort(key=lambda p: (p[0].file or "~", p[0].focus, SEVERITY_RANK[p[0].severity], f"{p[0].path}",
                              p[0].message))
    return Report([r for r, _ in pairs], results_graph, [n for _, n in pairs])


def _graphs(data):
    if isinstance(data, Dataset):
        return list(data.graphs())
    return list(data.contexts()) if isinstance(data, ConjunctiveGraph) else [data]


def _union(data, graph=None):
    graph = _PreparedQueryGraph() if graph is None else graph
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    for part in _graphs(data):
        graph += part
    return graph


def node_sources(data, files=()):
    """Map each node to the file whose named graph states it: as a subject first, else as an object."""
    prefix = config.BASE + "graph/"
    shown = {dataset.graph_name(path): dataset.display_path(path) for path in files}
    named = [(g, shown.get(g.identifier, str(g.identifier)[len(prefix):] + ".ttl"))
             for g in _graphs(data) if str(g.identifier).startswith(prefix)]
    sources = {}
    for position in (0, 2):
        for graph, name in named:
            for triple in graph:
                if not isinstance(triple[position], Literal):
                    sources.setdefault(triple[position], name)
    return sources


def _result(report, node, data, shapes, sources):
    focus, value, path = (report.value(node, p) for p in (SH.focusNode, SH.value, SH.resultPath))
    component = report.value(node, SH.sourceConstraintComponent)
    shape = _named_shape(shapes, report.value(node, SH.sourceShape))
    messages = sorted({str(m) for m in report.objects(node, SH.resultMessage)})
    message = " ".join(compact_text(m) for m in messages) or f"{curie(component)} failed"
    return Result(
        severity=SEVERITIES.get(report.value(node, SH.resultSeverity), "Violation"),
        focus=node_id(focus),
        focus_label=node_label(data, focus),
        file=sources.get(focus),
        message=message,
        path=path_text(report, path) if path is not None else None,
        value=term_text(value) if value is not None and value != focus else None,
        shape=str(shape) if shape is not None else None,
        component=curie(component) if component is not None else None,
    )


def _named_shape(shapes, shape):
    """A blank property shape (or a shape inside an sh:or list) stands for the named shape holding it."""
    seen = set()
    while isinstance(shape, BNode) and shape not in seen:
        seen.add(shape)
        shape = next(shapes.subjects(None, shape), shape)
    return shape


def node_label(graph, node, depth=0):
    """The node's title, preferred label, name or label (English first); else, for a blank node or
    a part of a study without a label of its own (a publication), what it is of: "msc:publication of ..."."""
    for predicate in LABEL_PREDICATES:
        found = sorted(graph.objects(node, predicate), key=str)
        values = [v for v in found if getattr(v, "language", None) == "en"] or found
        if values:
            return str(values[0])
    if depth < 3:
        for owner, predicate in graph.subject_predicates(node):
            if isinstance(node, BNode) or predicate in PART_PREDICATES:
                return f"{curie(predicate)} of {node_label(graph, owner, depth + 1)}"
    return node_id(node)
