"""One error handler and one error body shape (RFC 9457 problem details), negotiated like every answer."""

import json
import logging

from flask import Response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from kg import negotiation
from kg.errors import RemoteUnavailable
from kg.workers import PoolBusy, WorkTimeout

log = logging.getLogger(__name__)

ERROR_OFFERS = ["application/problem+json", "application/json", "text/html", "text/plain"]


class Problem(HTTPException):
    """An HTTP error with a message a person can act on; raise it from any view."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.code = status
        self.message = message
        self.extra_headers = headers or {}


def problem(status, message, headers=None):
    raise Problem(status, message, headers)


def render_problem(status, title, message, headers=None):
    """The error body in the format the client prefers; text when it accepts none of them."""
    try:
        chosen = negotiation.choose(request.headers.get("Accept"), ERROR_OFFERS)
    except negotiation.AcceptError:
        chosen = None
    body = {"type": "about:blank", "title": title, "status": status, "detail": message}
    if chosen in ("application/problem+json", "application/json"):
        response = Response(json.dumps(body, ensure_ascii=False) + "\n", status, mimetype=chosen)
    elif chosen == "text/html":
        response = Response(render_template("error.html", problem=body), status, mimetype="text/html")
    else:
        response = Response(f"{status} {title}: {message}\n", status, mimetype="text/plain")
    response.headers["Vary"] = "Accept"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_http_exception(exc):
    if isinstance(exc, Problem):
        return render_problem(exc.code, _title(exc.code), exc.message, exc.extra_headers)
    headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    return render_problem(exc.code, exc.name, exc.description or exc.name, headers)


def handle_internal_error(exc):
    # Flask passes unhandled exceptions here wrapped in InternalServerError; log them, show no trace.
    original = getattr(exc, "original_exception", None)
    if original is not None:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    return render_problem(500, "Internal Server Error",
                          "The server failed to answer this request. The error was logged.")


def handle_unavailable(exc):
    # Raised in the web process only where it asks a worker outside a view's own handling (kg.stats).
    if isinstance(exc, RemoteUnavailable):
        return render_problem(exc.status, _title(exc.status), str(exc))
    return render_problem(503, _title(503), "Every query worker is busy; try again shortly.",
                          {"Retry-After": "2"})


def _title(status):
    return HTTP_STATUS_CODES.get(status, "Error")


def register(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_internal_error)
    for error in (RemoteUnavailable, PoolBusy, WorkTimeout):
        app.register_error_handler(error, handle_unavailable)
