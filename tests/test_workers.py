"""The worker pool stops work that runs over, keeps serving meanwhile, and heals itself; its workers
are forked from one process that ran init once."""

import os
import resource
import signal
import threading
import time
from pathlib import Path

import pytest

from kg import dataset
from kg.endpoint import answer, open_after_fork, open_for_worker
from kg.errors import KGError
from kg.store import open_store
from kg.workers import PoolBusy, WorkerCrashed, WorkerPool, WorkTimeout
from kg.zygote import address_space
from tests.live import alive, children


def start(tag, log=None):
    if log is not None:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
    return {"tag": tag, "pid": os.getpid()}


def handle(state, job):
    kind, value = job
    if kind == "sleep":
        time.sleep(value)
    if kind in ("pid", "init pid", "limit"):
        time.sleep(value or 0)  # holds the worker, so that jobs sent together meet every worker
    if kind == "pid":
        return os.getpid()
    if kind == "init pid":
        return state["pid"]
    if kind == "allocate":
        return len(bytearray(value))
    if kind == "limit":
        return resource.getrlimit(resource.RLIMIT_AS)[0]
    return (state["tag"], value)


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(start, ("ready",), handle, size=2)
    yield pool
    pool.close()


@pytest.fixture
def logged(tmp_path):
    """A pool of 2 whose init writes its pid to a file per run: (pool, the file)."""
    log = tmp_path / "init.log"
    pool = WorkerPool(start, ("ready", str(log)), handle, size=2)
    yield pool, log
    pool.close()


def inits(log):
    return [int(line) for line in log.read_text(encoding="utf-8").split()]


def wait_for_idle(pool, count, seconds=30):
    deadline = time.monotonic() + seconds
    while pool.idle < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.idle == count


def on_every_worker(pool, job, size=2):
    """The answers to size jobs sent at once (to every worker, if each job holds its worker)."""
    answers = []

    def run():
        answers.append(pool.run(job, timeout=10))

    threads = [threading.Thread(target=run) for _ in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return answers


def run_until_it_meets_the_dead_worker(pool):
    """The pool finds a worker dead when it hands it a job: WorkerCrashed, then a replacement."""
    with pytest.raises(WorkerCrashed):
        for _ in range(pool.size + 1):
            pool.run(("pid", None), timeout=5)


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


def test_the_workers_share_the_state_init_made_once_in_the_zygote(logged):
    pool, log = logged
    [zygote] = inits(log)
    assert zygote == pool.zygote_pid
    assert sorted(children(zygote)) == sorted(on_every_worker(pool, ("pid", 0.5))), "2 distinct workers"
    assert zygote not in children(zygote)
    assert on_every_worker(pool, ("init pid", 0.5)) == [zygote, zygote]


def test_a_killed_worker_is_forked_again_without_running_init_again(logged):
    pool, log = logged
    before = set(children(pool.zygote_pid))
    victim = pool.run(("pid", None), timeout=5)
    os.kill(victim, signal.SIGKILL)
    run_until_it_meets_the_dead_worker(pool)
    wait_for_idle(pool, 2)
    after = set(on_every_worker(pool, ("pid", 0.5)))
    assert victim not in after and len(after & before) == 1
    assert inits(log) == [pool.zygote_pid]


def test_a_zygote_killed_from_outside_is_started_again_and_the_pool_answers_meanwhile(logged):
    pool, log = logged
    zygote = pool.zygote_pid
    workers = set(on_every_worker(pool, ("pid", 0.5)))
    os.kill(zygote, signal.SIGKILL)
    # The workers it forked go on answering.
    assert set(on_every_worker(pool, ("pid", 0.5))) == workers
    victim = workers.pop()
    os.kill(victim, signal.SIGKILL)
    run_until_it_meets_the_dead_worker(pool)
    wait_for_idle(pool, 2)
    assert set(on_every_worker(pool, ("pid", 0.5))) - workers, "no replacement"
    assert pool.zygote_pid != zygote and inits(log) == [zygote, pool.zygote_pid]
    assert on_every_worker(pool, ("echo", 1)) == [("ready", 1)] * 2


def test_close_leaves_no_worker_or_zygote_running(tmp_path):
    pool = WorkerPool(start, ("ready",), handle, size=3)
    zygote = pool.zygote_pid
    workers = children(zygote)
    assert len(workers) == 3
    pool.close()
    assert [pid for pid in [zygote, *workers] if alive(pid)] == []
    assert zygote not in children(os.getpid())


def hold(size):
    """An init whose state holds size bytes, as a loaded store does."""
    return {"tag": "ready", "data": bytearray(size)}


@pytest.mark.parametrize("loaded", [0, 256 * 1024 ** 2])
def test_every_worker_may_grow_by_the_memory_limit_beyond_the_loaded_data(loaded):
    # Data larger than the limit still start (a library outgrowing the default must not stop the
    # server), and each worker's queries get the limit's room above them.
    limit = 128 * 1024 ** 2
    pool = WorkerPool(hold, (loaded,), handle, size=2, memory_limit=limit)
    try:
        limits = on_every_worker(pool, ("limit", 0.5))
        assert len(set(limits)) == 1 and limits[0] > loaded + limit
        # The room is the setting, counted from the zygote's address space once it has loaded.
        assert limits[0] - limit <= address_space(pool.zygote_pid)
        with pytest.raises(WorkerCrashed):
            pool.run(("allocate", limits[0]), timeout=10)
        wait_for_idle(pool, 2)
        assert pool.run(("allocate", limit // 2), timeout=10) == limit // 2
    finally:
        pool.close()


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


def refuse_after_fork(state):
    raise KGError("cannot open the store at /nowhere: it is not there")


def test_a_worker_whose_after_fork_fails_fails_the_pool_saying_why():
    with pytest.raises(WorkerCrashed, match="cannot open the store at /nowhere"):
        WorkerPool(start, ("ready",), handle, size=1, start_timeout=5, after_fork=refuse_after_fork)


def threads_of(pid):
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def files_under(pid, folder):
    """The files under folder that process pid holds open."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "disk"])
def test_four_query_workers_over_the_oxigraph_store_fork_from_a_single_threaded_zygote(tmp_path, on_disk):
    files = [str(f) for f in dataset.default_files()]
    path = None
    if on_disk:
        path = tmp_path / "db"
        open_store("oxigraph", files=files, path=path).close()
    pool = WorkerPool(open_for_worker, ("oxigraph", None if on_disk else files, path, None), answer, size=4,
                      after_fork=open_after_fork)
    try:
        stats = on_every_worker(pool, "stats", size=4)
        assert len(stats) == 4 and stats[0]["default_triples"] > 1000
        assert all(s == stats[0] for s in stats)
        # Forking a process with threads can leave a child a lock nobody will release.
        assert threads_of(pool.zygote_pid) == 1
        if on_disk:  # RocksDB (threads, file locks) is opened by each worker, after the fork
            assert files_under(pool.zygote_pid, path) == []
            workers = children(pool.zygote_pid)
            assert len(workers) == 4 and all(files_under(pid, path) for pid in workers)
    finally:
        pool.close()
