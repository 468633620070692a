"""How web views ask the store: through the query workers, so a page can never hang the server."""

from flask import current_app

from kg.describe import View
from kg.endpoint import Answer
from kg.web import admission
from kg.web.errors import problem
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout


def run(job, timeout=None):
    """The worker's answer to a kg.describe job, or an HTTP error a person can read."""
    timeout = timeout or current_app.config["QUERY_TIMEOUT"]
    try:
        answer = admission.run(job, timeout)
    except (WorkTimeout, PoolBusy):
        problem(503, "The server is busy and could not build this page in time; try again shortly.",
                {"Retry-After": "2"})
    except WorkerCrashed:
        problem(500, "The query worker stopped while building this page; it has been replaced.")
    if isinstance(answer, Answer):
        problem(answer.status, answer.message)
    return answer


def select(query, limit=None, **bindings):
    """The rows (dicts by variable name) of a SELECT; values from requests go in as bindings.

    Every bound variable must appear in the SELECT clause (SPARQL SEP-0007, as oxigraph applies it).
    """
    result = run(View(query, tuple(sorted(bindings.items())), limit))
    return [dict(zip(result.variables, row, strict=True)) for row in result.rows]


def cached(key, compute):
    """The dataset is read-only while the server runs, so what does not depend on a request is kept."""
    cache = current_app.extensions.setdefault("kg.views", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]
