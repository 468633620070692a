"""The benchmark scripts' own parts: the generator's data is valid and stable, the load counts errors."""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kg import config
from kg.validation import validate

sys.path.insert(0, str(config.ROOT / "bench"))
import generate  # noqa: E402
import loadgen  # noqa: E402


@pytest.mark.parametrize("per_file", [1, 1000])
def test_the_generated_library_is_stable_and_conforms(tmp_path, per_file):
    files, triples = generate.generate(6, tmp_path / "a", per_file=per_file)
    again, _ = generate.generate(6, tmp_path / "b", per_file=per_file)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in again]
    assert len(files) == (7 if per_file == 1 else 2) and triples > 6 * 40
    report = validate(generate.BASE_FILES + files)
    assert report.conforms, report.to_text()


def test_generating_again_leaves_unchanged_files_as_they_are(tmp_path):
    # An on-disk store loaded from them opens without a reload only while their mtimes stand.
    files, _ = generate.generate(3, tmp_path, per_file=1)
    edited = files[0]
    edited.write_text("# edited\n", encoding="utf-8")
    before = {f: f.stat().st_mtime_ns for f in files}
    for f in files:
        os.utime(f, ns=(1, 1))
    again, _ = generate.generate(3, tmp_path, per_file=1)
    assert again == files
    assert edited.stat().st_mtime_ns >= before[edited] and "# edited" not in edited.read_text()
    assert all(f.stat().st_mtime_ns == 1 for f in files if f != edited)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    seen = set()  # (path, client address)

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.seen.add((self.path, self.client_address[0]))
        status = 200 if self.path == "/ok" else 503
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_a_load_counts_answers_and_errors_by_status_and_stops():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        requests = [loadgen.Request("good", "/ok", {}), loadgen.Request("bad", "/busy", {})]
        port = server.server_address[1]
        load = loadgen.run_load(port, requests, 2, 0.2, minimum=3, max_seconds=10, limit=400)
    finally:
        server.shutdown()
        server.server_close()
    assert len(load.times["good"]) >= 3 and load.times["bad"] == []
    assert load.errors["bad"] == {503: load.count - len(load.times["good"])}
    assert load.count <= 400 and load.seconds < 10


def test_with_rounds_each_client_goes_round_its_own_requests():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.seen = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        good, bad = loadgen.Request("good", "/ok", {}), loadgen.Request("bad", "/busy", {})
        load = loadgen.run_load(server.server_address[1], [], 0, 0.2, minimum=2, max_seconds=10, limit=200,
                                rounds=[[good], [bad]])
    finally:
        server.shutdown()
        server.server_close()
    assert Handler.seen == {("/ok", "127.0.0.2"), ("/busy", "127.0.0.3")}
    assert len(load.times["good"]) >= 2 and sum(load.errors["bad"].values()) >= 2


def test_memory_counts_every_process_of_the_servers_group():
    # A parent and its child, each holding 64 MiB it wrote to, in a group of their own as a server is.
    hold = ("b = bytearray(64 << 20); import sys; sys.stdout.write('ok\\n'); sys.stdout.flush(); "
            "sys.stdin.read()")
    spawn = f"import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', {hold!r}]); {hold}"
    parent = subprocess.Popen([sys.executable, "-c", spawn], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              start_new_session=True, text=True)
    try:
        assert parent.stdout.readline() == "ok\n" and parent.stdout.readline() == "ok\n"
        assert 128 <= loadgen.memory_mib(parent) < 512
    finally:
        loadgen.stop(parent)
    # stop() waits for the parent; the child may take a moment longer to be gone.
    deadline = time.monotonic() + 10
    while loadgen.memory_mib(parent) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loadgen.memory_mib(parent) == 0
