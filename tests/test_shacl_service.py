"""POST /shacl: data validated against the server's shapes, shapes (Fuseki's way) validated against the
served dataset, every report format, the limits, and hostile bodies refused without a 500, a stack
trace, a fetch or a leak; the attacks also over real HTTP against serve.py.

Expected messages and counts come from the shapes files and from SPARQL over the served data, not
from lists written into the tests.
"""

import json
import re
import secrets
import socket
import threading
import time
from urllib.parse import quote

import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, RDF, SH

from kg import config, dataset, formats
from kg.namespaces import MSC, SHAPES
from kg.store import open_store
from tests.live import request, running_server

FORBES = config.DATA_DIR / "studies" / "forbes-2014.ttl"
BODY_FORMATS = {"turtle": "text/turtle", "ntriples": "application/n-triples", "jsonld": "application/ld+json",
                "rdfxml": "application/rdf+xml"}
REPORT_FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld",
                  "application/n-triples": "nt", "application/rdf+xml": "xml"}
PREFIXES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix msc: <https://w3id.org/msc-kg/ontology#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
"""
LONG_TITLES = PREFIXES + """<https://example.org/shapes/ShortTitle> a sh:NodeShape ;
    sh:targetClass msc:Study ;
    sh:property [ sh:path dcterms:title ; sh:maxLength 60 ; sh:message "title over 60 characters" ] .
"""
NO_TRACE = re.compile(r"Traceback|File \"|line \d+, in ")


def forbes_graph():
    return dataset.parse_file(FORBES)


def renamed_forbes(drop_title=True):
    """forbes-2014 under a new slug, so that nothing of the served study merges into it; optionally
    without its title. A test input, not data: it is never written to data/."""
    old, new = config.BASE + "study/forbes-2014", config.BASE + "study/shacl-test-copy"
    graph = Graph()
    for triple in forbes_graph():
        graph.add(tuple(URIRef(str(t).replace(old, new)) if isinstance(t, URIRef) else t for t in triple))
    if drop_title:
        graph.remove((URIRef(new), DCTERMS.title, None))
    return graph, URIRef(new)


def body(graph, fmt):
    """graph in fmt, written by oxigraph: rdflib's writers respell literals ("53"^^xsd:decimal as
    53.0), a different term from the served one."""
    triples = ox.parse(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    return ox.serialize(list(triples), format=formats.by_name(fmt).oxigraph)


def study_title_message():
    """The message StudyShape gives for a missing title, read from the shapes."""
    shapes = dataset.parse_file(config.SHAPES_DIR / "shapes.ttl")
    for prop in shapes.objects(SHAPES.StudyShape, SH.property):
        if shapes.value(prop, SH.path) == DCTERMS.title:
            return str(shapes.value(prop, SH.message))
    raise AssertionError("StudyShape has no dcterms:title rule")


def post(client, data, content_type="text/turtle", accept="text/turtle", query=""):
    return client.post("/shacl" + query, data=data, headers={"Content-Type": content_type, "Accept": accept})


def report_graph(response, fmt="turtle"):
    graph = Graph()
    graph.parse(data=response.data.decode("utf-8"), format=fmt)
    return graph


def conforms(graph):
    report = next(graph.subjects(RDF.type, SH.ValidationReport))
    return graph.value(report, SH.conforms).toPython()


def messages(graph):
    return {str(m) for m in graph.objects(None, SH.resultMessage)}


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


# ---------------------------------------------------------------- data against our shapes


# Each body format once with each report format, so that every reader and every writer is used.
PAIRS = list(zip(BODY_FORMATS, REPORT_FORMATS, strict=True))
SHIFTED = list(zip(BODY_FORMATS, list(REPORT_FORMATS)[1:] + list(REPORT_FORMATS)[:1], strict=True))


@pytest.mark.parametrize(("fmt", "accept"), SHIFTED)
def test_served_data_sent_back_conforms(client, fmt, accept):
    response = post(client, body(forbes_graph(), fmt), BODY_FORMATS[fmt], accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == accept
    graph = report_graph(response, REPORT_FORMATS[accept])
    assert conforms(graph) is True
    # Only what the body describes is reported: forbes' intervention names no cell source (a warning).
    focus = {str(f) for f in graph.objects(None, SH.focusNode)}
    assert focus and all(f.startswith(config.BASE + "study/forbes-2014") for f in focus)


@pytest.mark.parametrize(("fmt", "accept"), PAIRS)
def test_data_that_violates_gets_the_shapes_message(client, fmt, accept):
    graph, study = renamed_forbes()
    response = post(client, body(graph, fmt), BODY_FORMATS[fmt], accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == accept
    assert response.headers["Vary"] == "Accept"
    report = report_graph(response, REPORT_FORMATS[accept])
    assert conforms(report) is False
    title = [r for r in report.subjects(SH.focusNode, study)
             if report.value(r, SH.resultPath) == DCTERMS.title]
    assert [str(report.value(r, SH.resultMessage)) for r in title] == [study_title_message()]
    mine = {str(s) for s in graph.subjects()}
    assert {str(f) for f in report.objects(None, SH.focusNode)} <= mine


def test_the_report_as_json_and_as_a_page(client):
    graph, study = renamed_forbes()
    answer = json.loads(post(client, body(graph, "turtle"), accept="application/json").data)
    assert answer["conforms"] is False
    title = [r for r in answer["results"] if r["focus"] == str(study) and r["path"] == "dcterms:title"]
    assert [r["message"] for r in title] == [study_title_message()]
    assert title[0]["file"] == "the request body"
    violations = [r for r in answer["results"] if r["severity"] == "Violation"]
    assert answer["counts"]["violations"] == len(violations)
    page = post(client, body(graph, "turtle"), accept="text/html,*/*;q=0.8")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Does not conform" in html
    assert study_title_message().replace('"', "&#34;") in html
    assert 'href="/shapes#StudyShape"' in html


def test_format_overrides_accept_and_target_narrows_the_report(client):
    graph, study = renamed_forbes()
    outcome = next(s for s in graph.subjects(RDF.type, MSC.Outcome))
    response = post(client, body(graph, "turtle"), accept="text/html",
                    query="?format=json&target=" + str(study))
    answer = json.loads(response.data)
    assert response.mimetype == "application/json"
    assert answer["results"] and {r["focus"] for r in answer["results"]} == {str(study)}
    untouched = json.loads(post(client, body(graph, "turtle"), query=f"?format=json&target={outcome}").data)
    assert all(r["focus"] == str(outcome) for r in untouched["results"])


def test_a_body_of_shapes_without_graph_is_pointed_to_the_fuseki_form(client):
    response = post(client, LONG_TITLES.encode(), accept="application/json")
    assert response.status_code == 400
    assert "?graph=default" in json.loads(response.data)["detail"]


# ---------------------------------------------------------------- shapes against the dataset (Fuseki)


def long_titled_studies(graph_name=None):
    store = open_store("oxigraph")
    where = "?s a msc:Study ; dcterms:title ?t . FILTER(STRLEN(?t) > 60)"
    if graph_name:
        where = f"GRAPH <{graph_name}> {{ {where} }}"
    return {str(row[0]) for row in store.query(f"SELECT DISTINCT ?s WHERE {{ {where} }}").rows}


@pytest.mark.parametrize("query", ["?graph=default", "?graph=union", "?default"])
def test_shapes_in_the_body_validate_the_served_dataset(client, query):
    response = post(client, LONG_TITLES.encode(), query=query)
    assert response.status_code == 200
    report = report_graph(response)
    expected = long_titled_studies()
    assert expected, "the data has long titles to find"
    assert {str(f) for f in report.objects(None, SH.focusNode)} == expected
    assert messages(report) == {"title over 60 characters"}
    assert conforms(report) is False


def test_shapes_validate_one_named_graph_and_an_unknown_graph_is_empty(client):
    name = dataset.graph_name(FORBES)
    report = report_graph(post(client, LONG_TITLES.encode(), query=f"?graph={name}"))
    assert {str(f) for f in report.objects(None, SH.focusNode)} == long_titled_studies(name)
    empty = report_graph(post(client, LONG_TITLES.encode(), query="?graph=https://example.org/no-such-graph"))
    assert conforms(empty) is True and not list(empty.objects(None, SH.result))


def test_a_body_without_shapes_on_the_fuseki_form_is_refused(client):
    response = post(client, body(forbes_graph(), "turtle"), query="?graph=default", accept="application/json")
    assert response.status_code == 400
    assert "no SHACL shapes" in json.loads(response.data)["detail"]


# ---------------------------------------------------------------- limits and errors


@pytest.mark.parametrize(("content_type", "status", "says"), [
    ("text/plain", 415, "text/turtle"), ("application/sparql-results+json", 415, "text/turtle"),
    (None, 415, "no Content-Type"), ("text/turtle; charset=latin-1", 415, "UTF-8"),
    ("text/turtle; charset=utf-8", 200, None),
])
def test_the_body_type_decides(client, content_type, status, says):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/shacl", data=body(forbes_graph(), "turtle"), headers=headers)
    assert response.status_code == status
    if says:
        assert says in json.loads(response.data)["detail"]


def test_a_body_over_the_limit_is_413(app, client):
    limit = app.config["MAX_BODY_BYTES"]
    response = post(client, b"#" * (limit + 1), accept="application/json")
    assert response.status_code == 413
    assert json.loads(response.data)["detail"] == f"The request body is over the {limit}-byte limit."


@pytest.mark.parametrize(("content_type", "data", "where"), [
    ("text/turtle", b"<http://e.org/s> <http://e.org/p> <http://e.org/o> .\n"
     b"<http://e.org/s> <http://e.org/p> .",
     "the request body:2:"),
    ("application/n-triples", b"<http://e.org/s> <http://e.org/p> \"x .\n", "the request body"),
    ("application/ld+json", b'{"@id": "http://e.org/s",\n "http://e.org/p": }', "the request body:2:"),
])
def test_a_body_that_does_not_parse_is_400_with_where(client, content_type, data, where):
    response = post(client, data, content_type, accept="application/json")
    assert response.status_code == 400
    assert json.loads(response.data)["detail"].startswith(where)


@pytest.mark.parametrize(("accept", "query", "status"), [
    ("image/png", "", 406), ("text/turtle;q=x", "", 400), ("*/*", "?format=csv", 406),
    ("*/*", "?graph=not an iri", 400), ("*/*", "?graph=default&default", 400),
    ("*/*", "?target=a&target=b", 400),
])
def test_requests_that_cannot_be_answered_say_why(client, accept, query, status):
    response = post(client, body(forbes_graph(), "turtle"), accept=accept, query=query)
    assert response.status_code == status
    assert response.get_data(as_text=True).strip()


@pytest.mark.parametrize(("name", "media_type"), [
    ("ttl", "text/turtle"), ("turtle", "text/turtle"), ("jsonld", "application/ld+json"),
    ("rdf", "application/rdf+xml"), ("nt", "application/n-triples"), ("html", "text/html"),
    ("json", "application/json"), ("application/ld+json", "application/ld+json"), ("trig", None),
])
def test_format_names_the_report_format_as_the_format_table_does(client, name, media_type):
    query = f"?format={quote(name, safe='')}&target=x:y"
    response = post(client, body(forbes_graph(), "turtle"), accept="*/*", query=query)
    if media_type is None:
        assert response.status_code == 406
    else:
        assert response.status_code == 200, response.data[:300]
        assert response.headers["Content-Type"].split(";")[0] == media_type


def test_get_is_405_and_options_is_cors(client):
    response = client.get("/shacl")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"
    preflight = client.options("/shacl")
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


# ---------------------------------------------------------------- hostile bodies


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY a "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
<rdf:Description rdf:about="http://example.org/s"><ex:p>&g;</ex:p></rdf:Description></rdf:RDF>"""


def xxe(path):
    return f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file://{path}">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
<rdf:Description rdf:about="http://example.org/s"><ex:p>&secret;</ex:p></rdf:Description></rdf:RDF>""".encode()


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections.append(connection.recv(4096))
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.socket.close()


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


def reaching(port):
    """Bodies that would reach 127.0.0.1:port if anything fetched: (query, content type, body, reason)."""
    url = f"http://127.0.0.1:{port}/x"
    service = (PREFIXES + f'<https://example.org/s> a sh:NodeShape ; sh:targetClass msc:Study ;\n'
               f'  sh:sparql [ sh:select """SELECT $this WHERE {{ SERVICE <{url}> {{ ?a ?b ?c }} }}""" ] .')
    escaped = service.replace("SERVICE", "\\\\u0053ERVICE")
    graph_from = (PREFIXES + f'<https://example.org/s> a sh:NodeShape ; sh:targetClass msc:Study ;\n'
                  f'  sh:sparql [ sh:select """SELECT $this FROM <{url}> WHERE {{ $this ?p ?o }}""" ] .')
    return [
        ("", "application/ld+json", json.dumps({"@context": url, "@id": "https://example.org/s"}).encode(),
         "fetches nothing"),
        ("", "application/ld+json", json.dumps({"@context": {"@import": url}}).encode(), "@import"),
        ("?graph=default", "text/turtle", service.encode(), "SERVICE"),
        ("?graph=default", "text/turtle", escaped.encode(), "SERVICE"),
        ("?graph=default", "text/turtle", graph_from.encode(), "FROM"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_nothing_posted_reaches_out(client, listener, case):
    query, content_type, data, reason = reaching(listener.port)[case]
    response = post(client, data, content_type, accept="application/json", query=query)
    assert response.status_code == 400
    assert reason in json.loads(response.data)["detail"]
    time.sleep(0.3)  # a fetch, had one started, would have connected by now
    assert listener.connections == []


def test_an_entity_bomb_and_an_external_entity_are_refused_and_leak_nothing(client, tmp_path):
    secret = secrets.token_hex(16)
    path = tmp_path / "secret.txt"
    path.write_text(secret, encoding="utf-8")
    for data in (BOMB, xxe(path)):
        for query in ("", "?graph=default"):
            response = post(client, data, "application/rdf+xml", accept="application/json", query=query)
            assert response.status_code == 400
            assert "DOCTYPE" in json.loads(response.data)["detail"]
            assert secret not in response.get_data(as_text=True)


SHAPE_FAULTS = [
    "sh:property [ sh:path dcterms:title ; sh:pattern \"(\" ]",
    "sh:property [ sh:path dcterms:title ; sh:minCount \"x\" ]",
    "sh:property [ sh:path \"title\" ; sh:minCount 1 ]",
    "sh:property [ sh:path [ sh:inversePath \"x\" ] ; sh:minCount 1 ]",
    "sh:property [ sh:path dcterms:title ; sh:minLength -1 ]",
    "sh:or \"x\"",
    "sh:sparql [ sh:select \"SELECT $this WHERE { oops\" ]",
    "sh:sparql [ sh:select \"SELECT $this WHERE { $this undeclared:p ?o }\" ]",
    "sh:sparql [ sh:select \"SELECT $this WHERE { GRAPH ?g { $this ?p ?o } }\" ]",
    "sh:sparql [ sh:select \"DELETE WHERE { ?a ?b ?c }\" ]",
    "sh:node <https://example.org/s> ; sh:property [ sh:path msc:outcome ; sh:node <https://example.org/s> ]",
]


@pytest.mark.parametrize("fault", SHAPE_FAULTS)
def test_broken_shapes_get_a_400_or_a_report_never_a_500(app, client, fault):
    shapes = PREFIXES + f"<https://example.org/s> a sh:NodeShape ; sh:targetClass msc:Study ; {fault} ."
    before = app.extensions["kg.pool"].idle
    response = post(client, shapes.encode(), accept="application/json", query="?graph=default")
    assert response.status_code in (200, 400), response.data
    assert not NO_TRACE.search(response.get_data(as_text=True))
    assert app.extensions["kg.pool"].idle == before  # the worker answered; it did not die


@pytest.mark.parametrize(("content_type", "data"), [
    ("text/turtle", b"\xff\xfe not utf-8"), ("text/turtle", b"[" * 100_000),
    ("application/ld+json", b"[" * 100_000 + b"]" * 100_000), ("application/n-triples", b"\x00" * 100),
    ("application/rdf+xml", b"<rdf:RDF"), ("application/trig", b"{ { {"), ("text/turtle", b""),
])
def test_garbage_data_never_gets_a_500(client, content_type, data):
    response = post(client, data, content_type, accept="text/html")
    assert response.status_code in (200, 400)
    assert not NO_TRACE.search(response.get_data(as_text=True))


def test_hostile_text_in_a_report_page_stays_text(client):
    hostile = "<script>alert(1)</script>"
    data = PREFIXES + f'<{config.BASE}study/hostile> a msc:Study ; dcterms:title "{hostile}"@en .'
    page = post(client, data.encode(), accept="text/html").get_data(as_text=True)
    assert "Does not conform" in page
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---------------------------------------------------------------- over real HTTP


CARTESIAN = PREFIXES + """<https://example.org/s> a sh:NodeShape ; sh:targetClass msc:Study ;
  sh:sparql [ sh:select \"\"\"SELECT $this WHERE {
    $this a <https://w3id.org/msc-kg/ontology#Study> . ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }\"\"\" ] ."""


TIMEOUT = 10  # seconds: the default limit, which a validation of the seed data fits on a busy machine


@pytest.fixture(scope="module")
def server():
    with running_server("--timeout", str(TIMEOUT)) as address:
        yield address


def live_post(server, data, content_type, query="", headers=None):
    return request(server, "POST", "/shacl" + query, body=data,
                   headers={"Content-Type": content_type, "Accept": "application/json", **(headers or {})})


def test_live_the_attacks_are_refused_and_the_server_lives_on(server, tmp_path):
    secret = secrets.token_hex(16)
    (tmp_path / "secret.txt").write_text(secret, encoding="utf-8")
    found = Listener()
    try:
        attacks = [("", "application/rdf+xml", BOMB),
                   ("", "application/rdf+xml", xxe(tmp_path / "secret.txt"))]
        attacks += [(q, t, d) for q, t, d, _ in reaching(found.port)]
        for query, content_type, data in attacks:
            status, headers, answer = live_post(server, data, content_type, query)
            assert status == 400, answer
            assert headers["content-type"].startswith("application/json")
            assert secret.encode() not in answer and not NO_TRACE.search(answer.decode())
        time.sleep(0.3)
        assert found.connections == []
    finally:
        found.close()
    status, _, answer = live_post(server, body(forbes_graph(), "turtle"), "text/turtle")
    assert status == 200 and json.loads(answer)["conforms"] is True


def test_live_a_slow_validation_is_stopped_and_others_are_served(server):
    slow = {}

    def validate():
        started = time.monotonic()
        slow["answer"] = live_post(server, CARTESIAN.encode(), "text/turtle", "?graph=default")
        slow["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=validate)
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.is_alive(), "the validation was to be still running"
        # Another client: the validating one holds a worker, so admission keeps the last one for others.
        status, _, answer = request(server, "GET", "/sparql?query=ASK%7B%7D",
                                    headers={"Accept": "application/json"}, source="127.0.0.2")
        assert status == 200 and json.loads(answer)["boolean"] is True
    finally:
        thread.join(60)
    status, headers, answer = slow["answer"]
    assert status == 503, answer
    assert headers["retry-after"] and f"{TIMEOUT}-second limit".encode() in answer
    assert slow["seconds"] < TIMEOUT + 30  # stopped by the limit, not by running out of work


def test_live_a_chunked_body_over_the_limit_is_413(server):
    chunks = (b"#" * 65536 for _ in range(20))  # 1.25 MiB, no Content-Length
    status, _, answer = live_post(server, chunks, "text/turtle")
    assert status == 413
    assert b"byte limit" in answer

