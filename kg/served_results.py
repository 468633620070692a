"""The served dataset's validation results for the resource pages, from kg.incremental's cache: the
same results as a full pyshacl run over the store (tests/test_incremental.py, tests/test_page_validation.py),
in seconds once the server's start-up check has filled the cache, where the full run takes minutes
at 10,000 studies and cannot finish within VALIDATION_TIMEOUT.

The cache validates files; the pages show what the store serves. The two are the same when the
store was loaded from exactly these files as they are now, which a query worker checks before
answering from the cache: the store's graphs are the files' (none added or removed) and no file was
written since this module was imported, which a worker does before it loads its data. Otherwise
the store's own data are validated in full, as for /validation. A query worker runs this; no Flask.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

from kg import config, dataset, incremental

GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
IMPORTED_NS = time.time_ns()
# A file system keeps mtimes to the clock tick (a few ms on Linux): a file written that soon after
# this module was imported could show an mtime from before it.
TICK_NS = 100_000_000


@dataclass(frozen=True)
class CheckServedFiles:
    files: tuple  # the files the store was loaded from, as strings
    cache_dir: str | None = None  # the start-up check's (None: kg.incremental.CACHE_DIR)


@dataclass(frozen=True)
class DatasetResults:
    """The served dataset's results for the resource pages."""

    results: tuple  # kg.validation.Result
    pages: dict  # {IRI: indexes into results}, as kg.shacl_service.DatasetReport's
    seconds: float


def check(store, job, full):
    """DatasetResults of job.files from the cache; full(store) when the store may not hold exactly
    those files as they are now."""
    started = time.monotonic()
    files = [Path(f) for f in job.files]
    graphs = {str(row[0]) for row in store.query(GRAPHS).rows}
    if graphs != {str(dataset.graph_name(path)) for path in files} or any(map(_written_since_load, files)):
        return full(store)
    progress = incremental.Progress()
    report = incremental.validate_changed(files, job.cache_dir, progress)
    # Each result names its file as a validation of the store's graphs does: by its graph's name.
    prefix = config.BASE + "graph/"
    names = {dataset.display_path(p): str(dataset.graph_name(p))[len(prefix):] + ".ttl" for p in files}
    results = tuple(replace(r, file=names.get(r.file, r.file)) for r in report.results)
    return DatasetResults(results, pages(results, progress.holders.get), time.monotonic() - started)


def pages(results, holder):
    """{IRI: indexes into results}: each result under its focus node, or under the IRI holding it
    (holder(focus) for a blank one; None when no IRI does, and the result shows on no page)."""
    found = {}
    for index, result in enumerate(results):
        page = holder(result.focus) if result.focus.startswith("_:") else result.focus
        if page is not None:
            found.setdefault(page, []).append(index)
    return {iri: tuple(indexes) for iri, indexes in found.items()}


def _written_since_load(path):
    try:
        return path.stat().st_mtime_ns >= IMPORTED_NS - TICK_NS
    except OSError:  # gone: the store holds what it was
        return True
