"""What a query worker spends on each query of the mix, in-process: the oxigraph store's answers
written by pyoxigraph (kg.results, what the server does) against the same answers through rdflib
terms and kg.sparql (what every store can do, and what the oxigraph store did before).

    python bench/answers.py --data /tmp/native-10k     # files from bench/generate.py
    python bench/answers.py --studies 10000            # generates them into bench/out/10000

Both paths run kg.endpoint.answer on the same store, alternately, with the format a client of
bench/loadgen.py asks for and the row and byte limits raised as bench/http_servers.py raises them.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import generate
import loadgen

from kg.endpoint import Job, answer
from kg.store import Store, open_store


class ThroughTerms:
    """The oxigraph store answering through rdflib terms: Store.results as every store has it."""

    def __init__(self, store):
        self._store = store

    def results(self, *args, **options):
        return Store.results(self._store, *args, **options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a directory of generated Turtle files")
    parser.add_argument("--studies", type=int, default=10000, help="generate this many if no --data")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query and path (default 7)")
    args = parser.parse_args(argv)
    data = Path(args.data) if args.data else loadgen.BENCH / "out" / str(args.studies)
    if not args.data:
        generate.generate(args.studies, data)
    store = open_store("oxigraph", files=generate.BASE_FILES + sorted(data.glob("*.ttl")))
    paths = {"terms": ThroughTerms(store), "native": store}
    print(f"{len(store):,} triples in {data}; median of {args.runs} runs after one warm-up, ms\n")
    print("| query | bytes terms / native | terms | native | terms/native |\n|---|---|---|---|---|")
    for path in loadgen.QUERIES:
        text = path.read_text()
        job = Job(text, accept=loadgen.accept_for(text), max_rows=100_000_000, max_bytes=4 * 1024 ** 3)
        times, sizes = {name: [] for name in paths}, {}
        for run in range(args.runs + 1):
            for name, source in paths.items():
                started = time.perf_counter()
                reply = answer(source, job)
                if run:
                    times[name].append(time.perf_counter() - started)
                if reply.status != 200:
                    raise SystemExit(f"{path.stem} ({name}): {reply.status} {reply.message}")
                sizes[name] = len(reply.body)
        terms, native = (statistics.median(times[name]) * 1000 for name in paths)
        print(f"| {path.stem} | {sizes['terms']:,} / {sizes['native']:,} | {terms:.1f} | {native:.1f} "
              f"| {terms / native:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
