"""Errors the domain understands. Adapters raise these; workflows and views catch them."""
from __future__ import annotations


class BadInput(ValueError):
    """A value outside its grammar, a missing argument or an unknown workflow (API 4xx, CLI 2)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Refused(Exception):
    """`execute` will not act on this plan (blocked, or an override without a reason)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UpstreamError(Exception):
    """An upstream call failed after the adapter's retries.

    Carries what an engineer needs in an escalation: which upstream, the HTTP status, the
    upstream's error code and its request id. `transient` tells a durable executor that a
    later attempt may succeed. The message never holds a secret (adapters build it from the
    response, not from the request).
    """

    def __init__(
        self,
        upstream: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.upstream = upstream
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.transient = transient

    def to_dict(self) -> dict[str, object]:
        return {
            "upstream": self.upstream,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
            "transient": self.transient,
            "retry_after": self.retry_after,
        }
