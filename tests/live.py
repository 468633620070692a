"""Run the real server (serve.py) as a separate process on 127.0.0.1 for tests over real HTTP."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def children(pid):
    """The pids of pid's child processes, from /proc (none once pid is gone)."""
    pids = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except FileNotFoundError:
        pass
    return pids


def alive(pid):
    """Whether pid is a process that has not exited (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(*args, start_timeout=120, env=None):
    """Yield (host, port) of a serve.py started with args (and env, e.g. MSC_KG_* settings); stop it
    afterwards."""
    with server_process(*args, start_timeout=start_timeout, env=env) as (_, server, _):
        yield server


@contextlib.contextmanager
def server_process(*args, start_timeout=120, env=None):
    """Yield (process, (host, port), log file) of a serve.py started with args, once it answers."""
    port = free_port()
    # The server's log goes to a file: a pipe nobody reads would block the server once full.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "serve.py"), "--host", "127.0.0.1", "--port", str(port),
         *map(str, args)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"serve.py exited: {log.read().decode(errors='replace')}")
            with contextlib.suppress(OSError):
                status, _, _ = request(("127.0.0.1", port), "GET", "/sparql",
                                       headers={"Accept": "text/turtle"})
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("serve.py did not answer in time")
            time.sleep(0.2)
        yield process, ("127.0.0.1", port), log
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def request(server, method, path, body=None, headers=None, timeout=60, source=None):
    """(status, headers dict with lower-case names, body bytes) of one HTTP request.

    source is the client's own address: Linux routes all of 127.0.0.0/8 to loopback, so a test
    can be a second client (127.0.0.2) to a server on 127.0.0.1.
    """
    connection = http.client.HTTPConnection(*server, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    try:
        encode_chunked = body is not None and not isinstance(body, (bytes, str))
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def health(server):
    return json.loads(request(server, "GET", "/health", timeout=5)[2])


def wait_for_idle(server, count=None, seconds=30, what="the pool did not heal"):
    """Wait until count of the server's workers are idle (all of them when None), polling /health:
    killed workers are replaced in the background, a job sent is taken by a worker a moment later."""
    deadline = time.monotonic() + seconds
    while True:
        figures = health(server)
        if figures["idle_workers"] == (figures["workers"] if count is None else count):
            return
        assert time.monotonic() < deadline, f"{what}: {figures}"
        time.sleep(0.05)
