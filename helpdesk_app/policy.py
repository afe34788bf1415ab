"""Which agents may do what: Zendesk groups per workflow, checked server-side.

STUB: the interface the rest of the service builds on; implemented by the sidebar-auth work.
"""
from __future__ import annotations

from typing import Mapping

from .agents import Agent


class Policy:
    def __init__(self, groups_by_action: Mapping[str, tuple[str, ...]]) -> None:
        self._groups = dict(groups_by_action)

    def refusal(self, agent: Agent, action: str) -> str | None:
        """None when `agent` may do `action`; otherwise the reason, written for the agent."""
        raise NotImplementedError
