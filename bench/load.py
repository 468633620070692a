"""A loopback load test of our server: many clients for a while, queries and pages mixed; every error counted.

    python bench/load.py                                 # seed data and the 10k library, 16 clients, 60 s
    python bench/load.py --libraries seed --seconds 20
    python bench/load.py --server-arg=--workers=2 --env MSC_KG_QUERY_TIMEOUT=20 --write

Each library gets a fresh serve.py on 127.0.0.1 (oxigraph store in memory, --no-validate for a
synthetic library, default settings unless --server-arg / --env say otherwise: the per-client budget
and queue limits of issue 7 are serve.py options or MSC_KG_* variables, passed through as given).
--concurrency keep-alive clients then go round a mix of SPARQL queries (docs/queries for the seed
data, bench/queries for a synthetic library) and pages (home, browse, an indication, a study as HTML
and as Turtle) for --seconds. Any answer other than 200 is an error and is reported with its status;
the exit code is 1 when there was one.
--page-runs N first times N sequential requests of each listing page (--seconds 0: only that; give
--env MSC_KG_CLIENT_BUDGET=inf, since they all come from one client).
"""

import argparse
import sys
import time

import generate
import loadgen
from loadgen import Request, median, ms, percentile

HEADING = "## Load, concurrency 16"
PAGES = [("page: home", "/", "text/html"), ("page: browse", "/browse", "text/html"),
         ("page: indication", "/indication/perianal-fistulas-in-crohns-disease", "text/html")]
# The pages that list studies, timed one request after the other by --page-runs.
LISTINGS = [("home", "/"), ("browse", "/browse"), ("browse, page 3", "/browse?page=3"),
            ("browse, phase 2", "/browse?phase=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fphase%2F2"),
            ("indication", "/indication/perianal-fistulas-in-crohns-disease"),
            ("broad indication", "/indication/crohns-disease"), ("section", "/library/crohns-disease"),
            ("concept", "/phase/2")]


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
        # serve.py validates what it serves before starting: about 75 minutes for 10k studies with
        # pyshacl (RESULTS.md, "Validation at scale"). The generator's output is validated by
        # `generate.py --check` and tests/test_bench.py instead.
        command += ["--no-validate", "--data", *map(str, files)]
    env = dict(item.split("=", 1) for item in args.env)
    logs = loadgen.BENCH / "out" / "logs"
    with loadgen.running(f"load-{library}", command, port, loadgen.query_path("/sparql", "ASK {}"), logs,
                         env=env) as server:
        times = listing_times(port, args.page_runs)
        if args.seconds <= 0:
            return server.started, None, times
        load = loadgen.run_load(port, requests_for(library), args.concurrency, args.seconds,
                                max_seconds=args.seconds + 120, timeout=120, one_address=args.one_address)
        return server.started, load, times


def listing_times(port, runs):
    """{label: (median seconds, statuses)} of runs sequential requests for each listing page."""
    found = {}
    for label, path in LISTINGS if runs else ():
        times, statuses = [], set()
        for _ in range(runs):
            started = time.perf_counter()
            status, _ = loadgen.fetch(port, path, {"Accept": "text/html"}, timeout=120)
            times.append(time.perf_counter() - started)
            statuses.add(status)
        found[label] = (median(times), sorted(statuses))
    return found


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
    for library, (_, load, _) in results.items():
        if load is None:
            continue
        times = load.all_times()
        rate, slowest = load.count / load.seconds, max(times) if times else None
        lines.append(f"| {library} | {load.count:,} | {load.error_count} | {rate:,.1f} | "
                     f"{ms(median(times))} | {ms(percentile(times, 99))} | {ms(slowest)} |")
    for library, (started, load, listings) in results.items():
        lines += ["", f"### {library}", "", f"Start to first answer: {started:.2f} s."]
        if listings:
            lines += ["", f"Listing pages, median of {args.page_runs} sequential requests before the load:",
                      "",
                      "| page | median ms | status |", "|---|---|---|"]
            lines += [f"| {label} | {ms(time_)} | {', '.join(map(str, statuses))} |"
                      for label, (time_, statuses) in listings.items()]
        if load is None:
            continue
        lines += ["", "| request | answers | p50 ms | p99 ms | errors (status x count) |",
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
    parser.add_argument("--page-runs", type=int, default=0, metavar="N",
                        help="before the load, time N sequential requests of each listing page (0: none; "
                        "--seconds 0: no load)")
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
    return 1 if any(load is not None and load.error_count for _, load, _ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
