"""Faults: data that does not parse or conform stops serve.py, a worker killed mid-query is reported
and replaced, and SIGTERM lets the requests in flight finish."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from kg import dataset
from tests.live import ROOT, free_port, request, server_process

CHAIN = "<https://example.org/n{}> <https://example.org/next> <https://example.org/n{}> .\n"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def serve(*args, timeout=90):
    """Run serve.py to its end: (exit status, everything it wrote)."""
    command = [sys.executable, str(ROOT / "serve.py"), "--port", str(free_port()), *map(str, args)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


# Validated (rdflib parses the files), or straight into the store of the workers.
@pytest.mark.parametrize("options", [[], ["--no-validate"], ["--no-validate", "--store", "memory"]],
                         ids=["validated", "oxigraph", "memory"])
@pytest.mark.parametrize(("name", "text", "where"), [
    ("bad.ttl", '@prefix ex: <https://example.org/> .\nex:a ex:b ex:c .\nex:d ex:e "open .\n', ":3:"),
    ("bad.nt", "<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n"
               "<https://example.org/a> <https://example.org/b> .\n", ":2:"),
])
def test_a_file_that_does_not_parse_stops_the_server_naming_file_line_and_column(tmp_path, name, text,
                                                                                  where, options):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    status, output = serve("--data", path, *options)
    assert status == 2, output
    # file:line:column, then the parser's message.
    line = next(line for line in output.splitlines() if f"{path}{where}" in line)
    assert line.split(f"{path}{where}")[1].split(":")[0].isdigit(), line
    assert "Traceback" not in output


def without_title(tmp_path):
    """The default data, with one study's title taken out: a violation of the study shape."""
    study = ROOT / "data" / "studies" / "forbes-2014.ttl"
    broken = tmp_path / "forbes-2014.ttl"
    broken.write_text("".join(line for line in study.read_text(encoding="utf-8").splitlines(keepends=True)
                              if "dcterms:title" not in line), encoding="utf-8")
    return [f for f in dataset.default_files() if Path(f) != study] + [broken], broken


def test_data_that_does_not_conform_stops_the_server_with_the_report(tmp_path):
    files, broken = without_title(tmp_path)
    status, output = serve("--data", *files)
    assert status == 1, output
    assert f"in {broken}" in output
    assert "Violation  dcterms:title  A study needs exactly one title" in output
    assert "does not conform to the shapes (1 violation" in output and "--no-validate" in output
    assert "Warning" not in output  # warnings do not stop the server, so they are not shown
    assert "Traceback" not in output


def test_no_validate_serves_data_that_does_not_conform(tmp_path):
    files, _ = without_title(tmp_path)
    with server_process("--data", *files, "--no-validate") as (_, server, _):
        status, _, body = request(server, "GET", "/sparql?query=" + urllib.parse.quote(
            "ASK { <https://w3id.org/msc-kg/study/forbes-2014> ?p ?o }"))
        assert status == 200 and json.loads(body)["boolean"] is True


def children(pid):
    """The pids of pid's child processes, from /proc."""
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def workers(pid):
    """The query workers among pid's children (multiprocessing's resource tracker is not one)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def health(server):
    return json.loads(request(server, "GET", "/health", timeout=5)[2])


def test_a_worker_killed_mid_query_gives_a_clear_error_and_is_replaced():
    with server_process("--workers", "1", "--timeout", "20", "--no-validate") as (process, server, _):
        [worker] = workers(process.pid)
        outcome = {}

        def slow():
            began = time.monotonic()
            outcome["answer"] = request(server, "GET", "/sparql?query=" + urllib.parse.quote(SLOW),
                                        headers={"Accept": "application/problem+json"}, timeout=30)
            outcome["seconds"] = time.monotonic() - began

        thread = threading.Thread(target=slow)
        thread.start()
        wait_until(lambda: health(server)["idle_workers"] == 0, 10, "the slow query never held the worker")
        os.kill(worker, signal.SIGKILL)
        thread.join(15)
        assert not thread.is_alive(), "the client was left hanging"
        status, _, body = outcome["answer"]
        problem = json.loads(body)
        assert status == 500 and problem["status"] == 500
        assert "worker stopped" in problem["detail"] and "replaced" in problem["detail"]
        assert outcome["seconds"] < 10
        # The next query waits for the replacement and is answered.
        ask = urllib.parse.quote("ASK { ?s a msc:Study }")
        status, _, body = request(server, "GET", "/sparql?query=" + ask)
        assert status == 200 and json.loads(body)["boolean"] is True
        [replacement] = workers(process.pid)
        assert replacement != worker


@pytest.fixture
def chain(tmp_path):
    """6,000 triples: a COUNT over the product of two patterns takes a few seconds and finishes."""
    path = tmp_path / "chain.nt"
    path.write_text("".join(CHAIN.format(i, i + 1) for i in range(6000)), encoding="utf-8")
    return path


def test_sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones(chain):
    product = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d }"
    with server_process("--data", chain, "--workers", "1", "--timeout", "30", "--no-validate") as (
            process, server, log):
        outcome = {}

        def slow():
            outcome["answer"] = request(server, "GET", "/sparql?query=" + urllib.parse.quote(product),
                                        timeout=60)

        thread = threading.Thread(target=slow)
        thread.start()
        wait_until(lambda: health(server)["idle_workers"] == 0, 10, "the query never reached the worker")
        process.send_signal(signal.SIGTERM)
        refused = False
        deadline = time.monotonic() + 5
        while not refused and time.monotonic() < deadline:
            try:
                socket.create_connection(server, timeout=1).close()
                time.sleep(0.05)
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the connection was still in the backlog when the listening socket closed.
                refused = True
        assert refused, "the server still accepted connections after SIGTERM"
        assert thread.is_alive(), "the query finished before it could be drained; make it longer"
        thread.join(40)
        status, _, body = outcome["answer"]
        assert status == 200
        assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == str(6000 * 6000)
        assert process.wait(10) == 0
        log.seek(0)
        output = log.read().decode(errors="replace")
        assert "waiting for 1 request(s) in flight" in output, output
        assert "Traceback" not in output
