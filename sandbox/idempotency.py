"""The portal's Idempotency-Key rule (portal-admin-api.md, "Conventions"), on its own.

A key seen before with the same request (method, path, JSON body) gets the first answer
again, errors included; with another request, 422 `idempotency_key_reused`. The state and
the tests' `responses` double (tests/http_world.py) both keep their keys in one of these.
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable

Answer = tuple[int, Any]  # (status, JSON body)


def reused() -> dict[str, Any]:
    return {"error": {"code": "idempotency_key_reused",
                      "message": "This Idempotency-Key was used with a different body."}}


class IdempotencyKeys:
    """Thread-safe when given the caller's lock (the sandbox has one lock for everything)."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock or threading.RLock()
        self._first: dict[str, tuple[tuple, Answer]] = {}

    def answer(self, key: str, request: tuple, apply: Callable[[], Answer]) -> tuple[Answer, str]:
        """(answer, what happened): "applied" (`apply` ran), "replayed" or "reused"."""
        with self._lock:
            if key in self._first:
                first_request, first_answer = self._first[key]
                if first_request != request:
                    return (422, reused()), "reused"
                return copy.deepcopy(first_answer), "replayed"
            status, body = apply()
            self._first[key] = (copy.deepcopy(request), (status, copy.deepcopy(body)))
            return (status, body), "applied"
