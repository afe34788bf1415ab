"""Authentication and authorisation of the sidebar's API calls.

STUB: the interface the API builds on; implemented by the sidebar-auth work.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from ..agents import Agent

F = TypeVar("F", bound=Callable)


def require_agent(view: F) -> F:
    """Decorator: a valid `Authorization: Bearer <session token>` naming a current agent,
    or a 401 ApiError; the agent (read server-side) is then `current_agent()`."""
    raise NotImplementedError


def current_agent() -> Agent:
    raise NotImplementedError


def authorize(action: str) -> None:
    """Raise a 403 ApiError with the policy's reason unless the current agent may `action`;
    `action` is a workflow, `escalate`, or `audit` (admins only)."""
    raise NotImplementedError
