"""A pool of worker processes for work that must be stoppable.

Neither rdflib nor pyoxigraph can cancel a running query and Python threads cannot be
killed, so each query runs in a pre-started process. When a query runs past its deadline
the process is killed (a few milliseconds) and a fresh one takes its place, while the other
workers keep answering.

The workers are forked from one spawned process, the zygote, that loaded the data once
(decision 0011): they share its pages copy-on-write, so N workers cost about one copy of the
store, and a replacement is a fork (milliseconds), not a load. The web server itself is never
forked: it runs threads, and a child of a threaded process can inherit a lock held by a thread
that does not exist there. The zygote is spawned, so it starts with one thread and starts none.
"""

import logging
import multiprocessing
import os
import queue
import threading
import time

from kg.errors import KGError
from kg.zygote import Zygote, await_ready, kill_pid

log = logging.getLogger(__name__)
MIN_RUN = 0.05  # seconds: a job left less than this after waiting for a worker is not started
START_RETRIES = (1, 2, 4, 8, 16)  # seconds between attempts to replace a worker that failed to start


class PoolBusy(KGError):
    """Every worker stayed busy until the request's deadline."""


class WorkTimeout(KGError):
    """The work ran past its deadline and its worker was killed."""


class WorkerCrashed(KGError):
    """The worker died while working (killed from outside, out of memory, a crash in native code)."""


class _Worker:
    """A forked worker as the pool sees it: its pid (held as a pidfd, so a kill never reaches a
    process that reused the number) and the pipe its jobs go through."""

    def __init__(self, pid, conn, start_timeout):
        self.pid, self.conn = pid, conn
        try:
            self._pidfd = os.pidfd_open(pid)
        except OSError:
            # Gone already (and reaped by the zygote): its pipe may still say why.
            self._pidfd = None
        reason = await_ready(conn, start_timeout)
        if reason is None and self._pidfd is None:
            reason = "the worker process exited while starting"
        if reason is not None:
            self.kill()
            raise WorkerCrashed(reason)

    def kill(self):
        if self._pidfd is not None:
            kill_pid(self._pidfd)
        self.conn.close()


class WorkerPool:
    """`size` processes forked from one that ran `init(*init_args)` once; each runs `after_fork(state)`
    (when given: what must not be shared, such as an on-disk store's files and threads) and then
    `handle(state, job)` per job.

    `init`, `after_fork` and `handle` must be importable module-level functions (the zygote is spawned).
    Each worker may grow by memory_limit bytes beyond what `init` left in the zygote (RLIMIT_AS,
    set in the zygote after `init` and inherited).
    """

    def __init__(self, init, init_args=(), handle=None, size=2, memory_limit=None, start_timeout=300,
                 after_fork=None):
        self._context = multiprocessing.get_context("spawn")
        self._spec = (init, tuple(init_args), after_fork, handle, memory_limit)
        self._start_timeout = start_timeout
        self._idle = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._restart = threading.Lock()  # one zygote starts at a time
        self._workers = set()
        self._active = 0  # jobs running or waiting for a worker
        self._successor = None  # the pool that took over, once this one is retired
        self.start_error = None
        try:
            self._zygote = Zygote(self._context, *self._spec, start_timeout)
        except KGError as exc:
            raise WorkerCrashed(f"the query workers could not be started: {exc}") from None
        starters = [threading.Thread(target=self._add_worker) for _ in range(size)]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        if self._idle.qsize() < size:
            self.close()
            raise WorkerCrashed(f"the query workers could not be started: {self.start_error}")
        self.size = size

    @property
    def zygote_pid(self):
        return self._zygote.pid if self._zygote is not None else None

    def _live_zygote(self):
        """The zygote, started again first if it died (as a worker is replaced, with retries)."""
        with self._restart:
            with self._lock:
                if self._closed:
                    raise WorkerCrashed("the pool is closed")
                zygote = self._zygote
            if zygote.alive:
                return zygote
            log.error("the process the workers are forked from is gone; starting it again")
            zygote.kill()
            zygote = Zygote(self._context, *self._spec, self._start_timeout)
            with self._lock:
                if not self._closed:
                    self._zygote = zygote
                    return zygote
            zygote.kill()
            raise WorkerCrashed("the pool is closed")

    def _add_worker(self, retries=()):
        for pause in (*retries, None):
            try:
                pid, conn = self._live_zygote().fork(self._start_timeout)
                worker = _Worker(pid, conn, self._start_timeout)
                break
            except (KGError, OSError) as exc:
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
            zygote = self._zygote
        # Workers first, while the zygote still reaps them.
        for worker in workers:
            worker.kill()
        if zygote is not None:
            zygote.kill()
