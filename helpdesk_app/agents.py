"""Who is asking: a Zendesk agent's role and groups, read server-side and cached briefly.

STUB: the interface the rest of the service builds on; implemented by the sidebar-auth work.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    email: str | None
    role: str  # Zendesk's role: "admin", "agent" or "end-user"
    group_ids: frozenset[int] = frozenset()
    group_names: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict[str, Any]:
        """What the audit trail and a run keep of the agent."""
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role}


class AgentDirectory:
    """Agents by Zendesk user id, re-read from Zendesk when older than `max_age_s`."""

    def __init__(self, zendesk: Any, *, max_age_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._zendesk, self._max_age_s, self._clock = zendesk, max_age_s, clock

    def get(self, user_id: int) -> Agent | None:
        """The agent, or None when Zendesk has no such user. UpstreamError when Zendesk fails."""
        raise NotImplementedError
