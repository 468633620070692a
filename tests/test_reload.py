"""A reload (SIGHUP to the server) serves the files as they are now; a reload that fails keeps
serving the last good data and logs the file and line that stopped it. Over real HTTP on 127.0.0.1,
on a copy of the data in a temporary directory."""

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest

from tests.live import ROOT, free_port, request

STUDY = "https://w3id.org/msc-kg/study/forbes-2014"
ADDED = f'<{STUDY}> <http://www.w3.org/2004/02/skos/core#altLabel> "added by hand" .\n'


def ask(server, query):
    status, _, body = request(server, "GET", "/sparql?query=" + quote(query),
                              headers={"Accept": "application/sparql-results+json"})
    assert status == 200, body
    return json.loads(body)["boolean"]


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def served(tmp_path):
    """(server, process, log path, data folder): serve.py on a copy of the data, its log in a file."""
    for name in ("ontology", "data"):
        shutil.copytree(ROOT / name, tmp_path / name)
    files = sorted(tmp_path.rglob("*.ttl"))
    port, log = free_port(), tmp_path / "server.log"
    command = [sys.executable, str(ROOT / "serve.py"), "--port", str(port), "--workers", "1",
               "--data", *map(str, files)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = ("127.0.0.1", port)
    try:
        assert wait_for(lambda: _answers(server) or process.poll() is not None, 120)
        assert process.poll() is None, log.read_text()
        yield server, process, log, tmp_path
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(server):
    try:
        return request(server, "GET", "/health", timeout=2)[0] == 200
    except OSError:
        return False


def test_a_failed_reload_keeps_the_last_good_data_and_a_good_one_serves_the_new(served):
    server, process, log, folder = served
    study = folder / "data" / "studies" / "forbes-2014.ttl"
    good = study.read_text(encoding="utf-8")
    assert ask(server, f"ASK {{ <{STUDY}> a msc:Study }}")

    study.write_text(good + ADDED + "<broken\n", encoding="utf-8")
    process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: b"reload failed" in log.read_bytes()), log.read_text()
    message = log.read_text(encoding="utf-8")
    assert "forbes-2014.ttl" in message and f":{len((good + ADDED).splitlines()) + 1}" in message
    assert ask(server, f"ASK {{ <{STUDY}> a msc:Study }}"), "the last good data is no longer served"
    assert not ask(server, 'ASK { ?s skos:altLabel "added by hand" }')

    study.write_text(good + ADDED, encoding="utf-8")
    process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: ask(server, 'ASK { ?s skos:altLabel "added by hand" }')), log.read_text()
    assert ask(server, f"ASK {{ <{STUDY}> a msc:Study }}")
    assert process.poll() is None


def start(_):
    return None


def slow(state, job):
    time.sleep(job)
    return f"slept {job}"


def test_a_retired_pool_finishes_its_running_query_and_hands_new_ones_to_its_successor():
    from kg.workers import WorkerPool

    old, new = WorkerPool(start, (None,), slow, size=1), WorkerPool(start, (None,), slow, size=1)
    try:
        answers = []
        reader = threading.Thread(target=lambda: answers.append(old.run(1.5, timeout=30)))
        reader.start()
        assert wait_for(lambda: old.idle == 0, 10)
        old.retire(new)
        assert old.run(0, timeout=30) == "slept 0"  # served by the successor while the old one works
        reader.join(30)
        assert answers == ["slept 1.5"], "the running query was killed by the reload"
        assert wait_for(lambda: not old._workers, 10), "the retired pool did not close"
    finally:
        old.close()
        new.close()
