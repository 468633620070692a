"""The served dataset's validation: computed once, kept, and shown at /validation (the report and the
shapes' coverage, with .ttl, .jsonld, .nt, .rdf and .json twins) and on every resource page.

The report is computed by a query worker in a background thread the first time anything asks for
it, so starting the server costs nothing and no request waits for it except /validation itself;
until it is ready, pages say validation is not available yet. /validation's is a full pyshacl run
with the shapes' coverage (kg.shacl_service.CheckDataset); the pages' results come from the
validation cache the start-up check has just filled (CheckServedFiles: the same results, in seconds
where the full run takes minutes), unless the data are not files here (a sparql: store) or are
files the cache does not validate (TriG or N-Quads, such as the writes file): then pages share
/validation's report. One report is kept per worker pool: whatever serves new data through a new
pool (a reload, a write) gets a new report without asking; forget(app) drops them for any other change.
"""

import json
import threading
import time
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template

from kg import dataset, formats, writer
from kg.endpoint import Answer
from kg.namespaces import SHAPES
from kg.served_results import CheckServedFiles
from kg.shacl_service import HTML, JSON, CheckDataset
from kg.web import resources
from kg.web.errors import problem
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout

bp = Blueprint("validation", __name__)

RETRY_AFTER = 30  # seconds before a validation that failed for a passing reason is tried again
TWINS = {"html": HTML, "ttl": "text/turtle", "jsonld": "application/ld+json", "nt": "application/n-triples",
         "rdf": "application/rdf+xml", "json": JSON}


class DatasetValidation:
    """The served dataset's DatasetReport (or DatasetResults, for job=CheckServedFiles), asked of the
    query workers once, in the background."""

    def __init__(self, pool, timeout, job=None):
        self.pool, self._timeout = pool, timeout
        self.job = CheckDataset() if job is None else job
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._running = False
        self._failed_at = None
        # A validation that ran out of time will run out of time again on the same data: trying it
        # every RETRY_AFTER seconds would keep a query worker busy for nothing (a 10k library).
        self._gave_up = False
        self.report = None
        self.error = None

    def get(self, wait=0.0):
        """The DatasetReport, or None while it is being computed (or failed); starts it if need be and
        waits up to `wait` seconds for it."""
        with self._lock:
            retry = not self._gave_up and (
                self._failed_at is None or time.monotonic() - self._failed_at > RETRY_AFTER)
            if self.report is None and not self._running and retry:
                self._running = True
                self._ready.clear()
                threading.Thread(target=self._compute, daemon=True).start()
        if wait and self.report is None:
            self._ready.wait(wait)
        return self.report

    def _compute(self):
        report = error = None
        gave_up = False
        try:
            answer = self.pool.run(self.job, self._timeout)
        except WorkTimeout as exc:
            gave_up = True
            error = (f"the dataset is too large to validate within VALIDATION_TIMEOUT ({exc}); "
                     "kg validate --changed checks it file by file")
        except PoolBusy as exc:
            error = f"the validation did not finish in time ({exc})"
        except WorkerCrashed as exc:
            error = str(exc)
        else:
            report, error = (None, answer.message) if isinstance(answer, Answer) else (answer, None)
        with self._lock:
            self.report, self.error, self._running = report, error, False
            self._gave_up = gave_up
            self._failed_at = time.monotonic() if report is None else None
        self._ready.set()


_CREATE = threading.RLock()  # re-entered: the pages' holder may be the full report's


def dataset_validation(app=None):
    """The app's DatasetValidation of the full report (/validation), made on first use."""
    return _kept(app or current_app, "kg.validation",
                 lambda app: DatasetValidation(app.extensions["kg.pool"], app.config["VALIDATION_TIMEOUT"]))


def page_validation(app=None):
    """The DatasetValidation whose results the resource pages show, made on first use."""
    return _kept(app or current_app, "kg.validation.pages", _for_pages)


def _for_pages(app):
    job = None
    if not app.config["STORE"].startswith("sparql:"):  # a sparql: store's data are on its server
        files = writer.served_files(app.config)
        if not any(Path(f).suffix.lower() in dataset.QUAD_FORMATS for f in files):
            cache = app.config.get("VALIDATION_CACHE")
            job = CheckServedFiles(tuple(files), None if cache is None else str(cache))
    if job is None:
        return dataset_validation(app)
    return DatasetValidation(app.extensions["kg.pool"], app.config["VALIDATION_TIMEOUT"], job)


def _kept(app, key, make):
    """The DatasetValidation kept under key for the current pool, made by make(app) if need be."""
    pool = app.extensions["kg.pool"]
    with _CREATE:
        found = app.extensions.get(key)
        if found is None or found.pool is not pool:
            found = make(app)
            app.extensions[key] = found
    return found


def forget(app):
    """Drop the kept reports (after the data changed): the next page to ask computes them again."""
    app.extensions.pop("kg.validation", None)
    app.extensions.pop("kg.validation.pages", None)


@bp.app_template_global()
def validation_status(iri, parts=()):
    """What a resource page says about its validation: the results on the resource and on its parts
    (a study's publication, outcomes...), or why there are none to show yet."""
    holder = page_validation()
    report = holder.get()
    if report is None:
        return {"available": False, "error": holder.error}
    seen, results = set(), []
    for node in (iri, *parts):
        for index in report.pages.get(str(node), ()):
            if index not in seen:
                seen.add(index)
                results.append(report.results[index])
    return {"available": True, "results": results, "iri": str(iri),
            "conforms": all(r.severity != "Violation" for r in results)}


@bp.app_template_global()
def shape_href(shape):
    """The documentation of one of this server's shapes on /shapes, or None for another's shape."""
    text = str(shape or "")
    local = text[len(str(SHAPES)):]
    return f"/shapes#{local}" if text.startswith(str(SHAPES)) and local else None


@bp.route("/validation")
@bp.route(f"/validation.<any({','.join(TWINS)}):extension>")
def validation(extension=None):
    media_type = TWINS[extension] if extension else resources.negotiate(list(TWINS.values()))
    holder = dataset_validation()
    report = holder.get(wait=current_app.config["QUERY_TIMEOUT"])
    if report is None:
        problem(503, f"The dataset's validation is not available yet: {holder.error or 'it is running'}. "
                "Try again shortly.", {"Retry-After": "5"})
    if media_type == HTML:
        alternates = [(f"/validation.{ext}", m) for ext, m in TWINS.items()]
        page = render_template("validation.html", report=report, summary=report.report(),
                               alternates=alternates)
        response = Response(page, mimetype=HTML)
    elif media_type == JSON:
        response = Response(json.dumps(_document(report), ensure_ascii=False, indent=1) + "\n", mimetype=JSON)
    else:
        response = Response(report.documents[media_type], content_type=formats.content_type(media_type))
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(f'</validation.{ext}>; rel="alternate"; type="{m}"'
                                         for ext, m in TWINS.items())
    if extension is None:
        response.headers["Content-Location"] = f"/validation.{_extension(media_type)}"
    return response


def _extension(media_type):
    return next(ext for ext, m in TWINS.items() if m == media_type)


def _document(report):
    document = report.report().to_json()
    coverage = report.coverage
    document["coverage"] = {
        "subjects": coverage.subjects,
        "shapes": [{"shape": c.shape, "label": c.label, "focus_nodes": c.focus_nodes}
                   for c in coverage.shapes],
        "untargeted": [{"node": node, "label": label} for node, label in coverage.untargeted],
        "untargeted_blank_nodes": [{"held_by_property": p, "nodes": n, "holders": h}
                                   for p, n, h in coverage.untargeted_blank],
    }
    document["seconds"] = round(report.seconds, 3)
    return document

