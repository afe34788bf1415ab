"""Waiting for a run to move: what lets `GET /api/v1/runs/<id>?wait=N&seen=V` answer as
soon as the run changes, so the sidebar hears of a run when it ends, not on its next poll.

A run's `version` (runs.version) changes with everything the sidebar shows of it: its
state, each event of its timeline, its report to the ticket. A waiter reads the version
from the database every POLL_S, which sees a change made by any process (an RQ worker,
the other gunicorn worker, this one's job threads) within POLL_S; a change made in this
process also wakes every waiter at once (`moved`). One cheap query by primary key per
waiter and POLL_S; nothing to set up, the same on SQLite, PostgreSQL, threads and RQ.

A waiter holds one of its gunicorn worker's threads (gunicorn.conf.py) for at most
MAX_WAIT_S, and at most WAITERS threads of a process wait at once: past that, the request
is answered at once and the sidebar asks again a second later (static/sidebar/api.js), so
webhooks and plans always find a thread.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

MAX_WAIT_S = 25.0
POLL_S = 0.1
WAITERS = 8  # of gunicorn's 16 threads a worker

_moved = threading.Condition()
_slots = threading.BoundedSemaphore(WAITERS)


def moved() -> None:
    """A run changed in this process: every waiter reads its run's version now."""
    with _moved:
        _moved.notify_all()


def wait_for_change(version_now: Callable[[], str | None], seen: str, timeout_s: float) -> bool:
    """Return once `version_now()` differs from `seen`, or after `timeout_s` (at most
    MAX_WAIT_S); False, at once, when WAITERS requests of this process wait already."""
    if not _slots.acquire(blocking=False):
        return False
    try:
        deadline = time.monotonic() + min(timeout_s, MAX_WAIT_S)
        while version_now() == seen:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with _moved:
                _moved.wait(min(POLL_S, left))
        return True
    finally:
        _slots.release()
