"""Zendesk's failures as the service's UpstreamError: raised by a session hook before zenpy
sees the response, built from the response alone (never from the request, which carries the
token), with Zendesk's request id and Retry-After."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from helpdesk_app import metrics
from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.retry import is_transient_status, parse_retry_after
from workflows.errors import UpstreamError

UPSTREAM = "zendesk"
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Zendesk-Request-Id")
MAX_DESCRIPTION = 200


class HttpFailure(Exception):
    """A 4xx/5xx response, raised by the session hook so that zenpy never handles it."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Session hook: record the request id; raise on 4xx/5xx before zenpy can sleep on it."""
    trace.record(UPSTREAM, _request_id(response))
    metrics.upstream_response(UPSTREAM, response.status_code)
    if response.status_code >= 400:
        _ = response.content  # read it now, so the connection goes back to the pool
        raise HttpFailure(response)
    return response


def upstream_error(exc: Exception) -> UpstreamError:
    """Builds the error from the response alone (never from the request, which has the token)."""
    response = getattr(exc, "response", None)
    if response is not None:
        return _error_from_response(response)
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        metrics.upstream_response(UPSTREAM, "error")
    if isinstance(exc, requests.Timeout):
        return UpstreamError(UPSTREAM, "Zendesk did not answer in time",
                             code="timeout", transient=True)
    if isinstance(exc, requests.ConnectionError):
        return UpstreamError(UPSTREAM, "Zendesk could not be reached",
                             code="connection_error", transient=True)
    return UpstreamError(UPSTREAM, f"Zendesk call failed ({type(exc).__name__})",
                         code="client_error")


def _error_from_response(response: requests.Response) -> UpstreamError:
    status = response.status_code
    code, description = _error_body(response)
    method = response.request.method if response.request is not None else "?"
    return UpstreamError(
        UPSTREAM,
        f"Zendesk {method} {urlsplit(response.url).path} answered {status}: {description}",
        status=status,
        code=code,
        request_id=_request_id(response),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        transient=is_transient_status(status),
    )


def _error_body(response: requests.Response) -> tuple[str | None, str]:
    """(code, description) from Zendesk's error envelopes: `{"error": "RecordNotFound",
    "description": ...}` or `{"error": {"title": ..., "message": ...}}`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, response.reason or ""
    error = body.get("error")
    if isinstance(error, dict):
        code, description = error.get("title"), error.get("message")
    else:
        code, description = error, body.get("description")
    text = str(description or code or response.reason or "")
    return (str(code) if code else None), text[:MAX_DESCRIPTION]


def _request_id(response: requests.Response) -> str | None:
    return next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None)
