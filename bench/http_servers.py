"""Our server against `oxigraph serve` and rdflib-endpoint over HTTP, on the same data, in one run.

    python bench/http_servers.py                           # 1k and 10k studies
    python bench/http_servers.py --sizes 100000 --write    # also replace its section in RESULTS.md
    python bench/http_servers.py --sizes 10000 --servers ours,oxigraph --our-arg=--workers=4

(Not bench/http.py: a script of that name in bench/ would shadow the standard library's http.)

For each size: generate the library (bench/generate.py), then start, one after the other on
127.0.0.1, our server (serve.py) on the oxigraph store in memory, on disk (--store-path) and, up to
--memory-max studies, on rdflib's memory store; `oxigraph serve` on a store filled by `oxigraph
load`, one named graph per file and --union-default-graph (our default graph is the union too), and
in memory (no --location), filled through its Graph Store Protocol; and,
up to --rdflib-max studies, rdflib-endpoint; and our production command (gunicorn, decision 0012)
in memory and on disk, the latter over the store the serve.py run left loaded. Each gets the query
mix of bench/queries/*.rq at concurrency 4 (keep-alive clients) for --seconds, every query at least
--min-runs times, after --warmup seconds of the same load untimed; with --split, then three clients
on the scans and one on the look-ups. Also:
start to first answer of each server (and of ours at seed size, and a second start of the on-disk
store), and the HTML study page of ours (--page-runs sequential requests).
"""

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import generate
import loadgen
from loadgen import Request, median, ms, percentile, ratio

from kg import dataset
from kg.web.app import DEFAULTS

HEADING = "## HTTP, side by side"
OURS = "ours (oxigraph, memory)"
RDFLIB = "rdflib-endpoint"
OX_SERVE = "oxigraph serve"
OX_DEFAULT = "oxigraph serve (one default graph)"
OX_MEMORY = "oxigraph serve (memory)"
ON_DISK = "ours (oxigraph, on disk)"
OURS_RDFLIB = "ours (rdflib memory store)"
GUNICORN = "ours, gunicorn (oxigraph, memory)"
GUNICORN_DISK = "ours, gunicorn (oxigraph, on disk)"
SHORT = {OURS: "ours", ON_DISK: "ours-disk", OURS_RDFLIB: "ours-rdflib", GUNICORN: "ours-gunicorn",
         GUNICORN_DISK: "ours-gunicorn-disk", OX_SERVE: "oxigraph", OX_DEFAULT: "oxigraph-default",
         OX_MEMORY: "oxigraph-memory", RDFLIB: "rdflib-endpoint"}
# Answers as large as oxigraph serve's: our default row and byte limits would cut query 10 at 10k.
# And no 429s: each load client going round the mix at 10k uses about the default budget of worker
# time (30 s a minute), which is a guard against abuse, not what is measured here.
OUR_ENV = {"MSC_KG_MAX_ROWS": "100000000", "MSC_KG_MAX_RESULT_BYTES": str(4 * 1024 ** 3),
           "MSC_KG_CLIENT_BUDGET": "1000000"}
STUDY_PAGE = "/study/synthetic-000042"
# The mix's look-ups of one study or author (milliseconds alone); the rest scan the library.
LOOKUPS = ("01-study-by-iri", "06-author-studies-indications", "09-construct-outcomes", "12-describe-study")


def executable(name):
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit(f"{name} is not installed: pip install -e '.[bench]'")
    return found


def ours(port, files, kind="oxigraph", store_path=None, extra=()):
    command = [sys.executable, "serve.py", "--host", "127.0.0.1", "--port", str(port), "--store", kind,
               "--timeout", "300", *extra]
    if files is not None:
        # Unvalidated: the start-up validation takes minutes at 10k and hours at 100k (RESULTS.md).
        command += ["--no-validate", "--data", *map(str, files)]
    if store_path is not None:
        command += ["--store-path", str(store_path)]
    return command


def ours_gunicorn(port):
    """The production command of docs/endpoint.md (gunicorn, one process with threads; it keeps
    connections alive, where serve.py's Werkzeug server closes each after one answer). Its settings
    come from the environment (gunicorn_env)."""
    return [executable("gunicorn"), "--workers", "1", "--threads", "8", "--limit-request-line", "8190",
            "--bind", f"127.0.0.1:{port}", "kg.web.app:create_app()"]


def gunicorn_env(our_env, files, store_path=None):
    """serve.py's options of ours() as the MSC_KG_ settings create_app() reads under gunicorn."""
    env = {**our_env, "MSC_KG_QUERY_TIMEOUT": "300", "MSC_KG_DATA_FILES": ",".join(map(str, files))}
    if store_path is not None:
        env["MSC_KG_STORE_PATH"] = str(store_path)
    return env


def oxigraph_load(files, location, named=True):
    """Fill an oxigraph store directory with the CLI, each file in its named graph or all in the
    default graph; returns seconds."""
    shutil.rmtree(location, ignore_errors=True)
    started = time.perf_counter()
    load = [executable("oxigraph"), "load", "--location", str(location), "--file"]
    if named:
        for file in files:
            subprocess.run([*load, str(file), "--graph", str(dataset.graph_name(file))], check=True,
                           capture_output=True)
    else:
        subprocess.run([*load, *map(str, files)], check=True, capture_output=True)
    return time.perf_counter() - started


def post_files(port, files):
    """Fill a running `oxigraph serve` without --location (in memory) through its Graph Store
    Protocol, each file into its named graph; returns seconds."""
    started = time.perf_counter()
    for file in files:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        try:
            connection.request("POST", f"/store?graph={quote(str(dataset.graph_name(file)), safe='')}",
                               body=file.read_bytes(), headers={"Content-Type": "text/turtle"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise RuntimeError(f"filling oxigraph serve with {file} failed: {exc}") from None
        finally:
            connection.close()
        if response.status not in (200, 201, 204):
            raise RuntimeError(f"oxigraph serve refused {file}: {response.status} {body[:200]!r}")
    return time.perf_counter() - started


def mix(endpoint):
    return [Request(path.stem, loadgen.query_path(endpoint, path.read_text()),
                    {"Accept": loadgen.accept_for(path.read_text())}) for path in loadgen.QUERIES]


def measure(name, command, port, endpoint, args, logs, env=None, page=False, fill=None):
    """Start one server, fill it (fill(port) when given: a server that starts empty), run the mix
    against it (and the study page), stop it: its figures."""
    ready = loadgen.query_path(endpoint, "ASK {}")
    print(f"  {name}: starting", file=sys.stderr, flush=True)
    with loadgen.running(name.replace(" ", "-"), command, port, ready, logs, env=env,
                         timeout=args.start_timeout) as server:
        figures = {"start": server.started}
        if fill is not None:
            figures["fill"] = fill(port)
        print(f"  {name}: first answer after {server.started:.1f} s; load", file=sys.stderr, flush=True)
        if args.warmup:
            # Untimed, the same for every server: caches filled (each of our query workers parses a
            # query text once, 0.3-13 ms in rdflib), pages read from disk.
            loadgen.run_load(port, mix(endpoint), 4, args.warmup, max_seconds=args.max_seconds)
        load = loadgen.run_load(port, mix(endpoint), 4, args.seconds, minimum=args.min_runs,
                                max_seconds=args.max_seconds)
        figures.update(seconds=load.seconds, times=load.times, errors=load.errors, sizes=load.sizes,
                       memory=loadgen.memory_mib(server.process))
        if args.split:
            # Three clients go round the scans, one round the look-ups: many look-up samples, each
            # met by the same scan load.
            requests = mix(endpoint)
            scans = [r for r in requests if r.label not in LOOKUPS]
            lookups = [r for r in requests if r.label in LOOKUPS]
            if len(lookups) != len(LOOKUPS):
                raise SystemExit(f"--split needs the queries {', '.join(LOOKUPS)} in bench/queries")
            split = loadgen.run_load(port, [], 0, args.split, minimum=0, max_seconds=args.max_seconds,
                                     rounds=[*loadgen.rotations(scans, 3), lookups])
            figures["split"] = {label: split.times[label] for label in LOOKUPS}
        if page:
            request = [Request("page", STUDY_PAGE, {"Accept": "text/html"})]
            pages = loadgen.run_load(port, request, 1, 60, limit=args.page_runs, max_seconds=60)
            figures["page"] = {"times": pages.all_times(), "errors": pages.errors["page"]}
    return figures


def run_size(size, args):
    data = loadgen.BENCH / "out" / str(size)
    files = generate.BASE_FILES + generate.generate(size, data)[0]
    logs = data / "logs"
    results = {}
    our_env = {**OUR_ENV, **dict(item.split("=", 1) for item in args.our_env)}
    extra = args.our_arg
    servers = [(OURS, lambda port: ours(port, files, extra=extra), "/sparql", our_env, True),
               (ON_DISK, lambda port: ours(port, files, store_path=data / "ours-store", extra=extra),
                "/sparql", our_env, False),
               (GUNICORN, ours_gunicorn, "/sparql", gunicorn_env(our_env, files), False),
               # After ON_DISK, which leaves the store loaded: this one opens it as it is.
               (GUNICORN_DISK, ours_gunicorn, "/sparql", gunicorn_env(our_env, files, data / "ours-store"),
                False)]
    if size <= args.memory_max:
        servers.append((OURS_RDFLIB, lambda port: ours(port, files, kind="memory", extra=extra),
                        "/sparql", our_env, False))
    location = data / "oxigraph-serve-store"
    servers.append((OX_SERVE, lambda port: [executable("oxigraph"), "serve", "--location", str(location),
                                            "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
                    "/query", None, False))
    # In memory, as our default store: `oxigraph serve` without --location starts empty and is filled
    # over HTTP, one named graph per file, the union as default graph.
    servers.append((OX_MEMORY, lambda port: [executable("oxigraph"), "serve", "--bind", f"127.0.0.1:{port}",
                                             "--union-default-graph"], "/query", None, False))
    # The same data in the default graph, no union: what the union costs oxigraph.
    servers.append((OX_DEFAULT, lambda port: [executable("oxigraph"), "serve", "--location", str(location),
                                              "--bind", f"127.0.0.1:{port}"], "/query", None, False))
    if size <= args.rdflib_max:
        servers.append((RDFLIB, lambda port: [executable("rdflib-endpoint"), "serve", "--host", "127.0.0.1",
                                              "--port", str(port), *map(str, files)], "/", None, False))
    chosen = args.servers.split(",") if args.servers else list(SHORT.values())
    servers = [s for s in servers if SHORT[s[0]] in chosen and SHORT[s[0]] not in args.skip.split(",")]
    for name, command, endpoint, env, page in servers:
        if name in (OX_SERVE, OX_DEFAULT):
            results[f"{name} load s"] = oxigraph_load(files, location, named=name == OX_SERVE)
        port = loadgen.free_port()
        try:
            fill = (lambda port: post_files(port, files)) if name == OX_MEMORY else None
            results[name] = measure(name, command(port), port, endpoint, args, logs, env, page, fill)
        except RuntimeError as exc:
            results[name] = {"failed": str(exc)}
    if ON_DISK in dict((s[0], s) for s in servers) and "failed" not in results[ON_DISK]:
        # The second start of the on-disk store: the directory exists and holds this library.
        port = loadgen.free_port()
        command = ours(port, files, store_path=data / "ours-store", extra=extra)
        with loadgen.running("ours-on-disk-again", command, port, loadgen.query_path("/sparql", "ASK {}"),
                             logs, timeout=args.start_timeout) as server:
            results["on-disk second start"] = server.started
    return results


def seed_start(args):
    port = loadgen.free_port()
    logs = loadgen.BENCH / "out" / "logs"
    with loadgen.running("ours-seed", ours(port, None), port, loadgen.query_path("/sparql", "ASK {}"),
                         logs) as server:
        return server.started


def report(all_results, args):
    sizes = [s for s in all_results if s != "seed start"]
    options = (("warmup", args.warmup), ("split", args.split))
    warmup = "".join(f" --{name} {value:g}" for name, value in options if value)
    warmed = f", after {args.warmup:g} s of the same load untimed," if args.warmup else ""
    chosen = (f" --servers {args.servers}" if args.servers else "") + "".join(
        f" --our-arg={arg}" for arg in args.our_arg)
    lines = [HEADING + f" ({', '.join(f'{s:,}' for s in sizes)} studies)", "",
             f"Machine: {loadgen.machine()}.", "",
             f"`python bench/http_servers.py --sizes {','.join(map(str, sizes))} --seconds {args.seconds:g} "
             f"--min-runs {args.min_runs}{warmup}{chosen}`: each server alone on 127.0.0.1, one after the "
             "other; the query mix of bench/queries at concurrency 4 (keep-alive clients, each going round "
             f"the mix){warmed} for {args.seconds:g} s and until every query was answered {args.min_runs} "
             "times; latency of the 200 answers, in ms. Ours: serve.py (Flask's threaded server, "
             f"{' '.join(args.our_arg) or str(DEFAULTS['WORKERS']) + ' query workers (the default)'}, "
             "--timeout 300, --no-validate, MSC_KG_MAX_ROWS and MSC_KG_MAX_RESULT_BYTES raised so that no "
             "answer is cut, MSC_KG_CLIENT_BUDGET so that none is refused"
             f"{'; also ' + ', '.join(args.our_env) if args.our_env else ''}); ours, gunicorn: the "
             "production command of docs/endpoint.md (one process, 8 threads) with the same MSC_KG_ "
             "settings and the default workers (--our-arg is serve.py's only). "
             "oxigraph serve: `oxigraph load` per file into its named graph, then "
             "`serve --union-default-graph`; oxigraph serve (memory): `serve --union-default-graph` "
             "without --location, filled after it started by POST /store?graph= per file. "
             "rdflib-endpoint: `rdflib-endpoint serve FILES`.", ""]
    lines.append(f"Our server's start to first answer at seed size (ontology/ and data/): "
                 f"{all_results['seed start']:.2f} s.")
    for size in sizes:
        results = all_results[size]
        names = [n for n in results if isinstance(results[n], dict)]
        lines += ["", f"### {size:,} studies", "",
                  "| server | start to first answer s | requests | errors | req/s | p50 all | p99 all "
                  "| memory after the load, MiB (PSS) |",
                  "|---|---|---|---|---|---|---|---|"]
        for name in names:
            figures = results[name]
            if "failed" in figures:
                lines.append(f"| {name} | failed: {figures['failed']} | | | | | | |")
                continue
            times = [t for ts in figures["times"].values() for t in ts]
            errors = sum(sum(e.values()) for e in figures["errors"].values())
            lines.append(f"| {name} | {figures['start']:.2f} | {len(times) + errors:,} | {errors} | "
                         f"{(len(times) + errors) / figures['seconds']:,.1f} | {ms(median(times))} | "
                         f"{ms(percentile(times, 99))} | {figures.get('memory', 0):,.0f} |")
        lines.append("")
        if "on-disk second start" in results:
            lines.append(f"Our on-disk store, second start (the store directory exists): "
                         f"{results['on-disk second start']:.2f} s.")
        for name in (OX_SERVE, OX_DEFAULT):
            if f"{name} load s" in results:
                lines.append(f"`oxigraph load` for {name}: {results[f'{name} load s']:.1f} s.")
        if "fill" in results.get(OX_MEMORY, {}):
            lines.append(f"{OX_MEMORY} filled through its Graph Store Protocol (one POST /store?graph= a "
                         f"file) after it started: {results[OX_MEMORY]['fill']:.1f} s.")
        good = [n for n in names if "failed" not in results[n]]
        header = " | ".join(f"{n} p50 / p99" for n in good)
        ratios = []
        if OURS in good and OX_SERVE in good:
            ratios.append(("ours/oxigraph serve", OURS, OX_SERVE))
        if ON_DISK in good and OX_SERVE in good:
            ratios.append(("ours on disk/oxigraph serve", ON_DISK, OX_SERVE))
        if GUNICORN in good and OX_SERVE in good:
            ratios.append(("ours, gunicorn/oxigraph serve", GUNICORN, OX_SERVE))
        if GUNICORN_DISK in good and OX_SERVE in good:
            ratios.append(("ours, gunicorn, on disk/oxigraph serve", GUNICORN_DISK, OX_SERVE))
        if OURS in good and OX_MEMORY in good:
            ratios.append(("ours/oxigraph serve (memory)", OURS, OX_MEMORY))
        if GUNICORN in good and OX_MEMORY in good:
            ratios.append(("ours, gunicorn/oxigraph serve (memory)", GUNICORN, OX_MEMORY))
        if OURS in good and RDFLIB in good:
            ratios.append(("rdflib-endpoint/ours", RDFLIB, OURS))
        lines += ["", f"| query | {header} | {' | '.join(r[0] for r in ratios)} |",
                  "|---|" + "---|" * (len(good) + len(ratios))]
        products = {r[0]: [] for r in ratios}
        for path in loadgen.QUERIES:
            cells = []
            for name in good:
                times, errors = results[name]["times"][path.stem], results[name]["errors"][path.stem]
                cell = f"{ms(median(times))} / {ms(percentile(times, 99))}"
                if errors:
                    cell += " (errors: " + ", ".join(f"{k} x{v}" for k, v in errors.items()) + ")"
                cells.append(cell)
            for label, a, b in ratios:
                ta, tb = median(results[a]["times"][path.stem]), median(results[b]["times"][path.stem])
                cells.append(ratio(ta, tb))
                if ta and tb:
                    products[label].append(ta / tb)
            lines.append(f"| {path.stem} | {' | '.join(cells)} |")
        for label, values in products.items():
            if values:
                geo = 1.0
                for value in values:
                    geo *= value
                geo **= 1 / len(values)
                lines.append(f"\n{label}: geometric mean of the per-query median ratios {geo:.2f}x "
                             f"(range {min(values):.2f}-{max(values):.2f}x).")
        split = [n for n in good if results[n].get("split")]
        if split:
            lines += ["", "Look-ups under scans (`--split`: three clients going round the scans, one round "
                      "the look-ups), p50 / p90 ms (answers):", "",
                      "| server | " + " | ".join(LOOKUPS) + " |", "|---|" + "---|" * len(LOOKUPS)]
            for name in split:
                cells = [f"{ms(median(t))} / {ms(percentile(t, 90))} ({len(t)})"
                         for t in (results[name]["split"][label] for label in LOOKUPS)]
                lines.append(f"| {name} | {' | '.join(cells)} |")
        if results.get(OURS, {}).get("page", {}).get("times"):
            page = results[OURS]["page"]
            errors = f", errors {page['errors']}" if page["errors"] else ""
            lines.append(f"\nStudy page `{STUDY_PAGE}` (Accept text/html, {len(page['times'])} sequential "
                         f"requests, ours): p50 {ms(median(page['times']))} ms, "
                         f"p99 {ms(percentile(page['times'], 99))} ms{errors}.")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="studies per library, comma-separated")
    parser.add_argument("--seconds", type=float, default=30, help="load per server (default 30 s)")
    parser.add_argument("--max-seconds", type=float, default=600,
                        help="stop a server's load after this long in any case (default 600)")
    parser.add_argument("--warmup", type=float, default=0,
                        help="seconds of the same load, untimed, before the timed one (default 0)")
    parser.add_argument("--split", type=float, default=0,
                        help="then seconds of three clients on the scans and one on the look-ups (default 0)")
    parser.add_argument("--min-runs", type=int, default=5, help="answers per query at least (default 5)")
    parser.add_argument("--page-runs", type=int, default=200, help="study page requests (default 200)")
    parser.add_argument("--memory-max", type=int, default=10000,
                        help="largest size for our rdflib memory store (default 10000)")
    parser.add_argument("--rdflib-max", type=int, default=10000,
                        help="largest size for rdflib-endpoint (default 10000)")
    parser.add_argument("--servers", default="",
                        help=f"only these, comma-separated (default all): {', '.join(SHORT.values())}")
    parser.add_argument("--skip", default="", help="servers to leave out, comma-separated")
    parser.add_argument("--start-timeout", type=float, default=900, help="seconds a server may take to start")
    parser.add_argument("--our-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for our server, e.g. MSC_KG_WORKERS=2")
    parser.add_argument("--our-arg", action="append", default=[], metavar="ARG",
                        help="an option for our servers (serve.py), e.g. --our-arg=--workers=4")
    parser.add_argument("--write", action="store_true", help="replace this run's section in RESULTS.md")
    args = parser.parse_args(argv)
    results = {"seed start": seed_start(args)}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} studies", file=sys.stderr, flush=True)
        results[size] = run_size(size, args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = loadgen.BENCH / "out" / f"http-{stamp}.json"
    raw.write_text(json.dumps({str(k): v for k, v in results.items()}))
    section = report(results, args)
    print(section)
    if args.write:
        loadgen.write_section(section.splitlines()[0], section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
