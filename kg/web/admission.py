"""Admission control in front of the query workers: a bounded queue, fair turns, a budget per client.

Every request that needs a worker (a query, a page, a dump) takes a turn here first; /health and
static files never do. The rules, all per web process:

- At most MAX_QUEUE requests wait for a worker, and at most CLIENT_QUEUE of them from one client;
  past either, 429 Too Many Requests.
- Waiting requests get workers in arrival order, but the last free worker is kept for a client
  that holds none: one client never holds every worker, so another client finds one at once
  (with two workers or more). A worker killed for a client's query counts as that client's
  until its replacement is ready.
- Each client may use CLIENT_BUDGET seconds of worker time per CLIENT_WINDOW seconds (a sliding
  window; queries still running count what they used so far); over it, 429 with a Retry-After
  saying when enough of the window has passed.

A client is the remote address of the connection. Behind TRUSTED_PROXIES reverse proxies it is
the address that many hops from the right of X-Forwarded-For; with none trusted (the default)
that header is ignored, since anyone can write it.
"""

import contextlib
import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from flask import current_app, request

from kg.errors import KGError
from kg.web.errors import problem
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout

# How long a waiting request sleeps at most before looking again: turns are handed on by notify,
# but a replaced worker becoming ready notifies nobody.
POLL = 0.1


class Refused(KGError):
    """The request may not have a turn now; retry_after is in whole seconds."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class _Turns:
    """One client's finished turns in the window, oldest first, and their total kept as they come and
    go: a client sending hundreds of requests a second would otherwise cost a sum over all of them
    on every request."""

    def __init__(self):
        self.turns = deque()  # (end, seconds)
        self.total = 0.0

    def add(self, end, seconds):
        self.turns.append((end, seconds))
        self.total += seconds

    def __iter__(self):
        return iter(self.turns)

    def forget_before(self, cutoff):
        while self.turns and self.turns[0][0] <= cutoff:
            self.total -= self.turns.popleft()[1]
        if not self.turns:
            self.total = 0.0  # no rounding error left over from the subtractions


@dataclass(eq=False)
class _Ticket:
    client: str
    arrived: int
    began: float = field(default=0.0)


class Admission:
    """The turns of one web process's requests at its `workers` query workers.

    `ready`, when given, returns how many workers are idle and ready: a worker killed for a
    client's query is counted against that client until its replacement is ready, so a client
    whose query was stopped cannot take another client's worker meanwhile.
    """

    def __init__(self, workers, max_queue, client_queue, budget, window, ready=None, clock=time.monotonic):
        self.workers = workers
        self.max_queue = max_queue
        self.client_queue = client_queue
        self.budget = budget
        self.window = window
        self._ready = ready
        self._clock = clock
        self._cond = threading.Condition()
        self._arrivals = 0
        self._waiting = []  # tickets waiting for a worker, in arrival order
        self._running = defaultdict(list)  # client -> tickets holding a worker
        self._recovering = []  # clients whose worker was killed and is being replaced, oldest first
        self._spent = defaultdict(_Turns)  # client -> its finished turns
        self._swept = clock()

    @property
    def waiting(self):
        return len(self._waiting)

    @contextlib.contextmanager
    def turn(self, client, timeout):
        """Hold a worker turn for client; yields the seconds left of timeout once it is this
        request's turn. Raises Refused (429) or PoolBusy (the timeout passed while waiting)."""
        deadline = self._clock() + timeout
        ticket = self._enter(client, deadline)
        killed = False
        try:
            yield max(deadline - self._clock(), 0.0)
        except (WorkTimeout, WorkerCrashed):
            killed = True
            raise
        finally:
            self._leave(ticket, killed)

    def _enter(self, client, deadline):
        with self._cond:
            self._check_budget(client)
            self._arrivals += 1
            ticket = _Ticket(client, self._arrivals)
            if not self._may_start(ticket, [*self._waiting, ticket]):
                if sum(t.client == client for t in self._waiting) >= self.client_queue:
                    raise Refused(f"This client already has {self.client_queue} requests waiting for a "
                                  "query worker; wait for their answers before sending more.", 1)
                if len(self._waiting) >= self.max_queue:
                    raise Refused(f"{self.max_queue} requests are already waiting for a query worker; "
                                  "try again shortly.", 2)
            self._waiting.append(ticket)
            try:
                while not self._may_start(ticket, self._waiting):
                    left = deadline - self._clock()
                    if left <= 0:
                        raise PoolBusy("every query worker stayed busy until the request's deadline")
                    self._cond.wait(min(left, POLL))
                # The client may have spent its budget while this request waited.
                self._check_budget(client)
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()
            ticket.began = self._clock()
            self._running[client].append(ticket)
            return ticket

    def _leave(self, ticket, killed):
        with self._cond:
            now = self._clock()
            running = self._running[ticket.client]
            running.remove(ticket)
            if not running:
                del self._running[ticket.client]
            if killed and self._ready is not None:
                self._recovering.append(ticket.client)
            self._spent[ticket.client].add(now, now - ticket.began)
            self._cond.notify_all()

    def _free(self):
        running = sum(len(tickets) for tickets in self._running.values())
        if self._ready is not None:
            # Workers neither idle nor running a turn are being replaced; once ready, the oldest
            # recovering client lets go of its worker.
            missing = max(self.workers - self._ready() - running, 0)
            del self._recovering[:max(len(self._recovering) - missing, 0)]
        return self.workers - running - len(self._recovering)

    def _holds(self, client):
        return len(self._running.get(client, ())) + self._recovering.count(client)

    def _may_start(self, ticket, waiting):
        """Whether ticket gets the next free worker now: the first waiter, in arrival order, that
        may take it; the last free worker only goes to a client that holds none."""
        free = self._free()
        if free <= 0:
            return False
        first = next((t for t in waiting if free > 1 or not self._holds(t.client)), None)
        return first is ticket

    def spent(self, client):
        """Worker seconds client used within the window, its running queries included."""
        with self._cond:  # re-entrant: _check_budget calls this holding it
            now = self._clock()
            if now - self._swept > self.window:
                self._sweep(now)
            finished = 0.0
            turns = self._spent.get(client)
            if turns is not None:
                turns.forget_before(now - self.window)
                finished = turns.total
            return finished + sum(now - t.began for t in self._running.get(client, ()))

    def _sweep(self, now):
        """Forget clients whose turns all left the window, so memory stays bounded."""
        self._swept = now
        for client in list(self._spent):
            turns = self._spent[client]
            turns.forget_before(now - self.window)
            if not turns.turns:
                del self._spent[client]

    def _check_budget(self, client):
        spent = self.spent(client)
        if spent < self.budget:
            return
        # Finished turns leave the window oldest first: wait until enough have left.
        now, excess, wait = self._clock(), spent - self.budget, self.window
        for end, seconds in self._spent.get(client, ()):
            excess -= seconds
            if excess < 0:
                wait = end + self.window - now
                break
        retry = max(1, math.ceil(wait))
        raise Refused(f"This client used {spent:.1f} s of query time in the last {self.window:g} s, over "
                      f"its budget of {self.budget:g} s; try again in {retry} s.", retry)


def client_address(remote_addr, forwarded_for, trusted_proxies):
    """The client's address: remote_addr, or the one trusted_proxies hops back in X-Forwarded-For."""
    if trusted_proxies <= 0:
        return remote_addr
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    return hops[-trusted_proxies] if len(hops) >= trusted_proxies else remote_addr


def create(app):
    """The app's admission, reading the idle workers of whatever pool the app holds at the time."""
    config = app.config
    return Admission(config["WORKERS"], config["MAX_QUEUE"], config["CLIENT_QUEUE"],
                     config["CLIENT_BUDGET"], config["CLIENT_WINDOW"],
                     ready=lambda: app.extensions["kg.pool"].idle)


def run(job, timeout):
    """The query workers' answer to job for the current request, after its turn.

    Raises what WorkerPool.run raises (PoolBusy also when the turn did not come in time); a
    refusal becomes a 429 problem with Retry-After.
    """
    client = client_address(request.remote_addr or "", request.headers.getlist("X-Forwarded-For"),
                            current_app.config["TRUSTED_PROXIES"])
    try:
        with current_app.extensions["kg.admission"].turn(client, timeout) as left:
            return current_app.extensions["kg.pool"].run(job, left)
    except Refused as exc:
        problem(429, str(exc), {"Retry-After": str(exc.retry_after)})
