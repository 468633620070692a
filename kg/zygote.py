"""The zygote: a spawned process that prepares the workers' state once and forks a worker on request.

Forking is safe here because the zygote is single-threaded when it forks: it is spawned (a fresh
interpreter), and what it runs before forking (imports, loading files into an in-memory store)
starts no thread. What would start one (RocksDB, behind an on-disk store) is opened by each worker
after the fork (`after_fork`). kg.workers.WorkerPool drives it.
"""

import gc
import os
import resource
import select
import signal
import socket
import sys
import threading
import time
import traceback
from multiprocessing import reduction
from multiprocessing.connection import Connection

from kg.errors import KGError

KILL_WAIT = 5  # seconds a killed process is given to be gone


class ZygoteError(KGError):
    """The zygote could not start, or could not fork a worker."""


def await_ready(conn, timeout):
    """None once the process at the other end of conn says it is ready, else why it is not."""
    try:
        message = conn.recv() if conn.poll(timeout) else None
    except (EOFError, OSError):
        message = ("failed", "the worker process exited while starting")
    if message == "ready":
        return None
    return message[1] if message else f"it did not start within {timeout} s"


def kill_pid(pidfd):
    """Kill the process behind pidfd, wait until it is gone (bounded) and close pidfd."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone
    # A pidfd turns readable once its process has exited, child of ours or not.
    select.select([pidfd], [], [], KILL_WAIT)
    os.close(pidfd)


class Zygote:
    def __init__(self, context, init, init_args, after_fork, handle, memory_limit, start_timeout):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_zygote_main, args=(child, init, init_args, after_fork, handle, memory_limit), daemon=True
        )
        self.broken = False
        self._turn = threading.Lock()  # one request and its answer on the pipe at a time
        self._killing = threading.Lock()
        self._killed = False
        self.process.start()
        child.close()
        self.pid = self.process.pid
        reason = await_ready(self.conn, start_timeout)
        if reason is not None:
            self.kill()
            raise ZygoteError(reason)

    @property
    def alive(self):
        return not self.broken and self.process.is_alive()

    def fork(self, timeout):
        """(pid, Connection) of a new worker, which then says "ready" or why it failed on that pipe."""
        with self._turn:
            try:
                self.conn.send("fork")
                reply = self.conn.recv() if self.conn.poll(timeout) else None
                if reply is None:
                    raise OSError(f"no answer within {timeout} s")
                if reply[0] == "failed":
                    raise ZygoteError(f"cannot fork a worker: {reply[1]}")
                fd = reduction.recv_handle(self.conn)
            except (EOFError, OSError, RuntimeError) as exc:
                # Whatever was half said on the pipe, it cannot be trusted again: start a new zygote.
                self.broken = True
                raise ZygoteError(f"the process the workers are forked from is gone ({exc})") from None
        os.set_inheritable(fd, False)
        return reply[1], Connection(fd)

    def kill(self):
        with self._killing:
            # Once: a second close of the pipe, from another thread, could close a reused fd.
            if self._killed:
                return
            self._killed = True
        self.process.kill()
        # Not join(): the workers it forked hold its sentinel open, so join waits while they live.
        deadline = time.monotonic() + KILL_WAIT
        while self.process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.conn.close()


def _zygote_main(conn, init, init_args, after_fork, handle, memory_limit):
    # Ctrl-C goes to the whole process group; the pool decides when its processes stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        state = init(*init_args)
    except KGError as exc:
        # Say why (a data file that does not parse, say) instead of dying without a word.
        conn.send(("failed", str(exc)))
        return
    if memory_limit:
        # A runaway query should kill its worker, not the machine; each worker inherits the limit.
        # It is counted from what the loaded data take, so that a library of any size starts and
        # every worker has the same room for its queries (decision 0013).
        try:
            limit = address_space() + memory_limit
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            if hard != resource.RLIM_INFINITY:
                limit = min(limit, hard)  # a limit set from outside (ulimit -v) may only be lowered
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (OSError, ValueError, ZygoteError) as exc:
            conn.send(("failed", f"the workers' memory limit could not be set: {exc}"))
            return
    # Objects loaded so far stay out of the collector's sweeps, which would copy their pages.
    gc.freeze()
    # The kernel reaps the workers that exit: no zombies pile up; the pool kills them by pidfd.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    conn.send("ready")
    try:
        while conn.recv() == "fork":
            _fork(conn, state, after_fork, handle)
    except (EOFError, OSError):
        return  # the pool is gone: its end of the pipe closed


def address_space(pid="self"):
    """The bytes of a process's address space (what RLIMIT_AS limits); this process's by default."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise ZygoteError(f"no VmSize in /proc/{pid}/status")


def _fork(conn, state, after_fork, handle):
    ours, theirs = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        ours.close()
        theirs.close()
        conn.send(("failed", str(exc)))
        return
    if pid == 0:
        _worker_main(conn, ours, theirs, state, after_fork, handle)
    ours.close()
    conn.send(("forked", pid))
    reduction.send_handle(conn, theirs.fileno(), pid)
    theirs.close()


def _worker_main(zygote_conn, ours, theirs, state, after_fork, handle):
    """A forked worker: its own pipe only, then the job loop; never returns into the zygote's loop."""
    status = 1
    try:
        zygote_conn.close()
        theirs.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn = Connection(ours.detach())
        _serve(conn, state, after_fork, handle)
        status = 0
    except BaseException:
        traceback.print_exc()
        raise
    finally:
        sys.stderr.flush()
        # Not sys.exit: the zygote's exit handlers and buffers belong to the zygote.
        os._exit(status)


def _serve(conn, state, after_fork, handle):
    try:
        if after_fork is not None:
            state = after_fork(state)
    except KGError as exc:
        conn.send(("failed", str(exc)))
        return
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(handle(state, job))
