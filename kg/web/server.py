"""Starting the server from the command line: `python serve.py` and `kg serve` share these options.

Before serving, the data is checked against the shapes: a file that does not parse stops the
server (exit 2, naming file, line and column), and so does data that does not conform (exit 1,
with the report `kg validate` gives), unless --no-validate says to serve it anyway. The check goes
through the cache of `kg validate --changed` (decision 0010): files byte for byte as at the last
check are not validated again, and a changed study file is validated alone.

SIGTERM (and Ctrl-C) stop the server gracefully: it stops accepting connections at once, lets
the requests in flight finish (for at most the query time limit plus DRAIN_MARGIN seconds),
then exits 0.
"""

import argparse
import signal
import socket
import sys
import threading
import time

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import ClosingIterator

from kg import incremental, validation
from kg.errors import KGError
from kg.remote import PREFIX, check_url

DRAIN_MARGIN = 5.0  # seconds beyond the query time limit for answers to be written out
# After answering a request it did not read whole (a 5 MB URL gets its 414 after 64 KiB), the
# server reads and drops what the client still sends, for this long and up to this much: closing
# with unread data would reset the connection and could destroy the answer before it is read.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0 (got {text})")
        return value
    return parse


def url(text):
    """An argparse type: an http(s) URL."""
    try:
        return check_url(text, "the URL")
    except KGError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def store_kind(text):
    """An argparse type: oxigraph, memory, or sparql: followed by a SPARQL server's query URL."""
    if text in ("oxigraph", "memory"):
        return text
    if not text.startswith(PREFIX):
        raise argparse.ArgumentTypeError(f"choose oxigraph, memory or sparql:URL (got {text!r})")
    return PREFIX + url(text.removeprefix(PREFIX))


def add_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--store", default="oxigraph", type=store_kind, metavar="oxigraph|memory|sparql:URL",
                        help="query engine, or a SPARQL 1.1 server's query URL (default oxigraph)")
    parser.add_argument("--store-path", help="directory for an on-disk oxigraph store")
    parser.add_argument("--graph-store", metavar="URL", type=url,
                        help="with --store sparql:URL, that server's Graph Store Protocol URL")
    parser.add_argument("--workers", type=_positive(int), default=4,
                        help="query worker processes (default 4), sharing one copy of the data")
    parser.add_argument("--timeout", type=_positive(float), default=10.0,
                        help="maximum query execution time in seconds (default 10)")
    parser.add_argument("--data", nargs="+", metavar="FILE",
                        help="serve these RDF files instead of ontology/ and data/")
    parser.add_argument("--write-token", metavar="TOKEN",
                        help="enable curators' writes: TOKEN or NAME:TOKEN,... (better: MSC_KG_WRITE_TOKEN)")
    parser.add_argument("--writes-file", metavar="FILE",
                        help="where writes put graphs of no data file (default: writes.trig beside the data)")
    parser.add_argument("--no-validate", action="store_true",
                        help="serve the data without checking it against the shapes (drafts, fixtures)")
    parser.add_argument("--validation-cache", metavar="DIR",
                        help="where the start-up check keeps its results (default .kg-cache/, as kg validate "
                             "--changed)")


def run(args):
    """Check the data, build the app and serve it until SIGTERM or Ctrl-C; 2 when the data does not
    parse or cannot be served, 1 when it does not conform to the shapes."""
    from kg.web.app import create_app
    from kg.web.reload import on_sighup

    # A sparql: store's data is on its server, not in the files here: validate them before kg load.
    if not args.no_validate and not args.store.startswith(PREFIX):
        status = check(args.data, args.validation_cache)
        if status:
            return status
    try:
        app = create_app({
            "STORE": args.store, "STORE_PATH": args.store_path, "WORKERS": args.workers,
            "QUERY_TIMEOUT": args.timeout, "DATA_FILES": args.data, "GRAPH_STORE": args.graph_store,
            **{name: value for name, value in (("WRITE_TOKEN", args.write_token),
                                               ("WRITES_FILE", args.writes_file),
                                               ("VALIDATION_CACHE", args.validation_cache)) if value},
        })
    except KGError as exc:
        print(f"msc-kg: {exc}", file=sys.stderr)
        return 2
    on_sighup(app)  # `kill -HUP <pid>` serves the files as they are now (docs/endpoint.md, "Reload")
    serve(app, args.host, args.port, drain=args.timeout + DRAIN_MARGIN)
    return 0


def check(files, cache_dir=None):
    """0 when the files parse and conform; else print why and return the exit status."""
    started = time.monotonic()
    try:
        outcome = incremental.last_outcome(files, cache_dir)
        if outcome is None:
            progress = incremental.Progress()
            outcome = incremental.Outcome.of(incremental.validate_changed(files, cache_dir, progress, _say))
            done = (f"{len(progress.validated)} study file(s) validated, {len(progress.cached)} from the "
                    "validation cache")
        else:
            done = "the files are as at the last check, so its outcome stands"
    except KGError as exc:  # a file that does not parse, named with line and column
        print(f"msc-kg: {exc}", file=sys.stderr)
        return 2
    _say(f"checked the data against the shapes in {time.monotonic() - started:.1f} s: {done}")
    if outcome.conforms:
        return 0
    # The violations only: warnings do not stop the server (kg validate lists them too).
    print(validation.Report(outcome.violations, None).to_text(), file=sys.stderr)
    print(f"msc-kg: not serving: the data does not conform to the shapes ({outcome.summary}). "
          "Fix what the report says (kg validate shows it again), or serve anyway with --no-validate.",
          file=sys.stderr)
    return 1


def _say(message):
    print(f"msc-kg: {message}", file=sys.stderr, flush=True)


class InFlight:
    """WSGI middleware counting the requests being answered, until their answer is written out."""

    def __init__(self, app):
        self.app = app
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self, environ, start_response):
        with self._cond:
            self.count += 1
        answered = False
        try:
            body = self.app(environ, start_response)
            answered = True
        finally:
            if not answered:
                self._done()
        return ClosingIterator(body, self._done)

    def _done(self):
        with self._cond:
            self.count -= 1
            self._cond.notify_all()

    def wait_idle(self, seconds):
        """Whether every request finished within seconds."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while self.count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


class Handler(WSGIRequestHandler):
    """Werkzeug's handler; the few errors http.server answers by itself, before the app sees the
    request (a request line over 64 KiB: 414; too many headers: 431), are written as the app's
    plain-text problem ("414 Title: detail") instead of an HTML page."""

    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s: %(explain)s\n"


class Server(ThreadedWSGIServer):
    def shutdown_request(self, request):
        # A lingering close: see LINGER_SECONDS.
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_SECONDS)
            deadline, read = time.monotonic() + LINGER_SECONDS, 0
            while read < LINGER_BYTES and time.monotonic() < deadline:
                chunk = request.recv(65536)
                if not chunk:
                    break
                read += len(chunk)
        except OSError:
            pass
        self.close_request(request)


def serve(app, host, port, drain):
    """Serve app with Werkzeug's threaded server until SIGTERM or SIGINT, then drain and return."""
    counted = InFlight(app.wsgi_app)
    app.wsgi_app = counted
    server = Server(host, port, app, handler=Handler)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    loop = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    loop.start()
    print(f"msc-kg: serving http://{host}:{port}/sparql", file=sys.stderr, flush=True)
    while not stop.wait(1):
        pass
    # The loop stops and closes the listening socket (new connections are refused); the
    # requests in flight go on in their own threads.
    server.shutdown()
    print(f"msc-kg: stopping; waiting for {counted.count} request(s) in flight", file=sys.stderr, flush=True)
    if not counted.wait_idle(drain):
        print(f"msc-kg: {counted.count} request(s) still in flight after {drain:g} s; stopping anyway",
              file=sys.stderr, flush=True)
    app.extensions["kg.pool"].close()
