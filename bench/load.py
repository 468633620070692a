"""A loopback load test of our server: many clients for a while, queries and pages mixed; every error counted.

    python bench/load.py                                 # seed data and the 10k library, 16 clients, 60 s
    python bench/load.py --libraries seed --seconds 20
    python bench/load.py --server-arg=--workers=2 --env MSC_KG_QUERY_TIMEOUT=20 --write

Each library gets a fresh serve.py on 127.0.0.1 (oxigraph store in memory, default settings unless
--server-arg / --env say otherwise: the per-client budget and queue limits of issue 7 are serve.py
options or MSC_KG_* variables, passed through as given). --concurrency keep-alive clients then go
round a mix of SPARQL queries (docs/queries for the seed data, bench/queries for a synthetic library)
and pages (home, browse, an indication, a study as HTML and as Turtle) for --seconds. Any answer other
than 200 is an error and is reported with its status; the exit code is 1 when there was one.
"""

import argparse
import sys

import generate
import loadgen
from loadgen import Request, median, ms, percentile

HEADING = "## Load, concurrency 16"
PAGES = [("page: home", "/", "text/html"), ("page: browse", "/browse", "text/html"),
         ("page: indication", "/indication/perianal-fistulas-in-crohns-disease", "text/html")]


def requests_for(library):
    if library == "seed":
        queries, study = sorted((loadgen.ROOT / "docs" / "queries").glob("*.rq")), "/study/forbes-2014"
    else:
        queries, study = loadgen.QUERIES, "/study/synthetic-000042"
    mix = [Request(f"query: {path.stem}", loadgen.query_path("/sparql", path.read_text()),
                   {"Accept": loadgen.accept_for(path.read_text())}) for path in queries]
    pages = [*PAGES, ("page: study", study, "text/html"), ("page: study as Turtle", study, "text/turtle")]
    mix += [Request(label, path, {"Accept": accept}) for label, path, accept in pages]
    return mix


def files_for(library):
    if library == "seed":
        return None
    size = int(library)
    return generate.BASE_FILES + generate.generate(size, loadgen.BENCH / "out" / str(size))[0]


def run(library, args):
    port = loadgen.free_port()
    files = files_for(library)
    command = [sys.executable, "serve.py", "--host", "127.0.0.1", "--port", str(port), *args.server_arg]
    if files is not None:
        command += ["--data", *map(str, files)]
    env = dict(item.split("=", 1) for item in args.env)
    logs = loadgen.BENCH / "out" / "logs"
    with loadgen.running(f"load-{library}", command, port, loadgen.query_path("/sparql", "ASK {}"), logs,
                         env=env) as server:
        load = loadgen.run_load(port, requests_for(library), args.concurrency, args.seconds,
                                max_seconds=args.seconds + 120, timeout=120, one_address=args.one_address)
        return server.started, load


def report(results, args):
    settings = " ".join([*args.server_arg, *args.env]) or "none (serve.py's defaults)"
    lines = [HEADING, "", f"Machine: {loadgen.machine()}.", "",
             f"`python bench/load.py --concurrency {args.concurrency} --seconds {args.seconds:g}`: a fresh "
             "serve.py on 127.0.0.1 (oxigraph in memory) per library; keep-alive clients each going round "
             "the mix (SPARQL queries and pages), "
             + ("all from 127.0.0.1" if args.one_address else "each from its own address 127.0.0.N")
             + ". Extra server settings: " + settings + ".", "",
             "| library | requests | errors | req/s | p50 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|---|"]
    for library, (_, load) in results.items():
        times = load.all_times()
        rate, slowest = load.count / load.seconds, max(times) if times else None
        lines.append(f"| {library} | {load.count:,} | {load.error_count} | {rate:,.1f} | "
                     f"{ms(median(times))} | {ms(percentile(times, 99))} | {ms(slowest)} |")
    for library, (started, load) in results.items():
        lines += ["", f"### {library}", "", f"Start to first answer: {started:.2f} s.", "",
                  "| request | answers | p50 ms | p99 ms | errors (status x count) |",
                  "|---|---|---|---|---|"]
        for label, times in load.times.items():
            errors = ", ".join(f"{status} x{count}" for status, count in load.errors[label].items()) or "0"
            lines.append(f"| {label} | {len(times):,} | {ms(median(times))} | {ms(percentile(times, 99))} | "
                         f"{errors} |")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default="seed,10000",
                        help="'seed' (ontology/ and data/) and/or synthetic sizes, comma-separated")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="an argument for serve.py, e.g. --server-arg=--workers=2 (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server, e.g. MSC_KG_QUERY_TIMEOUT=20")
    parser.add_argument("--one-address", action="store_true",
                        help="every client from 127.0.0.1 (one client to the server's admission limits)")
    parser.add_argument("--write", action="store_true", help="replace this section of RESULTS.md")
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    results = {}
    for library in args.libraries.split(","):
        print(f"{library}: {args.concurrency} clients for {args.seconds:g} s", file=sys.stderr, flush=True)
        results[library] = run(library, args)
    section = report(results, args)
    print(section)
    if args.write:
        loadgen.write_section(HEADING, section)
    return 1 if any(load.error_count for _, load in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
