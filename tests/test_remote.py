"""The sparql: store against a real `oxigraph serve`, and against small HTTP servers of our own that
fail on purpose: kg load, what is sent, 502 and 504, and recovery once the server is back.

The endpoint, page and store tests run on this store too (tests/conftest.py); these are the tests
only a remote server calls for.
"""

import http.server
import json
import threading
import time
from urllib.parse import urlencode

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kg.cli import main
from kg.dataset import default_files, graph_name, parse_file
from kg.errors import QueryError
from kg.remote import RemoteStore
from kg.remote_http import call
from kg.store import open_store
from kg.web.app import close_app, create_app
from tests.live import free_port
from tests.remote import OxigraphServer, oxigraph_server

ASK = "/sparql?" + urlencode({"query": "ASK { ?s a msc:Study }"})
UNION = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
PROBLEM = {"Accept": "application/problem+json"}
STUDY = "/study/forbes-2014"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- kg load


def test_kg_load_puts_each_file_in_its_graph_and_their_merge_in_the_default_graph(remote):
    for path in default_files():
        status, _, body = call("GET", f"{remote.graph_store}?graph={graph_name(path)}", 10,
                               headers={"Accept": "application/n-triples"})
        assert status == 200
        assert isomorphic(Graph().parse(data=body, format="nt"), parse_file(path)), path
    status, _, body = call("GET", f"{remote.graph_store}?default", 10,
                           headers={"Accept": "application/n-triples"})
    union = open_store("oxigraph").query(UNION).rows[0][0]
    assert len(Graph().parse(data=body, format="nt")) == int(union)


def test_kg_load_says_what_it_loaded_and_what_it_left(capsys, tmp_path, turtle):
    first = turtle("first.ttl", "<urn:a> <urn:p> <urn:b> .\n")
    second = turtle("second.ttl", "<urn:c> <urn:p> 1 .\n")
    with oxigraph_server(tmp_path / "db", load=False) as server:
        code, out, err = run(capsys, "load", "--into", server.query_url, str(first), str(second))
        assert (code, err) == (0, "")
        assert out.splitlines()[:2] == [f"{graph_name(first)}\t1 triples", f"{graph_name(second)}\t1 triples"]
        code, out, err = run(capsys, "load", "--into", server.store, str(first))
        assert code == 0 and "not among these files" in err and str(graph_name(second)) in err
        assert open_store(server.store).graph_sizes() == {graph_name(first): 1, graph_name(second): 1}


class Misbehaving(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that answers as self.behaviour says: see Handler."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up on a slow answer closed the socket under the handler: expected here

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour, self.puts = "error", 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/query"
        threading.Thread(target=self.serve_forever, daemon=True).start()


ANSWERS = {"error": (500, b"boom: the disk is full\nsecond line"), "refuse": (400, b"unsupported"),
           "garbage": (200, b"<html>not results</html>")}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        behaviour = self.server.behaviour
        if behaviour == "silent":
            time.sleep(4)  # past the 1.6 s each call may take, bounded so the thread ends
            return
        if behaviour == "trickle":
            # Headers at once, then one byte at a time: no single read waits long, the whole does.
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.end_headers()
            for _ in range(16):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.25)
            return
        status, body = ANSWERS[behaviour]
        self.send_response(status)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        # The first PUT is taken, every later one fails: a load that breaks off half-way.
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.puts += 1
        self.send_response(201 if self.server.puts == 1 else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def misbehaving():
    server = Misbehaving()
    yield server
    server.shutdown()
    server.server_close()


def test_kg_load_that_breaks_off_says_which_graphs_it_had_replaced(capsys, misbehaving):
    misbehaving.puts = 0
    code, out, err = run(capsys, "load", "--into", misbehaving.url)
    first, size = sorted(open_store("oxigraph").graph_sizes().items())[0]
    assert code == 2
    assert out == f"{first}\t{size} triples\n"
    assert "refused the data: it answered 503" in err
    assert "1 graph(s) were replaced before this" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--into", "http://127.0.0.1:{closed}/query"], "is unreachable"),
        (["--into", "{remote}", "--graph-store", "{remote_root}/nothing"], "refused the data: it answered 4"),
        (["--into", "ftp://127.0.0.1/query"], "must be an http(s) URL"),
        (["--into", "http://127.0.0.1:{closed}/sparql"], "give --graph-store"),
        (["--into", "{remote}", "--timeout", "0"], "must be above 0"),
    ],
    ids=["unreachable", "graph-store-404", "not-http", "graph-store-unknown", "bad-timeout"],
)
def test_kg_load_errors_exit_2_with_a_message(capsys, remote, argv, message):
    values = {"closed": free_port(), "remote": remote.query_url,
              "remote_root": remote.query_url.rsplit("/", 1)[0]}
    before = open_store(remote.store).graph_sizes()
    code, out, err = run(capsys, "load", *(a.format(**values) for a in argv))
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err
    assert open_store(remote.store).graph_sizes() == before


# ---------------------------------------------------------------- what is sent


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }",
    "INSERT DATA { <urn:a> <urn:p> 1 }",
    "LOAD <file:///etc/passwd>",
    "SELECT ?x WHERE { ?x ?y }",
    "SELECT * WHERE { ?s nosuch:p ?o }",
    "SELECT * WHERE " + "{" * 50 + "}" * 50,
])
def test_refused_queries_are_refused_before_anything_is_sent(listener, query):
    with pytest.raises(QueryError):
        RemoteStore(listener).query(query)


TRICKY = [Literal('say "hi"\\ \n\r\t back'), Literal("\\u0022 } ) # not a comment"), Literal("ünïcödé ✓"),
          Literal("text", lang="en-GB"), Literal("7", datatype=URIRef("http://www.w3.org/2001/XMLSchema#decimal")),
          URIRef("https://w3id.org/msc-kg/study/forbes-2014")]


@pytest.mark.parametrize("term", TRICKY)
def test_bound_values_arrive_as_they_are(stores, term):
    query = "SELECT ?x ?same WHERE { BIND(?x = ?x AS ?same) }"
    assert stores["sparql"].query(query, bindings={"x": term}).rows == ((term, Literal(True)),)
    assert stores["oxigraph"].query(query, bindings={"x": term}).rows == ((term, Literal(True)),)


def test_a_bound_value_is_seen_by_the_filters_of_the_where_group(stores):
    query = "SELECT ?s ?q WHERE { ?s dcterms:title ?t FILTER(CONTAINS(LCASE(?t), ?q)) } ORDER BY ?s"
    answers = {kind: store.query(query, bindings={"q": Literal("fistula")}).rows
               for kind, store in stores.items()}
    assert len(answers["sparql"]) > 0
    assert answers["sparql"] == answers["oxigraph"] == answers["memory"]


@pytest.mark.parametrize(("query", "bindings", "message"), [
    ("SELECT ?t WHERE { ?s dcterms:title ?t }", {"s": URIRef("urn:x")}, "must be in the SELECT clause"),
    ("SELECT ?s WHERE { ?s ?p ?o }", {"s": BNode()}, "blank node"),
    ("CONSTRUCT WHERE { ?s ?p ?o }", {"s": URIRef("urn:x")}, "VALUES block"),
    ("SELECT ?s WHERE { SELECT ?s WHERE { ?s ?p ?o } }", {"s": URIRef("urn:x")}, "VALUES block"),
])
def test_bindings_a_remote_server_cannot_take_are_refused_before_sending(listener, query, bindings, message):
    with pytest.raises(QueryError, match=message):
        RemoteStore(listener).query(query, bindings=bindings)


# ---------------------------------------------------------------- 502, 504 and recovery


def health(client):
    return client.get("/health", headers=PROBLEM)


def test_a_server_down_at_start_is_502_until_it_is_up(tmp_path):
    server = OxigraphServer(tmp_path / "db")
    app = create_app({"STORE": server.store, "WORKERS": 1})
    try:
        client = app.test_client()
        for path, accept in [(ASK, None), (STUDY, None), ("/health", None), ("/dumps/dataset.nq", None),
                             ("/sparql", "text/turtle")]:  # the last, the Service Description, has counts
            response = client.get(path, headers={"Accept": f"{accept}, application/problem+json;q=0.5"
                                                 if accept else PROBLEM["Accept"]})
            assert response.status_code == 502, path
            assert f"the SPARQL server at {server.query_url} is unreachable" in response.json["detail"]
        server.start()
        server.load()
        assert client.get(ASK).json["boolean"] is True
        assert health(client).json["triples"] == int(open_store("oxigraph").query(UNION).rows[0][0])
        assert client.get(STUDY, headers={"Accept": "text/html"}).status_code == 200
    finally:
        close_app(app)
        server.stop()


def test_a_server_that_stops_is_502_and_answers_again_once_restarted(tmp_path):
    with oxigraph_server(tmp_path / "db") as server:
        app = create_app({"STORE": server.store, "WORKERS": 1})
        try:
            client = app.test_client()
            assert client.get(ASK).status_code == 200
            server.stop()
            for path in (ASK, STUDY):
                assert client.get(path, headers=PROBLEM).status_code == 502
            assert health(client).status_code == 200  # counted at start, and the data is read-only
            server.start()  # the same port and directory: the data is still there
            assert client.get(ASK).json["boolean"] is True
            assert client.get(STUDY, headers={"Accept": "text/html"}).status_code == 200
        finally:
            close_app(app)


def test_the_store_and_graph_store_come_from_the_environment_too(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}/query"  # nothing listens there: the 502 names the URL used
    monkeypatch.setenv("MSC_KG_STORE", f"sparql:{url}")
    monkeypatch.setenv("MSC_KG_GRAPH_STORE", "http://127.0.0.1:1/store")
    app = create_app({"WORKERS": 1})
    try:
        assert app.config["GRAPH_STORE"] == "http://127.0.0.1:1/store"
        response = app.test_client().get(ASK, headers=PROBLEM)
        assert response.status_code == 502
        assert f"the SPARQL server at {url} is unreachable" in response.json["detail"]
    finally:
        close_app(app)


@pytest.fixture(scope="module")
def misbehaving_app(misbehaving):
    # Each call to the server may take 0.8 x 2 s: a slow server is a 504 before the worker's deadline.
    app = create_app({"STORE": f"sparql:{misbehaving.url}", "WORKERS": 1, "QUERY_TIMEOUT": 2})
    yield app
    close_app(app)


@pytest.mark.parametrize(("behaviour", "status", "message"), [
    ("silent", 504, "did not answer within 1.6 s"),
    ("trickle", 504, "did not answer within 1.6 s"),
    ("error", 502, "is unreachable: it answered 500: boom: the disk is full"),
    ("garbage", 502, "not SPARQL JSON results"),
    ("refuse", 400, "refused the query: unsupported"),
])
@pytest.mark.parametrize("path", [ASK, STUDY])
def test_a_failing_server_is_a_clear_error_and_the_worker_stays(misbehaving, misbehaving_app, behaviour,
                                                               status, message, path):
    misbehaving.behaviour = behaviour
    pool = misbehaving_app.extensions["kg.pool"]
    started = time.monotonic()
    response = misbehaving_app.test_client().get(path, headers=PROBLEM)
    assert time.monotonic() - started < 10  # does not hang
    assert response.status_code == status
    detail = json.loads(response.data)["detail"]
    assert f"the SPARQL server at {misbehaving.url}" in detail and message in detail
    assert pool.idle == pool.size
