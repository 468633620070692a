"""/health answers at once, even while every query worker is busy; every request is logged once."""

import json
import logging
import threading
import urllib.parse

import pytest

from tests.live import request, running_server

CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"




def test_health_reports_the_workers_and_the_dataset(app):
    response = app.test_client().get("/health")
    body = json.loads(response.data)
    assert response.status_code == 200
    assert body == {"status": "ok", "workers": 1, "idle_workers": 1,
                    "triples": app.extensions["kg.stats"]["default_triples"]}


@pytest.mark.parametrize(("given", "kept"), [("abc-123", True), ("x" * 65, False), ("a b", False),
                                             (None, False)])
def test_every_request_is_logged_once_with_its_request_id(app, caplog, given, kept):
    with caplog.at_level(logging.INFO, logger="kg.access"):
        headers = {"X-Request-Id": given} if given else {}
        response = app.test_client().get("/sparql?query=ASK%7B%7D", headers=headers)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kg.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert (line["request_id"] == given) is kept
    assert line["status"] == 200 and line["path"] == "/sparql" and line["ms"] >= 0


def test_health_answers_while_every_worker_is_busy():
    with running_server("--timeout", "3", "--workers", "1") as server:
        slow = threading.Thread(target=request, args=(server, "GET", "/sparql?" + urllib.parse.urlencode(
            {"query": CARTESIAN})))
        slow.start()
        try:
            busy = []
            # /health answers again and again while the only worker runs the slow query.
            while slow.is_alive() and not busy:
                status, _, body = request(server, "GET", "/health", timeout=2)
                assert status == 200
                busy = [json.loads(body)] if json.loads(body)["idle_workers"] == 0 else []
            assert busy, "the slow query never held the worker"
            assert slow.is_alive(), "the slow query was to keep the only worker busy meanwhile"
        finally:
            slow.join(10)
