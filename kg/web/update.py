"""Curators' writes over HTTP: SPARQL Update on /sparql (the Graph Store is kg.web.graph_store).

Without WRITE_TOKEN the server is read-only and refuses every write with 403. With it, a write
needs `Authorization: Bearer <token>` (401 otherwise), is computed and validated against the
shapes on a copy, and is committed whole or refused whole: 422 with the validation report.
"""

import json
import logging

from flask import Response, current_app, render_template, request

from kg import negotiation, writer
from kg.errors import UsageError
from kg.web import reload
from kg.web.errors import problem
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout
from kg.writes import UPDATE

log = logging.getLogger(__name__)
READ_ONLY = ("This endpoint is read-only: SPARQL Update is refused. "
             "Curators write through the authenticated curation service.")
REPORT_OFFERS = ["application/problem+json", "application/json", "text/turtle", "text/html", "text/plain"]


def enable(app):
    """Start the write worker when WRITE_TOKEN is set; the server stays read-only otherwise."""
    app.extensions["kg.writer"] = None
    if not app.config["WRITE_TOKEN"]:
        return
    if app.config["STORE"].startswith("sparql:"):
        raise UsageError("writes go to the data files this server loads; a sparql: store's server holds "
                         "its own data: write to it directly, or load the files with kg load --into")
    if app.config["STORE_PATH"] is not None:
        raise UsageError("writes need the in-memory store: the query workers are restarted on the new "
                         "data after each write, which an on-disk store does not allow while served")
    app.extensions["kg.writer"] = writer.Writer(app.config, lambda: reload.reload(app))


def authenticate():
    """The curator the request's bearer token names; 403 when writes are off, 401 without a good token."""
    writes = current_app.extensions.get("kg.writer")
    if writes is None:
        problem(403, READ_ONLY)
    agent = writer.curator(writes.curators, request.headers.get("Authorization"))
    if agent is None:
        challenge = 'Bearer realm="msc-kg"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        problem(401, "Writing needs a curator's token: send it as 'Authorization: Bearer <token>'.",
                {"WWW-Authenticate": challenge})
    return agent


def sparql_update(params):
    """A SPARQL Update request (the protocol's update= or application/sparql-update body)."""
    agent = authenticate()
    if request.method != "POST":
        problem(400, "Send an update with POST, as application/sparql-update or an update= form field.")
    updates = params.get("update", [])
    if len(updates) != 1 or "query" in params:
        problem(400, "Send exactly one update, and no query beside it.")
    fields = {"operation": UPDATE, "update": updates[0], "base": current_app.config["PUBLIC_BASE"],
              "using": tuple(params.get("using-graph-uri", [])),
              "using_named": tuple(params.get("using-named-graph-uri", []))}
    result = run(agent, "SPARQL Update", fields)
    return result if isinstance(result, Response) else answer(result)


def run(agent, label, fields):
    """(Outcome, activity, reload error) of one write; a 422 Response when the shapes refused it;
    other refusals are raised as HTTP errors."""
    writes = current_app.extensions["kg.writer"]
    timeout = current_app.config["WRITE_TIMEOUT"]
    try:
        result = writes.write(agent, label, timeout, **fields)
    except WorkTimeout:
        problem(503, f"The write ran past its {timeout:g}-second limit and was stopped; nothing changed.",
                {"Retry-After": "1"})
    except PoolBusy:
        problem(503, "Another write took too long to finish; nothing changed. Try again shortly.",
                {"Retry-After": "2"})
    except WorkerCrashed:
        problem(500, "The write worker stopped while computing this write (for example it ran out of "
                "memory); nothing changed.")
    except OSError as exc:
        log.error("a commit failed: %s", exc)
        problem(500, "The write could not be saved; nothing changed. The error was logged.")
    outcome = result[0]
    if outcome.status == 422:
        return refused(outcome)
    if outcome.status != 200:
        problem(outcome.status, outcome.message)
    return result


def answer(result, status=200, headers=None):
    """What a committed (or empty) write answers: JSON saying what changed and whether it is served."""
    outcome, activity, reload_error = result
    body = {"committed": bool(outcome.changes), "graphs": list(outcome.graphs),
            "validation": outcome.summary or None, "activity": activity,
            "served": reload_error is None}
    if reload_error is not None:
        body["detail"] = ("Committed, but the server still serves the previous data: the reload failed: "
                          + reload_error)
    elif not outcome.changes:
        body["detail"] = outcome.message
    return Response(json.dumps(body, ensure_ascii=False) + "\n", status, headers or {},
                    mimetype="application/json")


def refused(outcome):
    """422 with the validation report, as problem JSON (report inside), Turtle, HTML or text."""
    try:
        chosen = negotiation.choose(request.headers.get("Accept"), REPORT_OFFERS)
    except negotiation.AcceptError:
        chosen = None
    title = "Unprocessable Content"
    document = {"type": "about:blank", "title": title, "status": 422, "detail": outcome.message}
    if chosen in ("application/problem+json", "application/json"):
        body = json.dumps({**document, "report": outcome.report["json"]}, ensure_ascii=False)
        mimetype = chosen
    elif chosen == "text/turtle":
        body, mimetype = outcome.report["turtle"], "text/turtle"
    elif chosen == "text/html":
        body = render_template("write_refused.html", problem=document, report=outcome.report["text"])
        mimetype = "text/html"
    else:
        body, mimetype = f"422 {title}: {outcome.message}\n\n{outcome.report['text']}\n", "text/plain"
    response = Response(body, 422, mimetype=mimetype)
    response.headers["Vary"] = "Accept"
    return response
