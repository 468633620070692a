"""Serving new data without a restart: start query workers on the files as they are now, and swap
them in only once they answer. A reload that fails (a file that no longer parses) leaves the last
good data served and says why; the queries running on the old workers finish there.
"""

import logging
import signal
import threading

from kg.endpoint import answer, open_after_fork, open_for_worker
from kg.errors import KGError
from kg.workers import PoolBusy, WorkerCrashed, WorkerPool, WorkTimeout
from kg.writer import served_files

log = logging.getLogger(__name__)
_lock = threading.Lock()


def start_pool(settings, files):
    """Query workers over files, forked from one process that loaded them once (each opens an on-disk
    store itself); for a sparql: store, workers that ask its server, which holds the data."""
    remote = None
    if settings["STORE"].startswith("sparql:"):
        # Each call to the server must end before the worker's deadline: a 504, not a 503.
        remote = {"graph_store": settings["GRAPH_STORE"], "timeout": 0.8 * settings["QUERY_TIMEOUT"]}
        files = settings["DATA_FILES"]
    return WorkerPool(open_for_worker, (settings["STORE"], files, settings["STORE_PATH"], remote), answer,
                      size=settings["WORKERS"], memory_limit=settings["WORKER_MEMORY_BYTES"],
                      after_fork=open_after_fork)


def reload(app):
    """Serve the files as they are now; None when done, else why the last good data is still served."""
    with _lock:
        if app.config["STORE_PATH"] is not None:
            message = "the data cannot be reloaded into an on-disk store while served; restart the server"
            log.error("reload refused: %s", message)
            return message
        try:
            pool = start_pool(app.config, served_files(app.config))
        except (WorkerCrashed, KGError, OSError) as exc:
            log.error("reload failed, still serving the previous data: %s", exc)
            return str(exc)
        try:
            stats = pool.run("stats", timeout=300)
        except (PoolBusy, WorkTimeout, WorkerCrashed) as exc:
            pool.close()
            log.error("reload failed, still serving the previous data: %s", exc)
            return str(exc)
        old = app.extensions["kg.pool"]
        app.extensions["kg.pool"] = pool
        app.extensions["kg.stats"] = stats
        app.extensions["kg.views"] = {}  # pages cached from the old data
        old.retire(pool)
        log.info("reloaded: %d triples served", stats["default_triples"])
        return None


def on_sighup(app):
    """Reload on SIGHUP, for curators who edit the files by hand (the dev server, `kg serve`)."""
    def handler(signum, frame):
        threading.Thread(target=reload, args=(app,), name="reload", daemon=True).start()

    signal.signal(signal.SIGHUP, handler)
