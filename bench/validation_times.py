"""How long validation takes: full pyshacl runs, and kg.incremental cold, unchanged, one study changed.

    python bench/validation_times.py --full 1000,2000 --incremental 10000
    python bench/validation_times.py --per-shape 200,400     # where a full validation's time goes
    python bench/validation_times.py --startup 10000 [--store-path]   # serve.py start to first answer
    python bench/validation_times.py --unchanged 10000   # after --incremental: the unchanged checks alone
    python bench/validation_times.py --page-validation 10000   # after --incremental: first filled page

Full: kg.validation.validate on the synthetic library (bench/generate.py, 1000 studies a file) with the
real ontology/msc.ttl and data/{vocabulary,library,sources}.ttl. Incremental: the same library laid
out one study a file, as data/studies/ is, with a cache under bench/out/ (a fresh one for the cold run);
then a run with nothing changed, then one with one study's summary edited; after the first two, the
start-up check alone (last_outcome). Per shape: each named node
shape validated alone on the full library (one file a 1000 studies), so a shape whose time grows faster
than the library shows. Start-up: serve.py with its start-up validation, on the one-file-a-study library
with a fresh validation cache: first start, second start (nothing changed), start after one study changed;
each from the process start to the first answer of an ASK query.
"""

import argparse
import re
import shutil
import sys
import time
import urllib.parse

import generate
from loadgen import BENCH, fetch, free_port, running
from rdflib import RDF, URIRef
from rdflib.namespace import SH

from kg import dataset
from kg.incremental import Progress, _subgraph, last_outcome, validate_changed
from kg.namespaces import SHAPES
from kg.validation import load_shapes, node_sources, validate, validate_graph


def full(size, shapes=None):
    files = generate.generate(size, BENCH / "out" / str(size))[0]
    started, cpu = time.perf_counter(), time.process_time()
    report = validate(generate.BASE_FILES + files, shapes)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"full, {size:,} studies: {seconds:.1f} s ({cpu:.1f} s CPU), {report.summary()}", flush=True)


def per_shape(size):
    files = generate.BASE_FILES + generate.generate(size, BENCH / "out" / str(size))[0]
    data = dataset.load_dataset(files)
    sources = node_sources(data, files)
    shapes = load_shapes()
    named = sorted(s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef))
    for shape in named:
        started = time.perf_counter()
        report = validate_graph(data, _subgraph(shapes, [shape]), sources)
        seconds = time.perf_counter() - started
        print(f"per shape, {size:,} studies, {str(shape).removeprefix(str(SHAPES))}: {seconds:.2f} s, "
              f"{len(report.results)} results", flush=True)


def startup(size, store_path):
    data = BENCH / "out" / f"{size}-per-study"
    files = generate.BASE_FILES + generate.generate(size, data, per_file=1)[0]
    cache = BENCH / "out" / f"startup-cache-{size}"
    store = BENCH / "out" / f"startup-store-{size}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)
    ask = "/sparql?query=" + urllib.parse.quote("ASK { ?s ?p ?o }")
    for what in ("first start (empty cache)", "second start (nothing changed)", "one study changed"):
        if what == "one study changed":
            study = data / "synthetic-studies-000042.ttl"
            study.write_text(study.read_text().replace("msc:summary \"", "msc:summary \"Edited. ", 1))
        port = free_port()
        command = [sys.executable, str(generate.ROOT / "serve.py"), "--port", str(port), "--workers", "1",
                   "--validation-cache", str(cache), *(["--store-path", str(store)] if store_path else []),
                   "--data", *map(str, files)]
        with running(f"startup-{size}", command, port, ask, BENCH / "out" / "logs", timeout=7200) as server:
            checked = [line for line in server.log.read_text().splitlines() if "checked the data" in line]
            where = ", on disk" if store_path else ""
            print(f"serve.py, {size:,} studies{where}, {what}: first answer after "
                  f"{server.started:.1f} s; {checked[0] if checked else 'no check logged'}", flush=True)
    started = time.perf_counter()
    outcome = last_outcome(files, cache)
    print(f"last_outcome alone, {size:,} studies: {time.perf_counter() - started:.2f} s, "
          f"{outcome.summary if outcome else 'no outcome'}", flush=True)
    generate.generate(size, data, per_file=1)  # undo the edit


def incremental(size):
    data = BENCH / "out" / f"{size}-per-study"
    files = generate.BASE_FILES + generate.generate(size, data, per_file=1)[0]
    cache = BENCH / "out" / f"cache-{size}"
    shutil.rmtree(cache, ignore_errors=True)
    for what in ("cold (empty cache)", "nothing changed", "one study changed"):
        if what == "one study changed":
            study = data / "synthetic-studies-000042.ttl"
            study.write_text(study.read_text().replace("msc:summary \"", "msc:summary \"Edited. ", 1))
        progress = Progress()
        started = time.perf_counter()
        report = validate_changed(files, cache_dir=cache, progress=progress)
        seconds = time.perf_counter() - started
        print(f"incremental, {size:,} studies, {what}: {seconds:.1f} s, validated {len(progress.validated)} "
              f"files, {len(progress.cached)} from the cache, passes run: {progress.passes or 'none'}; "
              f"{report.summary()}", flush=True)
        if what != "one study changed":
            # The start-up check's question, right after a run (files written moments before the
            # cold run are "racily clean" and hashed once) and after the next.
            started = time.perf_counter()
            outcome = last_outcome(files, cache)
            seconds = time.perf_counter() - started
            print(f"last_outcome after the {what} run, {size:,} studies: {seconds:.2f} s, "
                  f"{outcome.summary if outcome else 'no outcome'}", flush=True)
    generate.generate(size, data, per_file=1)  # undo the edit


def unchanged(size, repeat=3):
    """The "nothing changed" checks alone, over the --incremental library and cache as they are (the
    library is generated only if missing): one run brings the cache up to date, then each check is
    timed `repeat` times."""
    data = BENCH / "out" / f"{size}-per-study"
    studies = sorted(data.glob("synthetic-studies-*.ttl"))
    if studies:
        files = generate.BASE_FILES + [*studies, data / "synthetic-people.ttl"]
    else:
        files = generate.BASE_FILES + generate.generate(size, data, per_file=1)[0]
    cache = BENCH / "out" / f"cache-{size}"
    started = time.perf_counter()
    progress = Progress()
    validate_changed(files, cache_dir=cache, progress=progress)
    seconds = time.perf_counter() - started
    print(f"unchanged, {size:,} studies: bringing the cache up to date took {seconds:.1f} s "
          f"({len(progress.validated)} files validated)", flush=True)
    for check in ("last_outcome", "validate_changed") * repeat:
        started = time.perf_counter()
        if check == "last_outcome":
            outcome = last_outcome(files, cache)
            summary = outcome.summary if outcome else "no outcome"
        else:
            summary = validate_changed(files, cache_dir=cache).summary()
        print(f"unchanged, {size:,} studies, {check}: {time.perf_counter() - started:.2f} s, {summary}",
              flush=True)


def page_validation(size, wait=180):
    """serve.py over the --incremental library and its warm cache: time from the first request for a
    study page to a page whose Validation section is filled (polling every half second)."""
    data = BENCH / "out" / f"{size}-per-study"
    studies = sorted(data.glob("synthetic-studies-*.ttl"))
    files = generate.BASE_FILES + [*studies, data / "synthetic-people.ttl"]
    port = free_port()
    command = [sys.executable, str(generate.ROOT / "serve.py"), "--port", str(port),
               "--validation-cache", str(BENCH / "out" / f"cache-{size}"), "--data", *map(str, files)]
    ask = "/sparql?query=" + urllib.parse.quote("ASK { ?s ?p ?o }")
    logs = BENCH / "out" / "logs"
    with running(f"page-validation-{size}", command, port, ask, logs, timeout=1800) as server:
        began = time.perf_counter()
        while True:
            status, body = fetch(port, "/study/synthetic-000042", {"Accept": "text/html"}, timeout=wait)
            page = body.decode("utf-8", "replace")
            shown = page[page.find('<section class="validation"'):][:2000]
            seconds = time.perf_counter() - began
            if status != 200 or "not available" not in shown or seconds > wait:
                break
            time.sleep(0.5)
        said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown)).strip()[:160]
        print(f"page validation, {size:,} studies: server up after {server.started:.1f} s; {seconds:.1f} s "
              f"from the first page request to {'a filled' if 'not available' not in shown else 'no'} "
              f"Validation section (HTTP {status}): {said}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", default="", help="sizes for a full validation, comma-separated")
    parser.add_argument("--incremental", default="", help="sizes for incremental validation")
    parser.add_argument("--shapes", nargs="+", help="shapes files for --full (default: shapes/*.ttl)")
    parser.add_argument("--startup", default="", help="sizes for serve.py's start with validation")
    parser.add_argument("--store-path", action="store_true", help="--startup with an on-disk store")
    parser.add_argument("--per-shape", default="", help="sizes for a validation one shape at a time")
    parser.add_argument("--page-validation", default="", help="sizes for serve.py's first page with its "
                        "Validation section filled, over the library and cache --incremental left")
    parser.add_argument("--unchanged", default="", help="sizes for the nothing-changed checks alone, "
                        "over the library and cache --incremental left")
    args = parser.parse_args(argv)
    for size in filter(None, args.full.split(",")):
        full(int(size), args.shapes)
    for size in filter(None, args.per_shape.split(",")):
        per_shape(int(size))
    for size in filter(None, args.incremental.split(",")):
        incremental(int(size))
    for size in filter(None, args.unchanged.split(",")):
        unchanged(int(size))
    for size in filter(None, args.page_validation.split(",")):
        page_validation(int(size))
    for size in filter(None, args.startup.split(",")):
        startup(int(size), args.store_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
