"""Who is asking: a Zendesk agent's role and groups, read server-side and cached briefly.

The browser never says who the agent is or what they may do: the sidebar's session names
a Zendesk user id, and everything else is read from Zendesk here (architecture.md, "A
sidebar action": groups are re-read when cached longer than 60 s).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

# Zendesk's roles: "end-user", "agent", "admin". An admin is an agent too.
AGENT_ROLES = frozenset({"agent", "admin"})


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    email: str | None
    role: str  # Zendesk's role: "admin", "agent" or "end-user"
    group_ids: frozenset[int] = frozenset()
    group_names: frozenset[str] = frozenset()
    # Zendesk's `ticket_restriction`: None (every ticket), "groups", "assigned",
    # "requested" or "organization" (access/tickets.py); and the user's organization.
    ticket_restriction: str | None = None
    organization_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_agent(self) -> bool:
        """An agent or an admin: someone who may use the sidebar at all."""
        return self.role in AGENT_ROLES

    def to_dict(self) -> dict[str, Any]:
        """What the audit trail and a run keep of the agent."""
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role}

    @classmethod
    def from_zendesk(cls, user: dict[str, Any]) -> "Agent":
        """From `ZendeskAdapter.user(...)`: the user's fields and `groups` [{id, name}]."""
        groups = user.get("groups") or []
        return cls(
            id=int(user["id"]),
            name=user.get("name") or "",
            email=user.get("email"),
            role=user.get("role") or "end-user",
            group_ids=frozenset(int(g["id"]) for g in groups),
            group_names=frozenset(g["name"] for g in groups if g.get("name")),
            ticket_restriction=user.get("ticket_restriction"),
            organization_id=user.get("organization_id"),
        )


class AgentDirectory:
    """Agents by Zendesk user id, re-read from Zendesk when older than `max_age_s`."""

    def __init__(self, zendesk: Any, *, max_age_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._zendesk, self._max_age_s, self._clock = zendesk, max_age_s, clock
        # user id -> (clock reading when the read began, the agent or None for "no such user")
        self._entries: dict[int, tuple[float, Agent | None]] = {}
        self._lock = threading.Lock()

    def reading_with(self, zendesk: Any) -> "AgentDirectory":
        """The same cache, its misses read through another client (a job thread's own)."""
        other = AgentDirectory(zendesk, max_age_s=self._max_age_s, clock=self._clock)
        other._entries, other._lock = self._entries, self._lock
        return other

    def get(self, user_id: int) -> Agent | None:
        """The agent, or None when Zendesk has no such user. UpstreamError when Zendesk fails."""
        started = self._clock()
        with self._lock:
            entry = self._entries.get(user_id)
        if entry is not None and started - entry[0] < self._max_age_s:
            return entry[1]
        # The lock is not held over the HTTP read: one slow Zendesk call must not stall every
        # other agent's request. Two concurrent misses for one user both read; harmless.
        agent = self._read(user_id)
        with self._lock:
            # Aged from when the read began, so an entry never outlives max_age_s of truth.
            # "No such user" is cached too: a signed token naming a deleted user must not
            # cost a Zendesk call per request.
            self._entries[user_id] = (started, agent)
        return agent

    def _read(self, user_id: int) -> Agent | None:
        user = self._zendesk.user(user_id)  # UpstreamError propagates; nothing is cached
        return Agent.from_zendesk(user) if user is not None else None
