"""The SPARQL endpoint through Flask's test client: protocol, formats, limits and errors, on each store."""

import contextlib
import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from rdflib import Graph, URIRef

from kg.endpoint import nesting_depth
from kg.store import KINDS, open_store
from kg.web.app import close_app, create_app
from tests.remote import oxigraph_server

FIXTURE = """@prefix ex: <https://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:a rdfs:label "Alpha"@en ; ex:next ex:b ; ex:score 3 .
ex:b rdfs:label "Beta" ; ex:next ex:c ; ex:score 7 .
ex:c rdfs:label "Gamma \\"quoted\\" <tag>" ; ex:score 11 .
"""
SELECT = "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } ORDER BY ?s"
CONSTRUCT = "CONSTRUCT { ?s <https://example.org/next> ?o } WHERE { ?s <https://example.org/next> ?o }"
ASK = "ASK { <https://example.org/a> <https://example.org/next> <https://example.org/b> }"


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "fixture.ttl"
    path.write_text(FIXTURE, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=KINDS)
def app(request, fixture_file, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        store, files = request.param, [fixture_file]
        if store == "sparql":
            # A server of its own: the session's one holds the real data.
            server = stack.enter_context(oxigraph_server(tmp_path_factory.mktemp("ox"), fixture_file))
            store, files = server.store, None
        app = create_app({"STORE": store, "DATA_FILES": files, "MAX_ROWS": 2,
                          "MAX_BODY_BYTES": 4096, "MAX_QUERY_BYTES": 2048, "QUERY_TIMEOUT": 5})
        app.config["FIXTURE"] = fixture_file
        yield app
        close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


def get(client, query, accept=None, **params):
    headers = {"Accept": accept} if accept else {}
    return client.get("/sparql", query_string={"query": query, **params}, headers=headers)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [(None, "application/sparql-results+json"), ("*/*", "application/sparql-results+json"),
     ("application/sparql-results+xml", "application/sparql-results+xml"), ("text/csv", "text/csv"),
     ("text/tab-separated-values", "text/tab-separated-values"),
     ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
     ("text/html;q=0.1, */*", "application/sparql-results+json")],
)
def test_select_is_negotiated(client, accept, media_type):
    response = get(client, "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1", accept)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.headers["Vary"] == "Accept"


def select_rows(response):
    """(variables, rows of plain strings) from any SELECT results format."""
    kind = response.mimetype
    if kind == "application/sparql-results+json":
        doc = json.loads(response.data)
        names = doc["head"]["vars"]
        return names, [[b.get(v, {}).get("value") for v in names] for b in doc["results"]["bindings"]]
    if kind == "application/sparql-results+xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        root = ET.fromstring(response.data)
        names = [v.get("name") for v in root.iter(f"{ns}variable")]
        rows = []
        for result in root.iter(f"{ns}result"):
            values = {b.get("name"): "".join(b.itertext()) for b in result.iter(f"{ns}binding")}
            rows.append([values.get(v) for v in names])
        return names, rows
    delimiter = "," if kind == "text/csv" else "\t"
    reader = list(csv.reader(io.StringIO(response.data.decode()), delimiter=delimiter))
    return reader[0], reader[1:]


@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_select_answers_carry_the_same_rows_in_every_format(client, fmt):
    names, rows = select_rows(get(client, "SELECT ?s ?n WHERE { ?s <https://example.org/score> ?n } "
                                          "ORDER BY ?n LIMIT 2", format=fmt))
    assert names == ["s", "n"]
    assert rows == [["https://example.org/a", "3"], ["https://example.org/b", "7"]]


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [(None, "turtle"), ("application/ld+json", "json-ld"), ("application/n-triples", "nt"),
     ("application/rdf+xml", "xml")],
)
def test_construct_parses_back_to_the_same_graph(app, client, accept, rdflib_format):
    response = get(client, CONSTRUCT, accept)
    assert response.status_code == 200
    answer = Graph().parse(data=response.data, format=rdflib_format)
    expected = {(URIRef("https://example.org/a"), URIRef("https://example.org/next"), URIRef("https://example.org/b")),
                (URIRef("https://example.org/b"), URIRef("https://example.org/next"), URIRef("https://example.org/c"))}
    assert set(answer) == expected


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "application/sparql-results+xml"])
def test_ask(client, accept):
    response = get(client, ASK, accept)
    assert response.mimetype == accept
    assert b"true" in response.data


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [("post", {"data": {"query": ASK}}),
     ("post", {"data": ASK, "content_type": "application/sparql-query"}),
     ("post", {"data": ASK.encode(), "content_type": "application/sparql-query; charset=UTF-8"})],
)
def test_post_forms(client, method, kwargs):
    response = getattr(client, method)("/sparql", **kwargs)
    assert response.status_code == 200
    assert json.loads(response.data)["boolean"] is True


@pytest.mark.parametrize(
    ("kwargs", "status", "phrase"),
    [({"data": ASK, "content_type": "text/plain"}, 415, "application/sparql-query"),
     ({"data": ASK.encode("utf-16"), "content_type": "application/sparql-query; charset=UTF-16"},
      415, "UTF-8"),
     ({"data": b"\xff\xfe", "content_type": "application/sparql-query"}, 400, "UTF-8"),
     ({"data": "", "content_type": "application/x-www-form-urlencoded"}, 400, "no query"),
     ({"data": {"query": [ASK, ASK]}}, 400, "exactly one"),
     ({"data": {"update": "CLEAR ALL"}}, 403, "read-only"),
     ({"data": "CLEAR ALL", "content_type": "application/sparql-update"}, 403, "read-only"),
     ({"data": "x" * 5000, "content_type": "application/sparql-query"}, 413, "limit")],
)
def test_post_errors(client, kwargs, status, phrase):
    response = client.post("/sparql", **kwargs)
    assert response.status_code == status
    assert phrase in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("params", "status", "phrase"),
    [({"query": "SELECT * WHERE { ?s ?p }"}, 400, "line 1"),
     ({"update": "CLEAR ALL"}, 403, "read-only"),
     ({"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}, 400, "SERVICE"),
     ({"query": "INSERT DATA { <a:b> <a:c> <a:d> }"}, 400, "read-only"),
     ({"query": "SELECT * WHERE " + "{ " * 100 + "?s ?p ?o" + " }" * 100}, 400, "nests"),
     ({"query": "SELECT * WHERE { ?s ?p ?o } # " + "x" * 3000}, 414, "limit"),
     ({"query": ASK, "timeout": "soon"}, 400, "timeout"),
     ({"query": ASK, "timeout": "-1"}, 400, "timeout"),
     ({"query": ASK, "format": "turtle"}, 406, "json"),
     ({"query": CONSTRUCT, "format": "csv"}, 406, "turtle")],
)
def test_get_errors(client, params, status, phrase):
    response = client.get("/sparql", query_string=params)
    assert response.status_code == status
    assert phrase in response.get_data(as_text=True)


def test_a_query_with_service_in_a_string_is_not_refused(client):
    response = get(client, 'SELECT ("SERVICE <http://x/>" AS ?s) WHERE {}')
    assert response.status_code == 200


@pytest.mark.parametrize("accept", ["image/png", "text/plain;q=0, text/html;q=0"])
def test_nothing_acceptable_is_406_in_a_readable_error(client, accept):
    response = get(client, SELECT, accept)
    assert response.status_code == 406
    assert "application/sparql-results+json" in response.get_data(as_text=True)


def test_an_unreadable_accept_header_is_400(client):
    response = get(client, SELECT, "text/csv;q=2")
    assert response.status_code == 400
    assert "Accept" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [("application/problem+json", "application/problem+json"), ("application/json", "application/json"),
     ("text/html", "text/html"), ("text/plain", "text/plain"),
     ("application/sparql-results+json", "text/plain")],
)
def test_errors_have_one_shape_negotiated_like_everything_else(client, accept, media_type):
    response = client.get("/sparql", query_string={"query": "SELECT"}, headers={"Accept": accept})
    assert response.status_code == 400
    assert response.mimetype == media_type
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if media_type.endswith("json"):
        body = json.loads(text)
        assert body["status"] == 400 and body["title"] == "Bad Request" and "line 1" in body["detail"]
    else:
        assert "400" in text and "line 1" in text


def test_rows_over_the_limit_are_cut_and_say_so(client):
    response = get(client, SELECT)
    assert response.headers["Results-Truncated"] == "rows; limit=2"
    body = json.loads(response.data)
    assert len(body["results"]["bindings"]) == 2
    assert body["truncated"] == "rows; limit=2"


def test_rows_within_the_limit_are_not_marked(client):
    response = get(client, SELECT + " LIMIT 2")
    assert "Results-Truncated" not in response.headers
    assert "truncated" not in json.loads(response.data)


def test_bytes_over_the_limit_are_cut_and_say_so(tmp_path):
    path = tmp_path / "big.ttl"
    path.write_text("\n".join(f'<https://example.org/s{i}> <https://example.org/p> "{"x" * 200}" .'
                              for i in range(50)), encoding="utf-8")
    app = create_app({"DATA_FILES": [path], "MAX_RESULT_BYTES": 2000, "WORKERS": 1})
    try:
        response = get(app.test_client(), "SELECT ?s ?o WHERE { ?s ?p ?o }", format="csv")
        assert response.status_code == 200
        assert response.headers["Results-Truncated"] == "bytes; limit=2000"
        assert 0 < len(response.data) <= 2000
    finally:
        close_app(app)


def test_cors_on_answers_and_preflight(client):
    assert get(client, ASK).headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options("/sparql", headers={"Origin": "https://else.where",
                                                   "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_other_methods_are_405_with_allow(client):
    response = client.put("/sparql", data="x")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_a_browser_gets_the_query_form(client):
    response = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert b"<form" in response.data


@pytest.mark.parametrize(("accept", "rdflib_format"), [(None, "turtle"), ("application/ld+json", "json-ld")])
def test_service_description_counts_the_real_dataset(app, client, accept, rdflib_format):
    response = client.get("/sparql", headers={"Accept": accept} if accept else {})
    description = Graph().parse(data=response.data, format=rdflib_format)
    counts = {str(row.name): int(row.n) for row in description.query("""
        PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>
        PREFIX void: <http://rdfs.org/ns/void#>
        SELECT ?name ?n WHERE { ?s sd:namedGraph [ sd:name ?name ; sd:graph [ void:triples ?n ] ] }""")}
    store = open_store("memory", files=[app.config["FIXTURE"]])
    assert counts == {str(g): n for g, n in store.graph_sizes().items()}
    assert (None, URIRef("http://www.w3.org/ns/sparql-service-description#endpoint"),
            URIRef("http://localhost/sparql")) in description


@pytest.mark.parametrize("parameter", ["default-graph-uri", "named-graph-uri"])
def test_a_graph_name_that_is_no_iri_is_refused_and_the_workers_survive(app, client, parameter):
    before = app.extensions["kg.pool"].idle
    response = client.get("/sparql", query_string={"query": ASK, parameter: '"x <y>'})
    assert response.status_code == 400
    assert "cannot bind" in response.get_data(as_text=True)
    assert app.extensions["kg.pool"].idle == before


@pytest.mark.parametrize(("query", "depth"), [
    ("SELECT * WHERE { ?s ?p ?o }", 1), ('SELECT * { FILTER("{{{{") }', 2),
    ("SELECT * { <urn:x((y))> ?p ?o } # {{{{", 1), ("SELECT * " + "{ " * 70 + "}" * 70, 70),
    ('ASK { FILTER(""" {{{ """ = "") }', 2), ("ASK { ?s ?p ?o . FILTER(?o < 3 && ?o > (1)) }", 3),
])
def test_nesting_depth_skips_strings_iris_and_comments(query, depth):
    assert nesting_depth(query) == depth


@pytest.mark.parametrize("query", [
    'SELECT ?x WHERE { BIND(REGEX("a", "(") AS ?x) }',
    'SELECT ?x WHERE { BIND(STRLANG("x", "a b") AS ?x) }',
    'SELECT ?x WHERE { BIND(IRI("a b") AS ?x) }',
])
@pytest.mark.parametrize("fmt", ["json", "csv", "xml"])
def test_a_query_that_fails_to_evaluate_leaves_the_workers_alive(app, client, query, fmt):
    before = app.extensions["kg.pool"].idle
    response = client.get("/sparql", query_string={"query": query, "format": fmt})
    assert response.status_code in (200, 400)
    assert app.extensions["kg.pool"].idle == before


@pytest.mark.parametrize(("accept", "media_type"), [
    ("application/json", "application/sparql-results+json"),
    ("application/xml", "application/sparql-results+xml"),
])
def test_alias_media_types_of_the_formats_table_negotiate(client, accept, media_type):
    response = get(client, SELECT, accept)
    assert response.status_code == 200 and response.mimetype == media_type


def test_the_service_description_answers_an_alias(client):
    response = client.get("/sparql", headers={"Accept": "application/x-turtle"})
    assert response.status_code == 200 and response.mimetype == "text/turtle"


def test_an_on_disk_store_is_loaded_once_and_shared_by_the_workers(tmp_path, fixture_file):
    disk = create_app({"DATA_FILES": [fixture_file], "STORE_PATH": tmp_path / "store",
                       "WORKERS": 2})
    try:
        assert (tmp_path / "store").is_dir()
        client = disk.test_client()
        for _ in range(4):
            assert b"true" in get(client, ASK).data
    finally:
        close_app(disk)
