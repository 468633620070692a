"""/health, and one structured log line per request (request id, status, time taken)."""

import json
import logging
import re
import time
import uuid

from flask import Blueprint, Response, current_app, g, request

bp = Blueprint("health", __name__)
access = logging.getLogger("kg.access")
# A client's own X-Request-Id is kept when it is short and plain, so logs can be joined across hops.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@bp.route("/health")
def health():
    # Never asks a worker: it must answer at once while every worker is busy.
    pool = current_app.extensions["kg.pool"]
    body = {"status": "ok", "workers": pool.size, "idle_workers": pool.idle,
            "triples": current_app.extensions["kg.stats"]["default_triples"]}
    return Response(json.dumps(body) + "\n", mimetype="application/json")


def register(app):
    @app.before_request
    def start():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.started = time.monotonic()

    @app.after_request
    def log(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        access.info(json.dumps({
            "request_id": g.get("request_id"), "method": request.method, "path": request.path,
            "status": response.status_code,
            "ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1000, 1),
        }))
        return response
