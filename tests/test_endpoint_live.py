"""Limits and leaks over real HTTP, against serve.py on 127.0.0.1."""

import json
import socket
import threading
import time
import urllib.parse

import pytest

from tests.live import request, running_server

CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    """A server on a 50,000-triple graph, with a 2-second query limit."""
    path = tmp_path_factory.mktemp("big") / "chain.nt"
    triple = "<https://example.org/n{}> <https://example.org/next> <https://example.org/n{}> .\n"
    path.write_text("".join(triple.format(i, i + 1) for i in range(50_000)), encoding="utf-8")
    with running_server("--data", path, "--timeout", "2", "--workers", "2", "--no-validate") as server:
        yield server


def get(server, query, accept="application/sparql-results+json", source=None, **params):
    path = "/sparql?" + urllib.parse.urlencode({"query": query, **params})
    return request(server, "GET", path, headers={"Accept": accept}, source=source)


def test_a_cartesian_product_is_stopped_on_time_while_a_second_client_is_served(big_server):
    slow = {}

    def run_slow():
        began = time.monotonic()
        slow["status"], _, slow["body"] = get(big_server, CARTESIAN)
        slow["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(0.3)
    began = time.monotonic()
    # Another address: one client never holds every worker (kg/web/admission.py).
    status, _, body = get(big_server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", source="127.0.0.2")
    quick = time.monotonic() - began
    thread.join(10)
    assert status == 200 and json.loads(body)["results"]["bindings"][0]["n"]["value"] == "50000"
    assert quick < 1.0, f"the second client waited {quick:.2f} s"
    assert slow["status"] == 503
    assert slow["seconds"] < 3.0, f"the limit fired after {slow['seconds']:.2f} s"
    assert b"2-second limit" in slow["body"]
    # The killed worker is replaced: the server goes on answering.
    assert get(big_server, "ASK {}")[0] == 200


def both_workers_answer(server, seconds=30):
    """Wait until two queries at once are both answered: every killed worker has been replaced."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers = []

        def ask(into=answers):
            into.append(get(server, "ASK {}", timeout="1")[0])

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if answers == [200, 200]:
            return
        time.sleep(0.2)
    raise AssertionError("the worker pool did not heal")


def test_a_request_may_lower_the_limit_but_not_raise_it(big_server):
    both_workers_answer(big_server)
    began = time.monotonic()
    status, headers, _ = get(big_server, CARTESIAN, timeout="0.5")
    assert status == 503 and time.monotonic() - began < 1.5
    assert headers.get("retry-after")
    both_workers_answer(big_server)
    began = time.monotonic()
    status, _, body = get(big_server, CARTESIAN, timeout="60")
    assert status == 503 and time.monotonic() - began < 3.0
    assert b"2-second limit" in body


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "declared-length"])
def test_a_body_over_the_limit_is_refused_whole(big_server, chunked):
    query = "ASK {} #" + "x" * (2 * 1024 * 1024)
    payload = query.encode()
    body = (payload[i:i + 65536] for i in range(0, len(payload), 65536)) if chunked else payload
    status, _, answer = request(big_server, "POST", "/sparql", body,
                                {"Content-Type": "application/sparql-query", "Accept": "text/plain"})
    assert status == 413
    assert b"limit" in answer


def test_a_chunked_body_within_the_limit_is_read_whole(big_server):
    payload = ("ASK { <https://example.org/n1> ?p ?o } #" + "x" * 200_000).encode()
    chunks = (payload[i:i + 4096] for i in range(0, len(payload), 4096))
    status, _, answer = request(big_server, "POST", "/sparql", chunks,
                                {"Content-Type": "application/sparql-query"})
    assert status == 200 and json.loads(answer)["boolean"] is True


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection attempt and answers none."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self):
        self.running = False
        self.thread.join(2)
        self.socket.close()


@pytest.fixture(scope="module", params=["oxigraph", "memory"])
def server(request):
    with running_server("--timeout", "5", "--store", request.param) as server:
        yield server


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


def hostile_queries(url, secret_iri):
    return [
        ("query", f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"),
        ("query", f"SELECT * WHERE {{ ?s ?p ?o OPTIONAL {{ SERVICE SILENT <{url}> {{ ?s ?q ?r }} }} }}"),
        ("query", f"SELECT * WHERE {{ {{ SELECT ?s WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }} }}"),
        ("query", f"ASK {{ FILTER EXISTS {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}"),
        ("query", f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}"),
        ("query", f"SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}"),
        ("query", f"SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"),
        ("query", f"SELECT * FROM <{secret_iri}> WHERE {{ ?s ?p ?o }}"),
        ("query", f"SELECT * FROM NAMED <{secret_iri}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"),
        ("query", f"LOAD <{secret_iri}>"),
        ("query", f"DESCRIBE <{url}>"),
        ("default-graph-uri", secret_iri),
        ("named-graph-uri", url),
    ]


def test_queries_never_reach_the_network_or_the_file_system(server, listener, tmp_path):
    secret = tmp_path / "secret.ttl"
    token = "do-not-leak-7c1e"
    secret.write_text(f'<https://example.org/s> <https://example.org/p> "{token}" .\n', encoding="utf-8")
    url = f"http://127.0.0.1:{listener.port}/sparql"
    for name, value in hostile_queries(url, secret.as_uri()):
        params = {name: value} if name == "query" else {name: value, "query": "SELECT * WHERE { ?s ?p ?o }"}
        status, _, body = request(server, "GET", "/sparql?" + urllib.parse.urlencode(params))
        assert status in (200, 400, 403), (value, status)
        assert token.encode() not in body, value
        assert b"Traceback" not in body
    time.sleep(0.5)
    assert listener.connections == 0


@pytest.mark.parametrize("keyword", ["SERVICE", "SERVICE SILENT"])
def test_service_is_refused_with_a_clear_message(server, listener, keyword):
    query = f"SELECT * WHERE {{ {keyword} <http://127.0.0.1:{listener.port}/> {{ ?s ?p ?o }} }}"
    status, _, body = get(server, query, accept="text/plain")
    assert status == 400
    assert b"SERVICE is refused" in body
