"""Which tickets an agent may see, under Zendesk's own rules, and the tickets' fields cached.

Zendesk's user field `ticket_restriction` says which tickets an agent may see: null (all of
them), "groups" (tickets of the agent's groups), "assigned" (tickets assigned to them),
"requested" (tickets they requested) or "organization" (tickets of their organization)
(https://developer.zendesk.com/api-reference/ticketing/users/users/, JSON format). A
ticket's `group_id`, `assignee_id`, `requester_id` and `organization_id` decide
(https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/, JSON format).
A value this service does not know grants nothing: a new Zendesk rule fails closed.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping

from helpdesk_app.access.agents import Agent


def may_see(agent: Agent, ticket: Mapping[str, Any]) -> bool:
    """True when Zendesk would show `ticket` to `agent`."""
    if not agent.is_agent:
        return False
    if agent.is_admin:
        return True  # Zendesk's admins see every ticket
    restriction = agent.ticket_restriction
    if restriction is None:
        return True
    if restriction == "groups":
        return ticket.get("group_id") is not None and ticket["group_id"] in agent.group_ids
    if restriction == "assigned":
        return ticket.get("assignee_id") == agent.id
    if restriction == "requested":
        return ticket.get("requester_id") == agent.id
    if restriction == "organization":
        org = agent.organization_id
        return org is not None and ticket.get("organization_id") == org
    return False


class TicketDirectory:
    """Tickets' access fields by id, re-read when older than `max_age_s`; a ticket that is
    not there is never cached, so one created a moment ago is found on the next read."""

    def __init__(self, zendesk: Any, *, max_age_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._zendesk, self._max_age_s, self._clock = zendesk, max_age_s, clock
        self._entries: dict[int, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def reading_with(self, zendesk: Any) -> "TicketDirectory":
        """The same cache, its misses read through another client (a job thread's own)."""
        other = TicketDirectory(zendesk, max_age_s=self._max_age_s, clock=self._clock)
        other._entries, other._lock = self._entries, self._lock
        return other

    def get(self, ticket_id: int) -> dict[str, Any] | None:
        """The ticket's fields, or None when Zendesk has no such ticket (UpstreamError
        when Zendesk fails: nothing is allowed on a guess)."""
        started = self._clock()
        with self._lock:
            entry = self._entries.get(ticket_id)
        if entry is not None and started - entry[0] < self._max_age_s:
            return entry[1]
        ticket = self._zendesk.ticket_access(ticket_id)
        if ticket is not None:
            with self._lock:
                self._entries[ticket_id] = (started, ticket)
        return ticket


class RequesterByDirectory:
    """The `Tickets` port of an agent's plan or run: the ticket is read through the
    directory, so the read that checked the agent may see it (web/api/auth.py,
    `require_ticket`) also gives its requester, and only the requester's user and
    identities are read. The ticket's requester is then as old as that read: at most
    AGENT_CACHE_S, as for the access decision itself."""

    def __init__(self, zendesk: Any, directory: TicketDirectory) -> None:
        self._zendesk, self._directory = zendesk, directory

    def requester(self, ticket_id: int) -> Any:
        ticket = self._directory.get(ticket_id)
        return None if ticket is None else self._zendesk.requester_of(ticket)
