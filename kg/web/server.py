"""Starting the server from the command line: `python serve.py` and `kg serve` share these options."""

import argparse
import sys

from kg.errors import KGError


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0 (got {text})")
        return value
    return parse


def add_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--store", default="oxigraph", choices=["oxigraph", "memory"],
                        help="query engine (default oxigraph)")
    parser.add_argument("--store-path", help="directory for an on-disk oxigraph store")
    parser.add_argument("--workers", type=_positive(int), default=2,
                        help="query worker processes (default 2)")
    parser.add_argument("--timeout", type=_positive(float), default=10.0,
                        help="maximum query execution time in seconds (default 10)")
    parser.add_argument("--data", nargs="+", metavar="FILE",
                        help="serve these RDF files instead of ontology/ and data/")
    parser.add_argument("--write-token", metavar="TOKEN",
                        help="enable curators' writes: TOKEN or NAME:TOKEN,... (better: MSC_KG_WRITE_TOKEN)")
    parser.add_argument("--writes-file", metavar="FILE",
                        help="where writes put graphs of no data file (default: writes.trig beside the data)")


def run(args):
    """Build the app and serve it until interrupted; 2 when the data cannot be served."""
    from kg.web.app import create_app
    from kg.web.reload import on_sighup

    try:
        app = create_app({
            "STORE": args.store, "STORE_PATH": args.store_path, "WORKERS": args.workers,
            "QUERY_TIMEOUT": args.timeout, "DATA_FILES": args.data,
            **{name: value for name, value in (("WRITE_TOKEN", args.write_token),
                                               ("WRITES_FILE", args.writes_file)) if value},
        })
    except KGError as exc:
        print(f"msc-kg: {exc}", file=sys.stderr)
        return 2
    on_sighup(app)  # `kill -HUP <pid>` serves the files as they are now (docs/endpoint.md, "Reload")
    print(f"msc-kg: serving http://{args.host}:{args.port}/sparql", file=sys.stderr, flush=True)
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
    return 0
