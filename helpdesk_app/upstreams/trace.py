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


def send_request_ids(session: requests.Session, url: str | None = None) -> requests.Session:
    """Mounts the adapter; given the upstream's `url`, also reads the environment's HTTP
    settings for it once (`environment_once`)."""
    for prefix in ("https://", "http://"):
        session.mount(prefix, RequestIdAdapter())
    if url is not None:
        environment_once(session, url)
    return session


def environment_once(session: requests.Session, url: str) -> None:
    """The proxy (HTTPS_PROXY, NO_PROXY) and CA bundle (REQUESTS_CA_BUNDLE) variables,
    resolved for the upstream's host once instead of on every call: requests reads them,
    and ~/.netrc, in `merge_environment_settings` for each request (6 % of a run's CPU in
    bench/workflow_runs.py). A client talks to one host, so the answer is the same, and
    configuration is read once. No ~/.netrc: every client sends its own credentials, which
    a netrc entry for the host would otherwise replace."""
    found = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(found["proxies"])
    session.verify = found["verify"]
    session.trust_env = False
def current() -> list[str]:
    """The ids recorded so far in the innermost `capture` (a copy); [] outside one."""
    return list(_request_ids.get() or [])
