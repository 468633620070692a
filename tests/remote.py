"""A real SPARQL 1.1 server for the sparql: store's tests: `oxigraph serve` (PyPI `oxigraph`) on 127.0.0.1."""

import contextlib
import http.client
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kg.cli import main
from kg.web.app import close_app, create_app
from tests.live import free_port

OXIGRAPH = Path(sys.executable).with_name("oxigraph")


class OxigraphServer:
    """`oxigraph serve` on a directory and a port that both outlive stop() and start(), so a test can
    take the server away and bring the same one back."""

    def __init__(self, location):
        self.location = Path(location)
        self.port = free_port()
        self.process = None
        self.log = tempfile.TemporaryFile()

    @property
    def query_url(self):
        return f"http://127.0.0.1:{self.port}/query"

    @property
    def store(self):
        """What --store takes."""
        return f"sparql:{self.query_url}"

    @property
    def graph_store(self):
        return f"http://127.0.0.1:{self.port}/store"

    def start(self, timeout=30):
        self.process = subprocess.Popen(
            [str(OXIGRAPH), "serve", "--location", str(self.location), "--bind", f"127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"oxigraph serve exited: {self.log.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"oxigraph serve did not answer within {timeout} s")
            time.sleep(0.05)
        return self

    def _answers(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/query?query=ASK%7B%7D",
                               headers={"Accept": "application/sparql-results+json"})
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def load(self, *files):
        """`kg load --into` this server; the files, or the whole dataset."""
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = main(["load", "--into", self.query_url, *map(str, files)])
        if code != 0:
            raise RuntimeError(f"kg load --into {self.query_url} exited {code}: {output.getvalue()}")


@contextlib.contextmanager
def oxigraph_server(location, *files, load=True):
    """A started OxigraphServer holding files (default: the dataset), stopped afterwards."""
    server = OxigraphServer(location).start()
    try:
        if load:
            server.load(*files)
        yield server
    finally:
        server.stop()
        server.log.close()


def store_name(kind, request):
    """What open_store and the STORE setting take for kind: sparql: names the session's server."""
    return request.getfixturevalue("remote").store if kind == "sparql" else kind


# The stores the HTML pages are tested on: all of them.
PAGE_KINDS = ("oxigraph", "memory", "sparql")


def real_data_app(request, **settings):
    """The web app over the real data on the store request.param names, with one query worker.

    A test module is one client asking for page after page, on the slow memory store too: its query-time
    budget is not what these tests are about (tests/test_admission.py is), so it has none here."""
    app = create_app({"WORKERS": 1, "STORE": store_name(request.param, request),
                      "CLIENT_BUDGET": float("inf"), **settings})
    yield app
    close_app(app)
