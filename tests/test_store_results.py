"""The oxigraph store writes its answers natively (kg.results): the same answers, limits and notes as
the path through rdflib terms that every store takes, in every format the endpoint offers."""

import csv
import io
import json

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph
from rdflib.compare import isomorphic

from kg import formats
from kg.endpoint import OFFERS, Job, answer
from kg.store import Store

ORDERED = ("SELECT ?study ?title ?acronym WHERE { ?study a msc:Study ; dcterms:title ?title "
           "OPTIONAL { ?study msc:trialAcronym ?acronym } } ORDER BY ?study")
# SELECT * writes its columns by first use in the text, which is not oxigraph's own order.
STAR = "SELECT * WHERE { ?study a msc:Study ; ?property ?value } ORDER BY ?study ?property ?value"
# Blank nodes, literals of every datatype and language, in oxigraph's order (no ORDER BY).
UNORDERED = "SELECT DISTINCT ?s ?o WHERE { ?s ?p ?o FILTER(isBlank(?s) || isLiteral(?o)) }"
NO_VARIABLES = "SELECT * WHERE {}"
CONSTRUCT = "CONSTRUCT { ?o ?p ?v } WHERE { ?study msc:outcome ?o . ?o ?p ?v }"
DESCRIBE = "DESCRIBE ?study WHERE { ?study a msc:Study }"
ASK = "ASK { ?s a msc:Study }"
ASK_NOT = "ASK { ?s a msc:Nothing }"
SELECTS = (ORDERED, STAR, UNORDERED, NO_VARIABLES)
CASES = ([(q, f) for q in SELECTS for f in OFFERS["select"]] + [(q, f) for q in (ASK, ASK_NOT)
         for f in OFFERS["ask"]] + [(q, f) for q in (CONSTRUCT, DESCRIBE) for f in OFFERS["graph"]])
RDFLIB = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "rdfxml": "xml"}
NOTED = ("json", "xml", "turtle", "ntriples", "rdfxml")  # formats with room for a truncation note


class ThroughTerms:
    """The oxigraph store answering through rdflib terms and kg.sparql: Store.results of every store."""

    def __init__(self, store):
        self.store = store

    def results(self, *args, **options):
        return Store.results(self.store, *args, **options)


@pytest.fixture(scope="module")
def oxigraph(stores):
    return stores["oxigraph"]


def both(store, query, fmt, **limits):
    job = Job(query, format=fmt, **limits)
    return answer(store, job), answer(ThroughTerms(store), job)


def parsed(body, fmt):
    """The answer as comparable values: (variables, rows of N-Triples terms), a boolean, or a Graph."""
    if fmt in RDFLIB:
        return Graph().parse(data=body, format=RDFLIB[fmt])
    if fmt == "csv":  # CSV drops types and language tags: its cells are compared as written
        header, *rows = csv.reader(io.StringIO(body.decode("utf-8")))
        return tuple(header), [tuple(row) for row in rows]
    if fmt == "json":
        document = json.loads(body)
        if "boolean" in document:
            return document["boolean"]
        names = document["head"]["vars"]
        # The terms as N-Triples through pyoxigraph, after taking out what only we add.
        document.pop("truncated", None)
        body = json.dumps(document).encode()
    answer = ox.parse_query_results(body, format=formats.by_name(fmt).oxigraph)
    if isinstance(answer, ox.QueryBoolean):
        return bool(answer)
    names = [v.value for v in answer.variables]
    return tuple(names), [tuple("" if t is None else str(t) for t in row) for row in answer]


def same(native, generic, ordered):
    if isinstance(native, Graph):
        return isomorphic(native, generic)
    if isinstance(native, bool) or ordered:
        return native == generic
    return native[0] == generic[0] and sorted(native[1]) == sorted(generic[1])


def skeleton(graph):
    """The graph's triples with every blank node the same: each parse labels them anew."""
    return {tuple(None if isinstance(t, BNode) else t for t in triple) for triple in graph}


def note(body, fmt):
    """The truncation note the body carries, if the format has room for one."""
    if fmt == "json":
        return json.loads(body).get("truncated")
    text = body.decode("utf-8")
    if fmt in ("turtle", "ntriples") and text.startswith("# Truncated: "):
        return text.split(". ")[0].removeprefix("# Truncated: ")
    if fmt in ("xml", "rdfxml") and "<!-- Truncated: " in text:
        return text.split("<!-- Truncated: ")[1].split(". -->")[0]
    return None


@pytest.mark.parametrize(("query", "fmt"), CASES)
@pytest.mark.parametrize("max_rows", [10_000, 3])
def test_native_answers_as_the_rdflib_path_does(oxigraph, query, fmt, max_rows):
    native, generic = both(oxigraph, query, fmt, max_rows=max_rows)
    assert native.status == generic.status == 200
    assert native.media_type == generic.media_type == formats.content_type(formats.by_name(fmt).media_type)
    assert native.truncated == generic.truncated
    assert same(parsed(native.body, fmt), parsed(generic.body, fmt), ordered="ORDER BY" in query)
    if native.truncated:
        assert native.truncated == "rows; limit=3"
        assert len(parsed(native.body, fmt)[1] if fmt not in RDFLIB else parsed(native.body, fmt)) == 3
        if fmt in NOTED:
            assert note(native.body, fmt) == note(generic.body, fmt) == native.truncated
    else:
        assert note(native.body, fmt) is None


def test_select_star_columns_follow_the_text(oxigraph):
    native, generic = both(oxigraph, STAR, "json")
    assert json.loads(native.body)["head"]["vars"] == ["study", "property", "value"]
    assert json.loads(generic.body)["head"]["vars"] == ["study", "property", "value"]


CUTTABLE = [(q, f) for q, f in CASES if q not in (ASK, ASK_NOT, NO_VARIABLES)]


@pytest.mark.parametrize(("query", "fmt"), CUTTABLE)
def test_bytes_over_the_limit_are_cut_alike(oxigraph, query, fmt):
    whole = answer(oxigraph, Job(query, format=fmt))
    limit = len(whole.body) // 2
    native, generic = both(oxigraph, query, fmt, max_bytes=limit)
    full, cut = parsed(whole.body, fmt), parsed(native.body, fmt)
    assert native.truncated == generic.truncated == f"bytes; limit={limit}"
    assert 0 < len(native.body) <= limit and 0 < len(generic.body) <= limit
    if isinstance(full, Graph):
        assert 0 < len(cut) < len(full) and skeleton(cut) <= skeleton(full)
        return
    # The rows kept are the answer's first: halving takes a prefix, in the query's order.
    assert cut[0] == full[0] and 0 < len(cut[1]) < len(full[1]) and cut[1] == full[1][:len(cut[1])]
    rows = parsed(generic.body, fmt)[1]
    if len(rows) == len(cut[1]):  # the paths write different bytes (JSON spacing), so may halve apart
        assert rows == cut[1]


def test_a_truncated_json_answer_is_read_by_a_strict_parser(oxigraph):
    native, generic = both(oxigraph, ORDERED, "json", max_rows=2)
    for body in (native.body, generic.body):
        assert json.loads(body)["truncated"] == "rows; limit=2"
        assert len(list(ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON))) == 2


@pytest.mark.parametrize("limit", [0, 1, 5, None])
@pytest.mark.parametrize("query", [UNORDERED, CONSTRUCT])
def test_a_limit_reads_one_row_more_than_it_keeps(oxigraph, query, limit):
    everything = len(oxigraph.query(query))
    assert everything > 6
    expected = everything if limit is None else limit + 1
    assert len(oxigraph.results(query, limit=limit)) == len(oxigraph.query(query, limit=limit)) == expected
