"""Denial of service over real HTTP: each costly request is stopped by a limit with a clear status
and problem body, within a generous bound, while a second client is served meanwhile.

The server has two workers, a 2-second time limit and a graph made for attacks: a 50,000-node
chain (for property paths), and a long literal of a's (for REGEX backtracking).
"""

import json
import socket
import threading
import time
import urllib.parse

import pytest

from tests.live import request, running_server, wait_for_idle

ATTACKER, OTHER = "127.0.0.1", "127.0.0.2"
EX = "https://example.org/"
CHAIN = 50_000
LONG = "a" * 30_000 + "!"
PROBLEM = "application/sparql-results+json, application/problem+json;q=0.5"
CHEAP = f"ASK {{ <{EX}n1> <{EX}next> <{EX}n2> }}"
MB5 = 5 * 1024 * 1024
PRODUCT = "?a ?b ?c . ?d ?e ?f . ?g ?h ?i"


@pytest.fixture(scope="module")
def attack_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("dos") / "attack.nt"
    lines = [f"<{EX}n{i}> <{EX}next> <{EX}n{i + 1}> .\n" for i in range(CHAIN)]
    lines += [f"<{EX}n{i}> <{EX}other> <{EX}n{i + 7}> .\n" for i in range(0, CHAIN, 1000)]
    lines.append(f'<{EX}s> <{EX}text> "{LONG}" .\n')
    path.write_text("".join(lines), encoding="utf-8")
    return path


def start(data, store):
    # The attacker's own budget is not what this module tests (tests/test_admission.py does).
    return running_server("--data", data, "--store", store, "--timeout", "2", "--workers", "2",
                          "--no-validate", env={"MSC_KG_CLIENT_BUDGET": "1000"})


@pytest.fixture(scope="module")
def server(attack_data):
    with start(attack_data, "oxigraph") as server:
        yield server


@pytest.fixture(scope="module")
def memory_server(attack_data):
    with start(attack_data, "memory") as server:
        yield server


def get(server, query, source=ATTACKER, timeout=30):
    path = "/sparql?" + urllib.parse.urlencode({"query": query})
    return request(server, "GET", path, headers={"Accept": PROBLEM}, timeout=timeout, source=source)


def while_served(server, attack, bound):
    """Run attack() (returning status, headers, body) while a second client asks a cheap query;
    check the second client got its answer quickly; return the attack's (status, problem, seconds)."""
    wait_for_idle(server)
    outcome = {}

    def run():
        began = time.monotonic()
        outcome["answer"] = attack()
        outcome["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    began = time.monotonic()
    status, _, body = get(server, CHEAP, source=OTHER, timeout=10)
    quick = time.monotonic() - began
    thread.join(bound + 10)
    assert not thread.is_alive(), "the attack hung"
    assert status == 200 and json.loads(body)["boolean"] is True
    assert quick < 1.5, f"the second client waited {quick:.2f} s"
    status, headers, body = outcome["answer"]
    assert outcome["seconds"] < bound, f"the limit fired after {outcome['seconds']:.2f} s"
    assert b"Traceback" not in body
    if headers.get("content-type", "").startswith("application/problem+json"):
        problem = json.loads(body)
        assert problem["status"] == status
        return status, problem["detail"], outcome["seconds"]
    return status, body.decode(errors="replace"), outcome["seconds"]


TIME_LIMIT = "ran past its 2-second limit"

QUERIES = {
    "cartesian product": (f"SELECT (COUNT(*) AS ?n) WHERE {{ {PRODUCT} }}", TIME_LIMIT),
    "alternative path star": (f"SELECT (COUNT(*) AS ?n) WHERE {{ ?x (<{EX}next>|<{EX}other>)* ?y }}",
                              TIME_LIMIT),
    "huge offset": (f"SELECT * WHERE {{ {PRODUCT} }} OFFSET 1000000000000", TIME_LIMIT),
    "order by over a product": (f"SELECT * WHERE {{ {PRODUCT} }} ORDER BY ?c ?f ?i LIMIT 1", TIME_LIMIT),
    "deeply nested groups": ("SELECT * WHERE " + "{" * 5000 + "}" * 5000, "nests groups"),
    "deeply nested expressions": ("ASK { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }", "nests groups"),
}


@pytest.mark.parametrize("name", QUERIES)
def test_a_costly_query_is_stopped_while_another_client_is_served(server, name):
    query, detail = QUERIES[name]
    status, message, _ = while_served(server, lambda: get(server, query), bound=4)
    assert status in (400, 503), (status, message)
    assert detail in message


MEMORY_LIMIT = 600 * 1024 ** 2


@pytest.fixture(scope="module")
def small_worker_server(attack_data):
    # A time limit far beyond what the query below needs to fill the memory limit, so that only the
    # memory limit can stop it within the test's bound.
    with running_server("--data", attack_data, "--timeout", "60", "--workers", "2", "--no-validate",
                        env={"MSC_KG_CLIENT_BUDGET": "1000",
                             "MSC_KG_WORKER_MEMORY_BYTES": str(MEMORY_LIMIT)}) as server:
        yield server


def test_a_query_past_the_worker_memory_limit_loses_its_worker_not_the_server(small_worker_server):
    # One string of every pair of subjects: gigabytes long, were it ever finished.
    query = ("SELECT (STRLEN(GROUP_CONCAT(CONCAT(STR(?a), STR(?b)))) AS ?n) "
             f"WHERE {{ ?a <{EX}next> ?x . ?b <{EX}next> ?y }}")
    status, message, seconds = while_served(small_worker_server, lambda: get(small_worker_server, query),
                                            bound=30)
    assert status == 500, (status, message)
    assert "ran out of memory" in message and "replaced" in message
    wait_for_idle(small_worker_server)
    status, _, body = get(small_worker_server, CHEAP)
    assert status == 200 and json.loads(body)["boolean"] is True


@pytest.mark.parametrize("store", ["oxigraph", "memory"])
def test_a_catastrophic_regex_is_answered_or_stopped(server, memory_server, store):
    # oxigraph's regex engine runs in linear time and answers; rdflib's backtracks, and the time
    # limit stops it.
    target = server if store == "oxigraph" else memory_server
    query = f'SELECT ?s WHERE {{ ?s <{EX}text> ?t FILTER REGEX(?t, "^(a+)+$") }}'
    status, message, _ = while_served(target, lambda: get(target, query), bound=4)
    if status == 200:
        assert json.loads(message)["results"]["bindings"] == []
    else:
        assert status == 503 and TIME_LIMIT in message


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "chunked"])
def test_a_5_mb_query_body_is_refused(server, chunked):
    payload = ("ASK {} #" + "x" * MB5).encode()
    body = (payload[i:i + 65536] for i in range(0, len(payload), 65536)) if chunked else payload

    def attack():
        return request(server, "POST", "/sparql", body, source=ATTACKER, timeout=30,
                       headers={"Content-Type": "application/sparql-query", "Accept": PROBLEM})

    status, message, _ = while_served(server, attack, bound=10)
    assert status == 413 and "limit" in message


def raw_get(server, target):
    """Send a GET with this request target over a plain socket; read the answer even when the
    server answers before the request is all sent. (status, body)."""
    data = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(server, timeout=20, source_address=(ATTACKER, 0)) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and stopped reading
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), {}, body


@pytest.mark.parametrize("size", [300 * 1024, MB5], ids=["300 KB", "5 MB"])
def test_a_long_query_in_the_url_is_refused(server, size):
    target = "/sparql?query=" + urllib.parse.quote("ASK {} #" + "x" * size)
    status, message, _ = while_served(server, lambda: raw_get(server, target), bound=10)
    assert status == 414, message
    assert "too long" in message.lower() or "limit" in message
