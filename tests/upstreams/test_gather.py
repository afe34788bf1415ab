"""The service's gather (helpdesk_app/upstreams/gather.py): calls at once, bounded per
request, in the caller's context, and never waiting for a call the pool has not started."""
from __future__ import annotations

import contextvars
import threading

import pytest

from helpdesk_app.upstreams.gather import ReadPool, answer, settled

WAIT_S = 10  # only waited out when the calls do not run together


@pytest.fixture
def pool():
    made = ReadPool(threads=4, per_request=3)
    yield made
    made.shutdown()


def test_the_calls_of_one_gather_run_at_once(pool):
    barrier = threading.Barrier(3, timeout=WAIT_S)
    done = []
    pool([lambda i=i: done.append((i, barrier.wait())) for i in range(3)])
    assert sorted(i for i, _ in done) == [0, 1, 2]


def test_no_more_than_the_bound_run_at_once(pool):
    running, most, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def call():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(0.05)  # overlap if they can; the bound is what is asserted
        with lock:
            running[0] -= 1

    pool([call] * 9)
    assert most[0] <= 3


def test_a_busy_pool_leaves_the_calls_to_the_caller_and_nesting_cannot_deadlock():
    pool = ReadPool(threads=1, per_request=4)
    blocker, seen = threading.Event(), []
    try:
        # The pool's one thread is taken; the nested gathers below must still finish.
        started = threading.Thread(target=pool, args=([lambda: None, lambda: blocker.wait(WAIT_S)],))
        started.start()
        pool([lambda: pool([lambda: seen.append("inner-a"), lambda: seen.append("inner-b")]),
              lambda: seen.append("outer")])
        assert sorted(seen) == ["inner-a", "inner-b", "outer"]
    finally:
        blocker.set()
        started.join(WAIT_S)
        pool.shutdown()


def test_each_call_runs_in_the_callers_context(pool):
    var: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")
    var.set("request-7")
    seen = []
    pool([lambda: seen.append(var.get()) for _ in range(3)])
    assert seen == ["request-7"] * 3


def test_settled_keeps_each_answer_and_error_in_order(pool):
    boom = ValueError("boom")

    def fails():
        raise boom

    first, second = settled(pool, [lambda: 1, fails])
    assert answer(first) == 1
    with pytest.raises(ValueError):
        answer(second)
