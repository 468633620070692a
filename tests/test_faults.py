"""Faults: data that does not parse or conform stops serve.py, a worker killed mid-query is reported
and replaced, and SIGTERM lets the requests in flight finish."""

import json
import os
import re
import shutil
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
from kg.web.server import check as startup_check
from tests.live import ROOT, alive, children, free_port, request, server_process, wait_for_idle

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
    status, output = serve("--data", path, "--validation-cache", tmp_path / "cache", *options)
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
    status, output = serve("--data", *files, "--validation-cache", tmp_path / "cache")
    assert status == 1, output
    assert f"in {broken}" in output
    assert "Violation  dcterms:title  A study needs exactly one title" in output
    assert "does not conform to the shapes (1 violation" in output and "--no-validate" in output
    assert "Warning" not in output  # warnings do not stop the server, so they are not shown
    assert "Traceback" not in output


def conforming_copy(tmp_path):
    """The default data, with forbes-2014.ttl read from a copy in tmp_path that a test may change."""
    study = ROOT / "data" / "studies" / "forbes-2014.ttl"
    copy = tmp_path / "forbes-2014.ttl"
    shutil.copyfile(study, copy)
    return [f for f in dataset.default_files() if Path(f) != study] + [copy], copy


def log_text(log):
    log.seek(0)
    return log.read().decode(errors="replace")


def test_a_restart_over_unchanged_files_takes_the_last_checks_outcome(tmp_path):
    files, _ = conforming_copy(tmp_path)
    logs = []
    for _ in range(2):
        with server_process("--data", *files, "--validation-cache", tmp_path / "cache") as (_, _, log):
            logs.append(log_text(log))
    first = re.search(r"(\d+) study file\(s\) validated, 0 from the validation cache", logs[0])
    assert first and int(first[1]) == len([f for f in files if Path(f).parent.name == "studies"]) + 1, logs[0]
    assert "the files are as at the last check, so its outcome stands" in logs[1], logs[1]


def remove_title(path):
    path.write_text("".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                            if "dcterms:title" not in line), encoding="utf-8")


def break_syntax(path):
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '<study/forbes-2014> <https://example.org/p> "open .\n', encoding="utf-8")
    return f"{path}:{text.count(chr(10)) + 1}:"


def test_a_study_file_that_no_longer_conforms_after_a_conforming_check_stops_the_server(tmp_path):
    files, copy = conforming_copy(tmp_path)
    cache = tmp_path / "cache"
    assert startup_check(files, cache) == 0  # what serve.py checks at start-up; it fills the cache
    remove_title(copy)
    status, output = serve("--data", *files, "--validation-cache", cache)
    assert status == 1, output
    assert "1 study file(s) validated" in output  # the changed file alone
    assert f"in {copy}" in output and "Violation  dcterms:title  A study needs exactly one title" in output
    assert "does not conform to the shapes (1 violation" in output and "Traceback" not in output


def test_a_file_that_no_longer_parses_after_a_conforming_check_stops_the_server(tmp_path):
    files, copy = conforming_copy(tmp_path)
    cache = tmp_path / "cache"
    assert startup_check(files, cache) == 0
    where = break_syntax(copy)
    status, output = serve("--data", *files, "--validation-cache", cache)
    assert status == 2, output
    line = next(line for line in output.splitlines() if where in line)
    assert line.split(where)[1].split(":")[0].isdigit(), line
    assert "Traceback" not in output


@pytest.mark.parametrize("cache_state", ["unwritable", "corrupt"])
def test_a_cache_that_cannot_be_used_still_gives_the_report(tmp_path, cache_state):
    files, broken = without_title(tmp_path)
    if cache_state == "unwritable":  # a path under a regular file: not even root can make it a directory
        (tmp_path / "a-file").write_text("", encoding="utf-8")
        cache = tmp_path / "a-file" / "cache"
    else:
        cache = tmp_path / "cache"
        assert startup_check(files, cache) == 1
        for path in cache.glob("validate-*.json"):
            path.write_bytes(path.read_bytes()[:-100] + b"\x00garbage")
    status, output = serve("--data", *files, "--validation-cache", cache)
    assert status == 1, output
    assert f"in {broken}" in output and "A study needs exactly one title" in output
    assert ("cannot write the validation cache" in output) == (cache_state == "unwritable"), output
    assert "Traceback" not in output


def test_a_server_serves_when_its_validation_cache_cannot_be_written(tmp_path):
    files, _ = conforming_copy(tmp_path)
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    cache = tmp_path / "a-file" / "cache"
    with server_process("--data", *files, "--validation-cache", cache) as (_, server, log):
        status, _, body = request(server, "GET", "/sparql?query=" + urllib.parse.quote(
            "ASK { <https://w3id.org/msc-kg/study/forbes-2014> ?p ?o }"))
        assert status == 200 and json.loads(body)["boolean"] is True
        assert "cannot write the validation cache" in log_text(log)


def test_starts_at_the_same_time_leave_a_cache_that_a_third_start_uses(tmp_path):
    files, broken = without_title(tmp_path)
    cache = tmp_path / "cache"
    command = [sys.executable, str(ROOT / "serve.py"), "--data", *map(str, files),
               "--validation-cache", str(cache)]
    starts = [subprocess.Popen([*command, "--port", str(free_port())], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [start.communicate(timeout=120)[0] for start in starts]
    assert [start.returncode for start in starts] == [1, 1], outputs
    status, output = serve("--data", *files, "--validation-cache", cache)
    assert status == 1 and "the files are as at the last check" in output, output
    assert f"in {broken}" in output


def test_no_validate_serves_data_that_does_not_conform(tmp_path):
    files, _ = without_title(tmp_path)
    with server_process("--data", *files, "--no-validate") as (_, server, _):
        status, _, body = request(server, "GET", "/sparql?query=" + urllib.parse.quote(
            "ASK { <https://w3id.org/msc-kg/study/forbes-2014> ?p ?o }"))
        assert status == 200 and json.loads(body)["boolean"] is True


def zygotes(pid):
    """The processes the query workers are forked from: pid's spawned children (multiprocessing's
    resource tracker is not one)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def workers(pid):
    """The query workers of the server pid: its zygote's children, never the zygote itself."""
    return [worker for zygote in zygotes(pid) for worker in children(zygote)]


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_worker_killed_mid_query_gives_a_clear_error_and_is_replaced():
    with server_process("--workers", "1", "--timeout", "20", "--no-validate") as (process, server, _):
        [zygote] = zygotes(process.pid)
        [worker] = workers(process.pid)
        outcome = {}

        def slow():
            began = time.monotonic()
            outcome["answer"] = request(server, "GET", "/sparql?query=" + urllib.parse.quote(SLOW),
                                        headers={"Accept": "application/problem+json"}, timeout=30)
            outcome["seconds"] = time.monotonic() - began

        thread = threading.Thread(target=slow)
        thread.start()
        wait_for_idle(server, 0, 10, "the slow query never held the worker")
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
        assert zygotes(process.pid) == [zygote], "the replacement was forked, not loaded again"


def test_a_server_killed_outright_leaves_no_worker_and_no_zygote_behind():
    with server_process("--workers", "2", "--no-validate") as (process, _, _):
        [zygote] = zygotes(process.pid)
        left = [zygote, *workers(process.pid)]
        assert len(left) == 3
        process.kill()  # no exit handler runs: the pipes closing is all they learn
        process.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in left), 10, "a worker or the zygote outlived it")


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
        wait_for_idle(server, 0, 10, "the query never reached the worker")
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
