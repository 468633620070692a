"""What bench/http_servers.py and bench/load.py share: servers started on 127.0.0.1, a bounded
loopback load of keep-alive clients, and the figures it gives.

Every server is a child process in its own process group, stopped by that group (its query workers
too) and never by name. Every load is bounded by a request count and a time limit.
"""

import contextlib
import datetime
import http.client
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
QUERIES = sorted((BENCH / "queries").glob("*.rq"))
JSON = "application/sparql-results+json"
TURTLE = "text/turtle"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server process, how long it took to give its first answer, and where its log is."""

    name: str
    port: int
    process: subprocess.Popen
    log: Path
    started: float = 0.0  # seconds from the start of the process to its first answer


@contextlib.contextmanager
def running(name, command, port, ready_path, log_dir, timeout=900, env=None, cwd=ROOT):
    """Start command, wait until GET ready_path answers 200, yield the Server, stop it afterwards."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    began = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, **(env or {})})
    server = Server(name, port, process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}); see {log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if fetch(port, ready_path, {"Accept": JSON})[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} gave no answer in {timeout} s; see {log}")
            time.sleep(0.05)
        server.started = time.perf_counter() - began
        yield server
    finally:
        stop(process)


def stop(process):
    """SIGTERM to the server's process group (its workers too), then SIGKILL if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def memory_mib(process):
    """The memory of process's group (a server with its query workers), in MiB: the sum of its
    processes' PSS, which counts a page shared by n of them as 1/n to each."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The fields after the command name, which may hold spaces: state, ppid, pgrp, ...
            if int(status.read_text().rpartition(")")[2].split()[2]) != process.pid:
                continue
            for line in (status.parent / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def fetch(port, path, headers, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def query_path(endpoint, text):
    return f"{endpoint}?query={quote(text)}"


def accept_for(text):
    """What a client asks for: results JSON for SELECT/ASK, Turtle for CONSTRUCT/DESCRIBE."""
    body = re.sub(r"#[^\n]*", "", text)
    return TURTLE if re.search(r"\b(CONSTRUCT|DESCRIBE)\b", body, re.IGNORECASE) else JSON


@dataclass
class Request:
    label: str
    path: str
    headers: dict


@dataclass
class Load:
    """The outcome of one load: per label, latencies of the good answers and the errors."""

    seconds: float = 0.0
    times: dict = field(default_factory=dict)  # label -> [seconds]
    errors: dict = field(default_factory=dict)  # label -> {status or exception name: count}
    sizes: dict = field(default_factory=dict)  # label -> bytes of the last good answer

    @property
    def count(self):
        return sum(map(len, self.times.values())) + sum(sum(e.values()) for e in self.errors.values())

    @property
    def error_count(self):
        return sum(sum(e.values()) for e in self.errors.values())

    def all_times(self):
        return [t for times in self.times.values() for t in times]


def rotations(requests, count):
    """count copies of requests, each starting further along, so clients going round them at once
    do not all ask the same thing at the same time."""
    step = max(len(requests) // count, 1)
    return [requests[k:] + requests[:k] for k in (i * step % len(requests) for i in range(count))]


def run_load(port, requests, concurrency, seconds, minimum=1, limit=None, max_seconds=None, timeout=120,
             one_address=False, rounds=None):
    """concurrency keep-alive clients, each going round the requests (from its own starting point),
    until seconds have passed and every request was answered at least minimum times; stops in any
    case after max_seconds (default 5 x seconds) or limit requests in all. rounds, when given, is
    one list of requests per client instead (concurrency and requests are then ignored).

    Each client connects from its own loopback address (127.0.0.2, .3, ...; Linux routes all of
    127/8 to lo), so a server that tells clients apart by address (our admission limits) sees as many
    clients as there are; one_address=True sends them all from 127.0.0.1."""
    if rounds is None:
        rounds = rotations(requests, concurrency)
    labels = dict.fromkeys(r.label for mine in rounds for r in mine)
    load = Load(times={label: [] for label in labels}, errors={label: {} for label in labels})
    lock = threading.Lock()
    began = time.perf_counter()
    hard_stop = began + (max_seconds or 5 * seconds)
    sent = [0]

    def enough():
        now = time.perf_counter()
        if now >= hard_stop or (limit is not None and sent[0] >= limit):
            return True
        return now - began >= seconds and all(len(t) >= minimum for t in load.times.values())

    def client(mine, source):
        connection = None
        index = 0
        while True:
            with lock:
                if enough():
                    break
                sent[0] += 1
            request = mine[index % len(mine)]
            index += 1
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                                        source_address=(source, 0))
            started = time.perf_counter()
            try:
                connection.request("GET", request.path, headers=request.headers)
                response = connection.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - started
                outcome = response.status
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
                connection.close()
                connection = None
            with lock:
                if outcome == 200:
                    load.times[request.label].append(elapsed)
                    load.sizes[request.label] = len(body)
                else:
                    counts = load.errors[request.label]
                    counts[outcome] = counts.get(outcome, 0) + 1
        if connection is not None:
            connection.close()

    sources = ["127.0.0.1" if one_address else f"127.0.0.{2 + i}" for i in range(len(rounds))]
    threads = [threading.Thread(target=client, args=pair) for pair in zip(rounds, sources, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - began
    return load


def percentile(times, q):
    if not times:
        return None
    if len(times) == 1:
        return times[0]
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


def median(times):
    return statistics.median(times) if times else None


def ms(seconds):
    if seconds is None:
        return "-"
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def ratio(a, b):
    return f"{a / b:,.1f}x" if a is not None and b else "-"


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    versions = []
    for package in ("rdflib", "pyoxigraph", "oxigraph", "flask", "rdflib-endpoint", "uvicorn", "fastapi"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    return (f"{cpu.group(1).strip() if cpu else platform.processor()}, {len(os.sched_getaffinity(0))} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024 ** 3:.0f} GiB, "
            f"Python {platform.python_version()}, {', '.join(versions)}, {datetime.date.today().isoformat()}")


def write_section(heading, section):
    """Replace the section under heading in RESULTS.md (up to the next ## heading), keeping the rest."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    start = old.find(heading + "\n")
    if start < 0:
        new = old.rstrip() + "\n\n" + section
    else:
        end = old.find("\n## ", start + len(heading))
        new = old[:start] + section + ("\n" + old[end + 1:] if end >= 0 else "")
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(new)
    os.replace(tmp, RESULTS)
