"""Errors the HTTP edge answers with: a status, a stable machine code and a message.

Views raise them; `create_app` turns each into `{"error": {"code", "message", ...}}`.
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.detail}


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


def forbidden(message: str, **detail: Any) -> ApiError:
    return ApiError(403, "forbidden", message, **detail)
