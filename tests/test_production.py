"""The documented production command (gunicorn, one process with threads) keeps every limit."""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import pytest

from kg.web.app import from_environment
from tests.live import ROOT, free_port, request, wait_for_idle

CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@contextlib.contextmanager
def gunicorn(environment):
    port = free_port()
    log = tempfile.TemporaryFile()
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8",
               "--limit-request-line", "8190", "--bind", f"127.0.0.1:{port}", "kg.web.app:create_app()"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **environment})
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError):
                if request(("127.0.0.1", port), "GET", "/health")[0] == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"gunicorn did not start: {log.read().decode(errors='replace')}")
            time.sleep(0.2)
        yield process, ("127.0.0.1", port)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(15)
        log.close()


@pytest.fixture(scope="module")
def server():
    with gunicorn({"MSC_KG_QUERY_TIMEOUT": "2", "MSC_KG_WORKERS": "2"}) as (_, server):
        yield server


def test_it_answers_queries_and_pages(server):
    status, _, body = request(server, "GET", "/sparql?query=" + urllib.parse.quote("ASK { ?s a msc:Study }"))
    assert status == 200 and json.loads(body)["boolean"] is True
    assert request(server, "GET", "/study/forbes-2014", headers={"Accept": "text/html"})[0] == 200


def test_the_time_limit_fires_and_health_answers_meanwhile(server):
    result = {}

    def slow():
        began = time.monotonic()
        result["status"], _, _ = request(server, "GET", "/sparql?query=" + urllib.parse.quote(CARTESIAN))
        result["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    assert request(server, "GET", "/health")[0] == 200
    thread.join(10)
    assert result["status"] == 503 and result["seconds"] < 3.0


@pytest.mark.parametrize(("length", "status"), [(8000, 200), (9000, 414)])
def test_the_request_line_holds_8190_bytes_and_a_longer_query_goes_by_post(server, length, status):
    wait_for_idle(server)  # a worker killed by an earlier test comes back
    # Spaces travel as "+", one byte each: the request line is exactly length bytes long.
    query = "ASK {}" + " " * (length - len("GET /sparql?query=ASK+%7B%7D HTTP/1.1"))
    path = "/sparql?" + urllib.parse.urlencode({"query": query})
    assert len(f"GET {path} HTTP/1.1") == length
    assert request(server, "GET", path, headers={"Accept": "application/sparql-results+json"})[0] == status
    posted = request(server, "POST", "/sparql", body=query.encode(),
                     headers={"Content-Type": "application/sparql-query",
                              "Accept": "application/sparql-results+json"})
    assert posted[0] == 200 and json.loads(posted[2])["boolean"] is True


def test_a_chunked_body_over_the_limit_is_refused(server):
    payload = ("ASK {} #" + "x" * (2 * 1024 * 1024)).encode()
    chunks = (payload[i:i + 65536] for i in range(0, len(payload), 65536))
    status, _, _ = request(server, "POST", "/sparql", chunks, {"Content-Type": "application/sparql-query"})
    assert status == 413


def test_settings_come_from_the_environment():
    assert from_environment({"MSC_KG_QUERY_TIMEOUT": "2.5", "MSC_KG_DATA_FILES": "a.ttl,b.ttl"}) == {
        "QUERY_TIMEOUT": 2.5, "DATA_FILES": ["a.ttl", "b.ttl"]}


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    # 6,000 triples: a COUNT over the product of two patterns takes a few seconds and finishes.
    chain = tmp_path / "chain.nt"
    triple = "<https://example.org/n{}> <https://example.org/next> <https://example.org/n{}> .\n"
    chain.write_text("".join(triple.format(i, i + 1) for i in range(6000)), encoding="utf-8")
    product = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d }"
    settings = {"MSC_KG_DATA_FILES": str(chain), "MSC_KG_QUERY_TIMEOUT": "30", "MSC_KG_WORKERS": "1"}
    with gunicorn(settings) as (process, server):
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.update(answer=request(
            server, "GET", "/sparql?query=" + urllib.parse.quote(product), timeout=60)))
        thread.start()
        wait_for_idle(server, 0, 10, "the query never reached the worker")
        process.terminate()
        assert thread.is_alive(), "the query finished before it could be drained; make it longer"
        thread.join(40)
        status, _, body = outcome["answer"]
        assert status == 200
        assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == str(6000 * 6000)
        assert process.wait(40) == 0
