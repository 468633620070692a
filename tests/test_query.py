"""kg.sparql and kg.formats: answers written in every format that fits, and read back to the same values."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import XSD
from rdflib.plugin import Parser, ResultParser, Serializer, get
from rdflib.query import Result as RdflibResult

from kg import formats, sparql
from kg.errors import UsageError
from kg.namespaces import MSC, PREFIXES
from kg.store import ASK, GRAPH, SELECT, Result

RESULTS_NS = "{http://www.w3.org/2005/sparql-results#}"
STUDIES = """SELECT ?study ?title ?enrolled WHERE {
    ?study a msc:Study ; dcterms:title ?title OPTIONAL { ?study msc:enrolledCount ?enrolled }
} ORDER BY ?study"""
PUBLICATIONS = "CONSTRUCT { ?s ?p ?o } WHERE { ?s a msc:Publication ; ?p ?o }"
# Decimals such as "7"^^xsd:decimal, which rdflib's Turtle writer would respell as 7.0.
VALUES = "CONSTRUCT WHERE { ?outcome qudt:numericValue ?value }"


@pytest.fixture
def studies(store):
    result = store.query(STUDIES)
    assert len(result) >= 2 and any(row[2] is None for row in result.rows)
    return result


def test_json_is_sparql_results_json(studies):
    parsed = json.loads(sparql.serialize(studies, "json"))
    assert parsed["head"]["vars"] == ["study", "title", "enrolled"]
    bindings = parsed["results"]["bindings"]
    assert len(bindings) == len(studies.rows)
    for binding, (study, title, enrolled) in zip(bindings, studies.rows, strict=True):
        assert binding["study"] == {"type": "uri", "value": str(study)}
        assert binding["title"] == {"type": "literal", "value": str(title), "xml:lang": "en"}
        if enrolled is None:
            assert "enrolled" not in binding
        else:
            expected = {"type": "literal", "value": str(enrolled), "datatype": str(XSD.integer)}
            assert binding["enrolled"] == expected


def test_json_is_the_same_from_both_backends(stores):
    answers = [json.loads(sparql.serialize(store.query(STUDIES), "json")) for store in stores.values()]
    assert answers[0] == answers[1]


def test_csv_carries_every_row(studies):
    rows = list(csv.reader(io.StringIO(sparql.serialize(studies, "csv"))))
    assert rows[0] == ["study", "title", "enrolled"]
    # CSV keeps lexical forms only: language tags and datatypes are dropped, unbound is empty.
    assert rows[1:] == [["" if t is None else str(t) for t in row] for row in studies.rows]


@pytest.mark.parametrize("name", ["json", "xml", "tsv"])
def test_results_read_back_to_the_same_terms(studies, name):
    parsed = RdflibResult.parse(io.StringIO(sparql.serialize(studies, name)), format=name)
    assert tuple(str(v) for v in parsed.vars) == studies.variables
    assert tuple(tuple(b.get(v) for v in parsed.vars) for b in parsed.bindings) == studies.rows


def test_xml_is_sparql_results_xml(studies):
    root = ET.fromstring(sparql.serialize(studies, "xml"))
    names = [v.get("name") for v in root.find(f"{RESULTS_NS}head")]
    assert names == ["study", "title", "enrolled"]
    results = root.find(f"{RESULTS_NS}results")
    assert len(results) == len(studies.rows)
    first = {b.get("name"): b[0] for b in results[0]}
    assert first["study"].tag == f"{RESULTS_NS}uri" and first["study"].text == str(studies.rows[0][0])
    assert first["title"].text == str(studies.rows[0][1])
    assert first["title"].get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("json", '"boolean": true'), ("xml", "<boolean>true</boolean>"), ("table", "true\n")],
)
def test_ask_answers(store, name, expected):
    assert expected in sparql.serialize(store.query("ASK { ?s a msc:Study }"), name)
    no = sparql.serialize(store.query("ASK { ?s a msc:Nothing }"), name)
    assert expected.replace("true", "false") in no


@pytest.mark.parametrize("query", [PUBLICATIONS, VALUES], ids=["publications", "values"])
@pytest.mark.parametrize("name", sparql.GRAPH_FORMATS)
def test_construct_parses_back_to_the_same_graph(stores, name, query):
    rdflib_name = formats.by_name(name).rdflib
    graphs = []
    for store in stores.values():
        result = store.query(query)
        assert result.kind == GRAPH and len(result) > 0
        graphs.append(Graph().parse(data=sparql.serialize(result, name), format=rdflib_name))
        assert isomorphic(graphs[-1], sparql.graph(result))
    assert isomorphic(graphs[0], graphs[1])


def test_turtle_uses_the_project_prefixes(store):
    text = sparql.serialize(store.query(PUBLICATIONS), "turtle")
    assert "@prefix msc: <https://w3id.org/msc-kg/ontology#> ." in text
    assert "a msc:Publication" in text


@pytest.mark.parametrize(
    ("query", "name"),
    [
        (STUDIES, "turtle"), (STUDIES, "nquads"), (STUDIES, "yaml"),
        (PUBLICATIONS, "json"), (PUBLICATIONS, "csv"), (PUBLICATIONS, "trig"),
    ],
)
def test_a_format_that_does_not_fit_is_refused(store, query, name):
    with pytest.raises(UsageError, match="does not fit"):
        sparql.serialize(store.query(query), name)


def test_table_aligns_columns_and_shortens_iris():
    result = Result(SELECT, variables=("thing", "value"), rows=(
        (MSC.Study, Literal("two\nlines", lang="en")),
        (URIRef("https://w3id.org/msc-kg/study/x"), Literal("7", datatype=XSD.integer)),
        (BNode("b1"), Literal("P42D", datatype=XSD.duration)),
        (URIRef(str(PREFIXES["schema"]) + "a/b"), None),
    ))
    lines = sparql.table(result).splitlines()
    width = len("<https://w3id.org/msc-kg/study/x>")
    assert lines[0] == "thing".ljust(width) + "  value"
    assert lines[1] == "-" * width + "  " + "-" * len('"P42D"^^xsd:duration')
    assert lines[2:] == [
        "msc:Study".ljust(width) + '  "two\\nlines"@en',
        "<https://w3id.org/msc-kg/study/x>  7",
        "_:b1".ljust(width) + '  "P42D"^^xsd:duration',
        "<https://schema.org/a/b>",
        "(4 rows)",
    ]


def test_table_of_a_graph_has_subject_predicate_object(store):
    text = sparql.table(store.query(PUBLICATIONS))
    assert text.splitlines()[0].split() == ["subject", "predicate", "object"]
    assert "rdf:type" in text and "msc:Publication" in text
    assert text.endswith("triples)\n")


def test_every_format_agrees_with_oxigraph_and_rdflib():
    for fmt in formats.FORMATS:
        # oxigraph appends "; charset=utf-8" to the text formats.
        assert fmt.oxigraph.media_type.split(";")[0] == fmt.media_type, fmt.name
        if fmt.kind == formats.RDF:
            assert fmt.oxigraph.file_extension == fmt.extension, fmt.name
            assert fmt.oxigraph.supports_datasets == fmt.named_graphs, fmt.name
            assert get(fmt.rdflib, Serializer) and get(fmt.rdflib, Parser)
        else:
            assert get(fmt.rdflib, ResultParser)


@pytest.mark.parametrize(
    ("lookup", "value", "kind", "expected"),
    [
        (formats.by_name, "Turtle", None, "turtle"),
        (formats.by_name, "yaml", None, None),
        (formats.by_extension, ".nq", None, "nquads"),
        (formats.by_extension, "xml", None, "xml"),
        (formats.by_extension, "rdf", formats.RDF, "rdfxml"),
        (formats.by_extension, "json", formats.RDF, None),
        (formats.by_media_type, "text/turtle; charset=utf-8", None, "turtle"),
        (formats.by_media_type, "application/json", None, "json"),
        (formats.by_media_type, "application/sparql-results+json", formats.RDF, None),
        (formats.by_media_type, "text/html", None, None),
    ],
)
def test_format_lookups(lookup, value, kind, expected):
    found = lookup(value) if kind is None else lookup(value, kind)
    assert (found.name if found else None) == expected


def test_result_kinds(store):
    assert store.query(STUDIES).kind == SELECT
    assert store.query("ASK {}").kind == ASK
    assert store.query("DESCRIBE <study/forbes-2014>").kind == GRAPH
