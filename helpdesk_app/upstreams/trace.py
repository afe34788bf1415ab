"""Collects the upstream request ids of the calls made inside a block of work.

The audit trail and escalation issues quote them. A context variable keeps concurrent runs
(threads, RQ jobs) apart without passing a recorder through every port method.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_request_ids: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "upstream_request_ids", default=None
)


def record(upstream: str, request_id: str | None) -> None:
    ids = _request_ids.get()
    if ids is not None and request_id:
        ids.append(f"{upstream}:{request_id}")


@contextlib.contextmanager
def capture() -> Iterator[list[str]]:
    ids: list[str] = []
    token = _request_ids.set(ids)
    try:
        yield ids
    finally:
        _request_ids.reset(token)


def current() -> list[str]:
    """The ids recorded so far in the innermost `capture` (a copy); [] outside one."""
    return list(_request_ids.get() or [])
