"""The worker pool stops work that runs over, keeps serving meanwhile, and heals itself."""

import os
import threading
import time

import pytest

from kg.errors import KGError
from kg.workers import PoolBusy, WorkerCrashed, WorkerPool, WorkTimeout


def start(tag):
    return {"tag": tag, "pid": os.getpid()}


def handle(state, job):
    kind, value = job
    if kind == "sleep":
        time.sleep(value)
    if kind == "pid":
        return state["pid"]
    return (state["tag"], value)


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(start, ("ready",), handle, size=2)
    yield pool
    pool.close()


def wait_for_idle(pool, count, seconds=30):
    deadline = time.monotonic() + seconds
    while pool.idle < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.idle == count


def test_a_job_gets_its_workers_answer(pool):
    assert pool.run(("echo", 42), timeout=5) == ("ready", 42)


def test_work_past_its_deadline_is_stopped_on_time_and_the_worker_replaced(pool):
    began = time.monotonic()
    with pytest.raises(WorkTimeout):
        pool.run(("sleep", 30), timeout=1)
    assert time.monotonic() - began < 2
    wait_for_idle(pool, 2)
    assert pool.run(("echo", "after"), timeout=5) == ("ready", "after")


def test_a_second_client_is_served_while_one_worker_is_stuck(pool):
    stuck = threading.Thread(target=lambda: pytest.raises(WorkTimeout, pool.run, ("sleep", 30), 3))
    stuck.start()
    time.sleep(0.3)
    began = time.monotonic()
    assert pool.run(("echo", "meanwhile"), timeout=5) == ("ready", "meanwhile")
    assert time.monotonic() - began < 1
    stuck.join()
    wait_for_idle(pool, 2)


def test_a_worker_killed_from_outside_is_reported_and_replaced(pool):
    pid = pool.run(("pid", None), timeout=5)
    outcomes = []

    def run():
        try:
            pool.run(("sleep", 30), timeout=3)
        except (WorkerCrashed, WorkTimeout) as exc:
            outcomes.append(type(exc))

    # Both workers sleep, so the one we kill is busy with a job.
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    os.kill(pid, 9)
    for thread in threads:
        thread.join(5)
    assert sorted(outcomes, key=str) == sorted([WorkerCrashed, WorkTimeout], key=str)
    wait_for_idle(pool, 2)


def test_every_worker_busy_until_the_deadline_is_pool_busy(pool):
    threads = [threading.Thread(target=lambda: pytest.raises(WorkTimeout, pool.run, ("sleep", 30), 2))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    with pytest.raises(PoolBusy):
        pool.run(("echo", 1), timeout=0.5)
    for thread in threads:
        thread.join()
    wait_for_idle(pool, 2)


def refuse_to_start():
    raise KGError("data/studies/x.ttl:3:14: expected '.'")


@pytest.mark.parametrize(
    ("init", "reason"),
    [(refuse_to_start, "data/studies/x.ttl:3:14: expected '.'"), (os.path.join, "exited while starting")],
)
def test_a_worker_that_cannot_start_fails_the_pool_saying_why(init, reason):
    with pytest.raises(WorkerCrashed, match="could not be started") as caught:
        WorkerPool(init, (), handle, size=1, start_timeout=5)
    assert reason in str(caught.value)
