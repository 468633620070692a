"""Admission to the query workers: a bounded queue, the last worker kept for another client, a
budget of query time per client; and, over real HTTP, a flooding client cannot starve another."""

import json
import threading
import time
import urllib.parse

import pytest

from kg.web.admission import Admission, Refused, client_address
from kg.workers import PoolBusy, WorkTimeout
from tests.live import request, running_server


class Holder:
    """A thread that takes a turn for client and holds it until released."""

    def __init__(self, admission, client, timeout=10):
        self.started = threading.Event()
        self.release = threading.Event()
        self.outcome = None
        self.thread = threading.Thread(target=self._run, args=(admission, client, timeout), daemon=True)
        self.thread.start()

    def _run(self, admission, client, timeout):
        try:
            with admission.turn(client, timeout):
                self.started.set()
                self.release.wait(10)
            self.outcome = "done"
        except (Refused, PoolBusy) as exc:
            self.outcome = exc

    def finish(self):
        self.release.set()
        self.thread.join(5)
        return self.outcome


def admission(workers=1, max_queue=10, client_queue=10, budget=1000.0, window=60.0, **kwargs):
    return Admission(workers, max_queue, client_queue, budget, window, **kwargs)


def test_past_the_queue_a_request_is_refused_with_retry_after():
    gate = admission(workers=1, max_queue=2)
    running = Holder(gate, "a")
    assert running.started.wait(5)
    waiting = [Holder(gate, client) for client in ("b", "c")]
    deadline = time.monotonic() + 5
    while gate.waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(Refused, match="2 requests are already waiting") as refused:
        with gate.turn("d", 5):
            pass
    assert refused.value.retry_after >= 1
    running.finish()
    assert [holder.finish() for holder in waiting] == ["done", "done"]


def test_one_client_may_not_fill_the_queue():
    gate = admission(workers=1, client_queue=2)
    running = Holder(gate, "other")
    assert running.started.wait(5)
    waiting = [Holder(gate, "a") for _ in range(2)]
    deadline = time.monotonic() + 5
    while gate.waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(Refused, match="already has 2 requests waiting"):
        with gate.turn("a", 5):
            pass
    # Another client still gets a place in the queue.
    other = Holder(gate, "b")
    running.finish()
    assert [holder.finish() for holder in waiting] == ["done", "done"]
    assert other.finish() == "done"


def test_the_last_free_worker_is_kept_for_a_client_that_holds_none():
    gate = admission(workers=2)
    first = Holder(gate, "a")
    assert first.started.wait(5)
    second = Holder(gate, "a")
    assert not second.started.wait(0.3), "one client took every worker"
    other = Holder(gate, "b")
    assert other.started.wait(1), "the other client did not get the free worker"
    assert other.finish() == "done"
    # The free worker is still not the flooding client's second one while it holds the first.
    assert not second.started.wait(0.3)
    first.finish()
    assert second.started.wait(1)
    assert second.finish() == "done"


def test_a_single_worker_serves_one_client_after_another():
    gate = admission(workers=1)
    first = Holder(gate, "a")
    assert first.started.wait(5)
    second = Holder(gate, "a")
    assert not second.started.wait(0.2)
    first.finish()
    assert second.started.wait(1) and second.finish() == "done"


def test_waiting_counts_against_the_timeout():
    gate = admission(workers=1)
    running = Holder(gate, "a")
    assert running.started.wait(5)
    began = time.monotonic()
    with pytest.raises(PoolBusy):
        with gate.turn("b", 0.5):
            pass
    assert time.monotonic() - began < 2
    running.finish()
    with gate.turn("b", 1) as left:
        assert 0 < left <= 1


def test_a_killed_worker_counts_as_its_clients_until_replaced():
    idle = [2]
    gate = admission(workers=2, ready=lambda: idle[0])
    with pytest.raises(WorkTimeout):
        with gate.turn("a", 5):
            idle[0] = 1
            raise WorkTimeout("stopped")  # the pool killed the worker; its replacement starts
    second = Holder(gate, "a")
    assert not second.started.wait(0.3), "the client took the worker that was kept for others"
    other = Holder(gate, "b")
    assert other.started.wait(1)
    assert other.finish() == "done"
    idle[0] = 2  # the replacement is ready
    assert second.started.wait(1)
    assert second.finish() == "done"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_over_its_budget_a_client_waits_until_the_window_lets_go():
    clock = Clock()
    gate = admission(workers=2, budget=4.0, window=60.0, clock=clock)
    for seconds in (3.0, 2.0):
        with gate.turn("a", 10):
            clock.now += seconds
    # 5 s used of 4: the first turn (ended at 1003) must leave the window, at 1063.
    clock.now = 1010.0
    with pytest.raises(Refused, match="used 5.0 s of query time in the last 60 s") as refused:
        with gate.turn("a", 10):
            pass
    assert refused.value.retry_after == 53
    # Another client has its own budget.
    with gate.turn("b", 10):
        pass
    clock.now = 1063.5
    with gate.turn("a", 10):
        pass


def test_a_running_query_counts_against_the_budget():
    clock = Clock()
    gate = admission(workers=2, budget=4.0, window=60.0, clock=clock)
    with gate.turn("a", 10):
        clock.now += 5
        with pytest.raises(Refused) as refused:
            with gate.turn("a", 10):
                pass
    # Nothing has finished within the window yet: the whole window.
    assert refused.value.retry_after == 60


def test_the_time_spent_follows_the_window_over_many_turns():
    # The total is kept as turns come and leave the window, not summed per request.
    clock = Clock()
    gate = admission(workers=2, budget=1e9, window=10.0, clock=clock)
    ended = []
    for i in range(3000):
        with gate.turn("a", 10):
            clock.now += 0.001 * (i % 7 + 1)
        ended.append((clock.now, 0.001 * (i % 7 + 1)))
        clock.now += 0.002
        if i % 500 == 0:
            expected = sum(s for end, s in ended if end > clock.now - 10.0)
            assert gate.spent("a") == pytest.approx(expected, abs=1e-9)
    clock.now += 10.0
    assert gate.spent("a") == 0.0


@pytest.mark.parametrize(("remote", "forwarded", "trusted", "client"), [
    ("10.0.0.1", [], 0, "10.0.0.1"),
    ("10.0.0.1", ["203.0.113.9"], 0, "10.0.0.1"),  # not trusted: anyone can write the header
    ("10.0.0.1", ["203.0.113.9"], 1, "203.0.113.9"),
    ("10.0.0.1", ["198.51.100.1, 203.0.113.9"], 1, "203.0.113.9"),  # the proxy appended the last
    ("10.0.0.1", ["198.51.100.1", "203.0.113.9, 10.0.0.2"], 2, "203.0.113.9"),
    ("10.0.0.1", ["203.0.113.9"], 2, "10.0.0.1"),  # fewer hops than proxies: the header lies
])
def test_the_client_is_the_remote_address_unless_proxies_are_trusted(remote, forwarded, trusted, client):
    assert client_address(remote, forwarded, trusted) == client


# Over real HTTP: two workers, a 2-second limit, a budget of 3 s of query time per minute.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
CHEAP = "ASK { ?s a msc:Study }"
FLOODER, OTHER = "127.0.0.1", "127.0.0.2"


@pytest.fixture(scope="module")
def server():
    env = {"MSC_KG_CLIENT_BUDGET": "3", "MSC_KG_CLIENT_WINDOW": "60", "MSC_KG_CLIENT_QUEUE": "2"}
    with running_server("--timeout", "2", "--workers", "2", env=env) as server:
        yield server


def sparql(server, query, source, accept="application/sparql-results+json"):
    path = "/sparql?" + urllib.parse.urlencode({"query": query})
    return request(server, "GET", path, headers={"Accept": accept}, timeout=30, source=source)


def test_a_flooding_client_gets_429_while_another_is_served_quickly(server):
    flood = []
    stop = threading.Event()

    def flooder():
        for _ in range(100):
            if stop.is_set():
                return
            status, headers, body = sparql(server, SLOW, FLOODER, accept="application/problem+json")
            flood.append((status, headers.get("retry-after"), body))
            time.sleep(0.05)

    threads = [threading.Thread(target=flooder) for _ in range(4)]
    for thread in threads:
        thread.start()
    served = []
    try:
        time.sleep(0.5)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            began = time.monotonic()
            status, _, body = sparql(server, CHEAP, OTHER)
            served.append((status, time.monotonic() - began, body))
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert served and all(status == 200 for status, _, _ in served), [s for s, _, _ in served]
    assert all(json.loads(body)["boolean"] is True for _, _, body in served)
    slowest = max(seconds for _, seconds, _ in served)
    assert slowest < 1.5, f"the other client waited {slowest:.2f} s"
    refused = [(retry, json.loads(body)) for status, retry, body in flood if status == 429]
    assert refused, sorted({status for status, _, _ in flood})
    for retry, problem in refused:
        assert int(retry) >= 1
        assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
    assert any("budget of 3 s" in problem["detail"] for _, problem in refused)
    assert {status for status, _, _ in flood} <= {429, 503}
    # Over its budget, the flooder is refused even a cheap query, but /health stays outside admission.
    assert sparql(server, CHEAP, FLOODER)[0] == 429
    status, _, body = request(server, "GET", "/health", source=FLOODER, timeout=5)
    assert status == 200 and json.loads(body)["status"] == "ok"

