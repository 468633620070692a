"""The kg command: validate, build and query the knowledge graph.

Exit codes: 0 success, 1 the data does not conform, 2 usage, parse or query errors.
"""

import argparse
import json
import os
import sys

from kg import ingest, sparql
from kg.build import build
from kg.errors import KGError, QueryError, RemoteUnavailable, UsageError
from kg.incremental import validate_changed
from kg.remote import PREFIX, RemoteStore, check_url, default_graph_store
from kg.store import open_store
from kg.validation import validate
from kg.web import server

OK, VIOLATIONS, ERROR = 0, 1, 2


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on bad arguments and 0 on --help; main returns codes instead of exiting.
        return exc.code if isinstance(exc.code, int) else ERROR
    try:
        return args.run(args)
    except KGError as exc:
        print(exc, file=sys.stderr)
        return ERROR
    except BrokenPipeError:
        # `kg query ... | head` closes stdout early; say nothing more and let the exit be quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ERROR


def build_parser():
    parser = argparse.ArgumentParser(prog="kg", description="The msc-kg knowledge graph.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check the data against the SHACL shapes")
    validate.add_argument("files", nargs="*", metavar="FILE", help="Turtle files (default: all data)")
    validate.add_argument("--format", choices=("text", "json", "turtle"), default="text")
    validate.add_argument("--changed", action="store_true",
                          help="validate only the files changed since the last --changed run (.kg-cache/)")
    validate.set_defaults(run=run_validate)

    dumps = commands.add_parser("build", help="write the dumps and the VoID description")
    dumps.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write into")
    dumps.set_defaults(run=run_build)

    query = commands.add_parser("query", help="run a read-only SPARQL query over the dataset")
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument("sparql", nargs="?", metavar="SPARQL", help="the query text")
    source.add_argument("-f", "--file", metavar="FILE", help="read the query from FILE ('-' for stdin)")
    query.add_argument("--format", choices=sparql.NAMES, default=sparql.TABLE,
                       help="output format (default: table)")
    query.add_argument("--store", type=server.store_kind, default="oxigraph",
                       metavar="oxigraph|memory|sparql:URL", help="backend (default: oxigraph)")
    query.set_defaults(run=run_query)

    load = commands.add_parser("load", help="put the dataset into a SPARQL server (Graph Store Protocol)")
    load.add_argument("files", nargs="*", metavar="FILE", help="RDF files, a graph each (default: all data)")
    load.add_argument("--into", required=True, metavar="URL",
                      help="the server's SPARQL query URL, as in --store sparql:URL")
    load.add_argument("--graph-store", type=server.url, metavar="URL",
                      help="its Graph Store Protocol URL (default: URL's last step /query as /store, "
                           "as Oxigraph server has it; Fuseki: .../DATASET/data)")
    load.add_argument("--timeout", type=float, default=60.0,
                      help="seconds for each request (default 60)")
    load.set_defaults(run=run_load)

    drafts = commands.add_parser("ingest", help="draft Turtle from a library page (text)")
    drafts.add_argument("page", metavar="PAGE", help="the page as plain text, in the seed page's format")
    drafts.add_argument("-o", "--output", metavar="DIR", help="output directory (default: drafts/<page>)")
    drafts.add_argument("--source", metavar="IRI", help="the page's public IRI (default: seed only)")
    drafts.add_argument("--force", action="store_true", help="replace draft files that exist")
    drafts.set_defaults(run=run_ingest)

    serve = commands.add_parser("serve", help="start the web server and SPARQL endpoint")
    server.add_arguments(serve)
    serve.set_defaults(run=server.run)
    return parser


def run_validate(args):
    if args.changed and args.format == "turtle":
        raise UsageError("--changed keeps results, not the SHACL report graph: use --format text or json")
    if args.changed:
        report = validate_changed(args.files or None, warn=lambda message: print(f"kg validate: {message}",
                                                                                  file=sys.stderr))
    else:
        report = validate(args.files or None)
    if args.format == "json":
        output = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    elif args.format == "turtle":
        output = report.to_turtle()
    else:
        output = report.to_text()
    _print(output)
    return OK if report.conforms else VIOLATIONS


def run_build(args):
    for path in build(args.output):
        print(path)
    return OK


def run_ingest(args):
    done = ingest.ingest(args.page, args.output, force=args.force, source=args.source)
    for number, line in done.unplaced:
        print(f"{args.page}:{number}: warning: cannot place this line: {line}", file=sys.stderr)
    for path in done.files:
        print(path)
    return OK


def run_query(args):
    text = args.sparql if args.file is None else _read_query(args.file)
    result = open_store(args.store).query(text)
    _print(sparql.serialize(result, args.format))
    return OK


def run_load(args):
    into = check_url(args.into.removeprefix(PREFIX), "--into")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be above 0 (got {args.timeout:g})")
    store = RemoteStore(into, args.graph_store or default_graph_store(into), timeout=args.timeout)
    try:
        sizes, others = store.load(args.files or None,
                                   lambda graph, size: print(f"{graph}\t{size} triples", flush=True))
    except (RemoteUnavailable, QueryError) as exc:
        done = getattr(exc, "loaded", [])
        print(f"kg load: {exc}", file=sys.stderr)
        if done:
            print(f"kg load: {len(done)} graph(s) were replaced before this (listed above), the rest and "
                  "the default graph were not: run kg load again once the server is fine", file=sys.stderr)
        return ERROR
    print(f"loaded {len(sizes)} graph(s), {sum(sizes.values())} triples, and their merge as the default "
          f"graph into {into}")
    if others:
        print(f"kg load: the server also holds {len(others)} graph(s) not among these files, left as they "
              f"are (they are part of what a sparql: store serves): {', '.join(map(str, others))}",
              file=sys.stderr)
    return OK


def _read_query(name):
    if name == "-":
        return sys.stdin.read()
    try:
        with open(name, encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot read the query: {getattr(exc, 'strerror', None) or exc}") from None


def _print(text):
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


if __name__ == "__main__":
    sys.exit(main())
