"""The Flask application factory."""

import atexit
import logging
import os

from flask import Flask

from kg import config, writer
from kg.endpoint import Stats
from kg.errors import UsageError
from kg.store import open_store
from kg.web import browse, documentation, errors, health, render, resources, security, sparql, views
from kg.web.admission import create as create_admission
from kg.web.graph_store import bp as graph_store_bp
from kg.web.reload import start_pool
from kg.web.shacl import bp as shacl_bp
from kg.web.update import enable as enable_writes
from kg.web.validation_page import bp as validation_bp

# Every limit the server enforces, with its default; docs/endpoint.md says what each one means.
DEFAULTS = {
    "STORE": "oxigraph",  # or "memory" (rdflib), or "sparql:URL" (a SPARQL 1.1 server's query URL)
    "STORE_PATH": None,  # a directory for an on-disk oxigraph store
    "GRAPH_STORE": None,  # a sparql: store's Graph Store Protocol URL (for writes; reads are queries)
    "DATA_FILES": None,  # the files to serve; None means ontology/ and data/
    "WORKERS": 4,  # forked from one process holding the data: they share one copy of it
    "QUERY_TIMEOUT": 10.0,  # seconds; a request's timeout= may only lower it
    "MAX_ROWS": 10_000,
    "PAGE_SIZE": 50,  # study cards on one page of a listing (home sections, /browse, indications...)
    "MAX_RESULT_BYTES": 16 * 1024 * 1024,
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_QUERY_BYTES": 256 * 1024,
    "WORKER_MEMORY_BYTES": 4 * 1024 ** 3,
    # Admission to the workers (kg/web/admission.py): past these, 429 with Retry-After.
    "MAX_QUEUE": 32,  # requests waiting for a worker, all clients together
    "CLIENT_QUEUE": 8,  # requests waiting for a worker from one client
    "CLIENT_BUDGET": 30.0,  # seconds of worker time one client may use per CLIENT_WINDOW
    "CLIENT_WINDOW": 60.0,  # seconds
    "TRUSTED_PROXIES": 0,  # reverse proxies whose X-Forwarded-For names the client; 0: none
    "VALIDATION_TIMEOUT": 60.0,  # seconds for the dataset's own validation (/validation, the pages)
    "VALIDATION_CACHE": None,  # the start-up check's cache, where pages take their results; None: .kg-cache/
    # The base of the IRIs the data mints, and so of the paths this server answers at; it may
    # differ from the address the server runs at (as Pubby's and LodView's do).
    "PUBLIC_BASE": config.BASE,
    # Writes (docs/endpoint.md, "Writes"): None keeps the server read-only. TOKEN or NAME:TOKEN,...
    "WRITE_TOKEN": None,
    "WRITES_FILE": None,  # where new graphs go; None: writes.trig beside the data
    "WRITE_TIMEOUT": 60.0,  # seconds for computing and validating one write
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
    writer.recover(app.config)
    files = writer.served_files(app.config)
    if app.config["STORE_PATH"] is not None:
        # Load the on-disk store here, once, and close it before the workers open it read-only.
        open_store(app.config["STORE"], files=files, path=app.config["STORE_PATH"]).close()
    pool = start_pool(app.config, files)
    atexit.register(pool.close)
    app.extensions["kg.pool"] = pool
    app.extensions["kg.admission"] = create_admission(app)
    app.extensions["kg.stats"] = Stats(pool, app.config["QUERY_TIMEOUT"])
    enable_writes(app)
    errors.register(app)
    render.register(app)
    security.register(app)
    health.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(browse.bp)
    app.register_blueprint(documentation.bp)
    app.register_blueprint(graph_store_bp)
    app.register_blueprint(shacl_bp)
    app.register_blueprint(validation_bp)
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
    if app.extensions.get("kg.writer") is not None:
        app.extensions["kg.writer"].close()
