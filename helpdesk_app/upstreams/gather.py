"""Reads that need no answer from each other, sent at once: the service's `Ports.gather`.

workflows/view.py finds a plan's levels; this sends a level. One pool of threads per
process, made once and kept: each thread keeps its own sessions with the upstreams
(the adapters hold their library clients per thread, since requests.Session, zenpy's Api
objects and python-gitlab's client are not safe to share between threads: see each
adapter), so a connection made for one request is reused by the next instead of paying a
new TCP and TLS handshake per read.

Bounded per request: a request sends at most `per_request` reads at once; a larger level
goes out in slices. The calling thread reads the first call of each slice itself, and
takes back any call the pool has not started (a busy pool, or a read that gathers reads of
its own from a pool thread), so a request never waits for a queued read and nesting cannot
deadlock: at worst the reads go out one by one, as before.

Each call runs in a copy of the caller's context: the request id, the upstream request
ids collected for the audit (upstreams/trace.py) and the Zendesk lane (zendesk_pacing.py)
go with it.
"""
from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")

# A diagnosis of 3 x 3 pairs has up to 3 linked users and 9 ownership questions in one
# level; the upstreams' limits (GitLab.com: 2,000 requests a minute a user) are far above
# what a dozen reads at once spend.
READS_PER_REQUEST = 12
# gunicorn's 16 threads a worker rarely all plan at once; past this, reads go out one by one.
POOL_THREADS = 32


class ReadPool:
    def __init__(self, threads: int = POOL_THREADS, per_request: int = READS_PER_REQUEST) -> None:
        self._threads, self._per_request = threads, per_request
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __call__(self, calls: Sequence[Callable[[], None]]) -> None:
        """`Ports.gather`: run every call (they never raise), return when all have."""
        for start in range(0, len(calls), self._per_request):
            self._together(calls[start:start + self._per_request])

    def _together(self, calls: Sequence[Callable[[], None]]) -> None:
        if len(calls) == 1:
            calls[0]()
            return
        pool = self._executor()
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls[1:]]
        calls[0]()
        for call, future in zip(calls[1:], futures):
            if future.cancel():  # not started: read it here rather than wait for a thread
                call()
            else:
                future.result()

    def _executor(self) -> ThreadPoolExecutor:
        # Made on first use: a process that never plans (an RQ worker's sweeper) has none.
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="upstream-read")
            return self._pool

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def settled(gather: Callable[[Sequence[Callable[[], None]]], None],
            calls: Sequence[Callable[[], T]]) -> list[tuple[bool, Any]]:
    """Each call's (True, answer) or (False, the error it raised), in order, the calls sent
    through `gather` (for an adapter's own independent calls)."""
    results: list[tuple[bool, Any]] = [(False, RuntimeError("not run"))] * len(calls)

    def keeping(i: int, call: Callable[[], T]) -> Callable[[], None]:
        def run() -> None:
            try:
                results[i] = (True, call())
            except Exception as error:  # the caller decides whether it matters
                results[i] = (False, error)
        return run

    gather([keeping(i, call) for i, call in enumerate(calls)])
    return results


def answer(result: tuple[bool, Any]) -> Any:
    """A settled call's answer, or its error raised."""
    ok, value = result
    if not ok:
        raise value
    return value
