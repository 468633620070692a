"""A pool of worker processes for work that must be stoppable.

Neither rdflib nor pyoxigraph can cancel a running query and Python threads cannot be
killed, so each query runs in a pre-started process. When a query runs past its deadline
the process is killed (a few milliseconds) and a fresh one is started in the background,
while the other workers keep answering.
"""

import logging
import multiprocessing
import queue
import resource
import signal
import threading
import time

from kg.errors import KGError

log = logging.getLogger(__name__)
MIN_RUN = 0.05  # seconds: a job left less than this after waiting for a worker is not started
START_RETRIES = (1, 2, 4, 8, 16)  # seconds between attempts to replace a worker that failed to start


class PoolBusy(KGError):
    """Every worker stayed busy until the request's deadline."""


class WorkTimeout(KGError):
    """The work ran past its deadline and its worker was killed."""


class WorkerCrashed(KGError):
    """The worker died while working (killed from outside, out of memory, a crash in native code)."""


def _worker_main(conn, init, init_args, handle, memory_limit):
    # Ctrl-C goes to the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit:
        # A runaway query should kill its worker, not the machine.
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    try:
        state = init(*init_args)
    except KGError as exc:
        # Say why (a data file that does not parse, say) instead of dying without a word.
        conn.send(("failed", str(exc)))
        return
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(handle(state, job))


class _Worker:
    def __init__(self, context, init, init_args, handle, memory_limit, start_timeout):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, init, init_args, handle, memory_limit), daemon=True
        )
        self.process.start()
        child.close()
        try:
            message = self.conn.recv() if self.conn.poll(start_timeout) else None
        except (EOFError, OSError):
            message = ("failed", "the worker process exited while starting")
        if message != "ready":
            self.kill()
            reason = message[1] if message else f"it did not start within {start_timeout} s"
            raise WorkerCrashed(reason)

    def kill(self):
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """`size` processes, each running `init(*init_args)` once and then `handle(state, job)` per job.

    `init` and `handle` must be importable module-level functions (workers are spawned, not
    forked, because forking a threaded web server is unsafe).
    """

    def __init__(self, init, init_args=(), handle=None, size=2, memory_limit=None, start_timeout=300):
        self._context = multiprocessing.get_context("spawn")
        self._spec = (init, tuple(init_args), handle, memory_limit, start_timeout)
        self._idle = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._workers = set()
        self._active = 0  # jobs running or waiting for a worker
        self._successor = None  # the pool that took over, once this one is retired
        self.start_error = None
        starters = [threading.Thread(target=self._add_worker) for _ in range(size)]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        if self._idle.qsize() < size:
            self.close()
            raise WorkerCrashed(f"the query workers could not be started: {self.start_error}")
        self.size = size

    def _add_worker(self, retries=()):
        for pause in (*retries, None):
            try:
                worker = _Worker(self._context, *self._spec)
                break
            except (WorkerCrashed, OSError) as exc:
                log.error("starting a worker failed: %s", exc)
                self.start_error = str(exc)
            if pause is None or self._closed:
                return
            time.sleep(pause)
        with self._lock:
            if self._closed:
                worker.kill()
                return
            self._workers.add(worker)
        self._idle.put(worker)

    def _replace(self, worker):
        with self._lock:
            # Whoever takes the worker out of the set kills it, once: a close() running at the same
            # moment has taken it already, and a second close of its pipe could close a reused fd.
            owned = worker in self._workers
            self._workers.discard(worker)
        if owned:
            worker.kill()
        if not self._closed:
            # A replacement that fails (memory short for a moment) is tried again, so the pool heals.
            threading.Thread(target=self._add_worker, args=(START_RETRIES,), daemon=True).start()

    def run(self, job, timeout):
        """The worker's answer to `job`, or PoolBusy / WorkTimeout / WorkerCrashed within `timeout` s.

        A retired pool hands new jobs to its successor, and closes when its last job is done.
        """
        with self._lock:
            successor = self._successor if self._closed else None
            if successor is None:
                self._active += 1
        if successor is not None:
            return successor.run(job, timeout)
        try:
            return self._run(job, timeout)
        finally:
            with self._lock:
                self._active -= 1
                done = self._successor is not None and self._active == 0 and not self._closed
                self._closed = self._closed or done
            if done:
                self._kill_all()

    def retire(self, successor):
        """Hand new jobs to successor; close once the jobs already running here are done (a reader's
        query is not killed because the data was reloaded under it)."""
        with self._lock:
            self._successor = successor
            done = self._active == 0 and not self._closed
            self._closed = self._closed or done
        if done:
            self._kill_all()

    def _run(self, job, timeout):
        deadline = time.monotonic() + timeout
        try:
            worker = self._idle.get(timeout=max(timeout, 0))
        except queue.Empty:
            raise PoolBusy(f"every query worker stayed busy for {timeout:g} s") from None
        if deadline - time.monotonic() < MIN_RUN:
            # The wait used up the time: give up now rather than kill a healthy worker a moment later.
            self._idle.put(worker)
            raise PoolBusy(f"every query worker stayed busy for {timeout:g} s")
        try:
            worker.conn.send(job)
            if worker.conn.poll(max(deadline - time.monotonic(), 0)):
                answer = worker.conn.recv()
                self._idle.put(worker)
                return answer
        except (EOFError, OSError):
            self._replace(worker)
            raise WorkerCrashed("the query worker died while running the query") from None
        self._replace(worker)
        raise WorkTimeout(f"stopped after {timeout:g} s")

    @property
    def idle(self):
        return self._idle.qsize()

    def close(self):
        with self._lock:
            self._closed = True
        self._kill_all()

    def _kill_all(self):
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.kill()
