"""Compare the two store kinds in-process: load time, memory and query latency on synthetic libraries.

    python bench/engines.py                        # 1k and 10k studies, both stores, table on stdout
    python bench/engines.py --write                # also replace the section in bench/RESULTS.md
    python bench/engines.py --sizes 1000,10000,100000

Each (size, store) runs in a fresh subprocess, so one store's memory does not inflate the other's
peak RSS and each starts cold. Stores answer through kg.store (what the app uses), so latencies
include its per-query work: rdflib parses each query text (kg.store.prepare, once per text and
process: it is cached) for both kinds, and the oxigraph store converts its answers into rdflib terms.
The "prepare" and "ox raw" columns show those parts apart.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import generate
import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal

from kg import config
from kg.errors import KGError
from kg.namespaces import PREFIXES
from kg.store import open_store, prepare

BENCH = Path(__file__).resolve().parent
QUERIES = sorted((BENCH / "queries").glob("*.rq"))
RESULTS = BENCH / "RESULTS.md"
HEADING = "## Engines, in-process"
KINDS = ("oxigraph", "memory")


def rss_mb():
    """Resident memory now, from /proc (ru_maxrss only gives the peak)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def cell(term):
    """A comparable form of one answer term: engines write the same number differently (AVG's digits)."""
    if term is None:
        return ""
    if isinstance(term, BNode):
        return "_:"  # blank node labels are each engine's own
    if isinstance(term, Literal) and type(term.value) in (int, float, Decimal):
        return f"{float(term.value):.6g}"
    return term.n3()


def digest(result):
    rows = result.triples if result.kind == "graph" else result.rows
    if result.kind == "ask":
        return [result.boolean]
    return sorted("\t".join(cell(t) for t in row) for row in rows)


def timed_runs(run, most, budget):
    """Run once to warm up, then up to most times or until budget seconds are spent (at least once)."""
    started = time.perf_counter()
    answer = run()
    warm = time.perf_counter() - started
    times, spent = [], 0.0
    while len(times) < most and (not times or spent + statistics.median(times) <= budget):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
        spent += times[-1]
    return answer, warm, times


def worker(kind, data, most, budget):
    """Load one store and time every query; print the figures as JSON."""
    prefixes = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
    files = generate.BASE_FILES + sorted(Path(data).glob("*.ttl"))
    before = rss_mb()
    started = time.perf_counter()
    store = open_store(kind, files=files)
    figures = {"load": time.perf_counter() - started, "triples": len(store), "rss_before": before,
               "rss_loaded": rss_mb(), "queries": {}}
    for path in QUERIES:
        text = path.read_text()
        # rdflib's parse of the text, uncached: what kg.store pays the first time a process sees it.
        _, _, prepares = timed_runs(lambda text=text: prepare.__wrapped__(text), 5, 1.0)
        entry = {"prepare": statistics.median(prepares)}
        try:
            answer, warm, times = timed_runs(lambda text=text: store.query(text), most, budget)
        # rdflib raises plain Python errors from deep inside its evaluator; report them as the answer.
        except (KGError, TypeError, ValueError, RecursionError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:200]
            figures["queries"][path.stem] = entry
            continue
        entry.update(rows=len(answer), digest=digest(answer), warm=warm, times=times)
        if kind == "oxigraph":
            # The same query straight on pyoxigraph, answers read but not converted: the engine's own time.
            def raw(text=text):
                answer = store._store.query(text, base_iri=config.BASE, prefixes=prefixes,
                                            use_default_graph_as_union=store._union)
                return answer if isinstance(answer, ox.QueryBoolean) else list(answer)
            _, _, raws = timed_runs(raw, most, budget / 4)
            entry["raw"] = statistics.median(raws)
        figures["queries"][path.stem] = entry
    figures["rss_peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(figures, sys.stdout)


def measure(kind, data, most, budget, timeout):
    """The worker's figures for one store, or {"failed": why}."""
    command = [sys.executable, __file__, "--worker", kind, "--data", str(data), "--runs", str(most),
               "--budget", str(budget)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"failed": f"did not finish in {timeout} s"}
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"failed": last[0]}
    return json.loads(done.stdout)


def ms(seconds):
    if seconds is None:
        return "-"
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def p99(times):
    return statistics.quantiles(times, n=100, method="inclusive")[98] if len(times) > 1 else times[0]


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    return (f"{cpu.group(1).strip() if cpu else platform.processor()}, {len(os.sched_getaffinity(0))} cores, "
            f"Python {platform.python_version()}, rdflib {rdflib.__version__}, "
            f"pyoxigraph {ox.__version__}, {datetime.date.today().isoformat()}")


def report(results, sizes, most, budget):
    """The Markdown section: machine, load and memory, then one latency table per size."""
    lines = [HEADING, "", f"Machine: {machine()}.", "",
             f"`python bench/engines.py --sizes {','.join(map(str, sizes))}`: each store in a fresh process; "
             f"latency = one warm-up, then up to {most} runs or {budget:g} s per query (median and p99, ms). "
             "Data: bench/generate.py plus ontology/msc.ttl and data/{vocabulary,library,sources}.ttl.", "",
             "| studies | store | triples | load s | RSS before load MB | RSS loaded MB | peak RSS MB |",
             "|---|---|---|---|---|---|---|"]
    for size in sizes:
        for kind in KINDS:
            figures = results[size][kind]
            if "failed" in figures:
                lines.append(f"| {size:,} | {kind} | failed: {figures['failed']} | | | | |")
                continue
            lines.append(f"| {size:,} | {kind} | {figures['triples']:,} | {figures['load']:.2f} | "
                         f"{figures['rss_before']:.0f} | {figures['rss_loaded']:.0f} | "
                         f"{figures['rss_peak']:.0f} |")
    mismatches = []
    for size in sizes:
        ox, mem = (results[size][kind] for kind in KINDS)
        if "failed" in ox or "failed" in mem:
            continue
        lines += ["", f"### {size:,} studies", "",
                  "| query | rows oxigraph / memory | oxigraph p50 / p99 | memory p50 / p99 "
                  "| memory/oxigraph | runs | prepare | ox raw p50 |", "|---|---|---|---|---|---|---|---|"]
        for path in QUERIES:
            a, b = ox["queries"][path.stem], mem["queries"][path.stem]
            if "error" in a or "error" in b:
                lines.append(f"| {path.stem} | {a.get('error', a.get('rows'))} / "
                             f"{b.get('error', b.get('rows'))} | | | | | | |")
                mismatches.append(f"{size:,}: {path.stem}: {a.get('error', 'ok')} / {b.get('error', 'ok')}")
                continue
            ratio = statistics.median(b["times"]) / statistics.median(a["times"])
            flag = "" if a["rows"] == b["rows"] else " **differ**"
            lines.append(
                f"| {path.stem} | {a['rows']:,} / {b['rows']:,}{flag} "
                f"| {ms(statistics.median(a['times']))} / {ms(p99(a['times']))} "
                f"| {ms(statistics.median(b['times']))} / {ms(p99(b['times']))} | {ratio:,.1f}x "
                f"| {len(a['times'])} / {len(b['times'])} | {ms(a['prepare'])} | {ms(a.get('raw'))} |")
            if a["rows"] != b["rows"]:
                mismatches.append(f"{size:,}: {path.stem}: {a['rows']:,} rows from oxigraph, "
                                  f"{b['rows']:,} from memory")
            elif a["digest"] != b["digest"]:
                mismatches.append(f"{size:,}: {path.stem}: same number of rows ({a['rows']:,}), "
                                  "different values")
    lines += ["", "Differences between the stores:" if mismatches else "The stores agree on every query.", ""]
    lines += [f"- {m}" for m in mismatches]
    return "\n".join(lines).rstrip() + "\n"


def write_section(section):
    """Replace this script's section of RESULTS.md (up to the next ## heading), keeping the rest."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    start = old.find(HEADING)
    if start < 0:
        new = old.rstrip() + "\n\n" + section
    else:
        end = old.find("\n## ", start + len(HEADING))
        new = old[:start] + section + ("\n" + old[end + 1:] if end >= 0 else "")
    generate.write_atomically(RESULTS, new)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="studies per library, comma-separated")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per query at most (default 20)")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds of timed runs per query and store (default 10)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one store may take in all")
    parser.add_argument("--write", action="store_true", help=f"replace the section in {RESULTS.name}")
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.runs, args.budget)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for size in sizes:
        data = BENCH / "out" / str(size)
        generate.generate(size, data)
        results[size] = {}
        for kind in KINDS:
            print(f"{size:,} studies, {kind}...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            results[size][kind] = measure(kind, data, args.runs, args.budget, args.timeout)
            print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    section = report(results, sizes, args.runs, args.budget)
    print(section)
    if args.write:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
