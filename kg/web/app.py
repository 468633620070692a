"""The Flask application factory."""

import atexit
import logging
import os

from flask import Flask

from kg import config, dataset
from kg.endpoint import Stats, answer, open_for_worker
from kg.errors import UsageError
from kg.store import open_store
from kg.web import browse, documentation, errors, health, render, resources, security, sparql, views
from kg.workers import WorkerPool

# Every limit the server enforces, with its default; docs/endpoint.md says what each one means.
DEFAULTS = {
    "STORE": "oxigraph",  # or "memory" (rdflib), or "sparql:URL" (a SPARQL 1.1 server's query URL)
    "STORE_PATH": None,  # a directory for an on-disk oxigraph store
    "GRAPH_STORE": None,  # a sparql: store's Graph Store Protocol URL (for writes; reads are queries)
    "DATA_FILES": None,  # the files to serve; None means ontology/ and data/
    "WORKERS": 2,
    "QUERY_TIMEOUT": 10.0,  # seconds; a request's timeout= may only lower it
    "MAX_ROWS": 10_000,
    "MAX_RESULT_BYTES": 16 * 1024 * 1024,
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_QUERY_BYTES": 256 * 1024,
    "WORKER_MEMORY_BYTES": 4 * 1024 ** 3,
    # The base of the IRIs the data mints, and so of the paths this server answers at; it may
    # differ from the address the server runs at (as Pubby's and LodView's do).
    "PUBLIC_BASE": config.BASE,
}


def create_app(config=None):
    """A ready app; its query workers are started and the dataset is loaded in each of them."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.update(from_environment())
    app.config.update(config or {})
    # The body limit is enforced by the views themselves, for chunked bodies too (Flask's own
    # MAX_CONTENT_LENGTH cuts a chunked body short without telling anyone).
    app.config["MAX_CONTENT_LENGTH"] = None
    app.json.sort_keys = False
    files = app.config["DATA_FILES"]
    remote = None
    if app.config["STORE"].startswith("sparql:"):
        # Its server holds the data; each call to it must end before the worker's deadline (504, not 503).
        remote = {"graph_store": app.config["GRAPH_STORE"], "timeout": 0.8 * app.config["QUERY_TIMEOUT"]}
    else:
        files = [str(f) for f in (dataset.default_files() if files is None else files)]
    if app.config["STORE_PATH"] is not None:
        # Load the on-disk store here, once, and close it before the workers open it read-only.
        open_store(app.config["STORE"], files=files, path=app.config["STORE_PATH"]).close()
    pool = WorkerPool(open_for_worker, (app.config["STORE"], files, app.config["STORE_PATH"], remote), answer,
                      size=app.config["WORKERS"], memory_limit=app.config["WORKER_MEMORY_BYTES"])
    atexit.register(pool.close)
    app.extensions["kg.pool"] = pool
    app.extensions["kg.stats"] = Stats(pool, app.config["QUERY_TIMEOUT"])
    errors.register(app)
    render.register(app)
    security.register(app)
    health.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(browse.bp)
    app.register_blueprint(documentation.bp)
    # Last: its catch-all path must not shadow the routes above.
    app.register_blueprint(resources.bp)
    logging.getLogger("kg").setLevel(logging.INFO)
    return app


def from_environment(environ=None):
    """Settings from MSC_KG_<NAME> variables (MSC_KG_QUERY_TIMEOUT=5), for servers such as gunicorn
    that call create_app() without arguments; each value is read as its default's type."""
    environ = os.environ if environ is None else environ
    settings = {}
    for name, default in DEFAULTS.items():
        raw = environ.get(f"MSC_KG_{name}")
        if raw is None:
            continue
        kind = type(default) if default is not None else str
        try:
            settings[name] = raw.split(",") if name == "DATA_FILES" else kind(raw)
        except ValueError:
            raise UsageError(f"MSC_KG_{name}={raw!r} is not a {kind.__name__}") from None
    return settings


def close_app(app):
    """Stop the app's query workers (tests build many apps; a server process just exits)."""
    app.extensions["kg.pool"].close()
