"""Tracing upstream calls: our request id goes out on each, and the upstream's request ids
of the calls made inside a block of work are collected.

The audit trail and escalation issues quote them. A context variable keeps concurrent runs
(threads, RQ jobs) apart without passing a recorder through every port method.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

import requests
from requests.adapters import HTTPAdapter

from helpdesk_app import logs

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


class RequestIdAdapter(HTTPAdapter):
    """Sends the current request id (helpdesk_app.logs) as `X-Request-Id` on every call, so
    an upstream's logs can be joined with ours."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any):
        request_id = logs.current()
        if request_id:
            request.headers[logs.HEADER] = request_id
        return super().send(request, *args, **kwargs)


def send_request_ids(session: requests.Session) -> requests.Session:
    for prefix in ("https://", "http://"):
        session.mount(prefix, RequestIdAdapter())
    return session
def current() -> list[str]:
    """The ids recorded so far in the innermost `capture` (a copy); [] outside one."""
    return list(_request_ids.get() or [])
