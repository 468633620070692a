"""Starting the server from the command line: `python serve.py` and `kg serve` share these options."""

import argparse
import sys

from kg.errors import KGError
from kg.remote import PREFIX, check_url


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
    parser.add_argument("--workers", type=_positive(int), default=2,
                        help="query worker processes (default 2)")
    parser.add_argument("--timeout", type=_positive(float), default=10.0,
                        help="maximum query execution time in seconds (default 10)")
    parser.add_argument("--data", nargs="+", metavar="FILE",
                        help="serve these RDF files instead of ontology/ and data/")


def run(args):
    """Build the app and serve it until interrupted; 2 when the data cannot be served."""
    from kg.web.app import create_app

    try:
        app = create_app({
            "STORE": args.store, "STORE_PATH": args.store_path, "WORKERS": args.workers,
            "QUERY_TIMEOUT": args.timeout, "DATA_FILES": args.data, "GRAPH_STORE": args.graph_store,
        })
    except KGError as exc:
        print(f"msc-kg: {exc}", file=sys.stderr)
        return 2
    print(f"msc-kg: serving http://{args.host}:{args.port}/sparql", file=sys.stderr, flush=True)
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
    return 0
