"""Pacing: Zendesk's rate limits as budgets shared by every process, spent before each
request leaves, so that the service stays under Zendesk's own 429s."""
from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlsplit

import requests

from helpdesk_app import metrics
from helpdesk_app.upstreams.budgets import Budget, Budgets, BudgetsUnavailable
from helpdesk_app.upstreams.trace import RequestIdAdapter
from helpdesk_app.upstreams.zendesk_errors import UPSTREAM
from workflows.errors import UpstreamError

# The code of `ZendeskPacing.spend`'s refusal: this service's own pacing said no, not Zendesk.
BUDGET_SPENT = "budget_spent"

log = logging.getLogger(__name__)

# Which share of the account's budget a request may spend: "bulk" (triage, plans, a run's
# re-plan: the default) never the part held back for "priority" work (post-backs, the
# sidebar's reads of agents and tickets), so neither a triage storm nor one agent's plans
# can leave the sidebar and the post-backs without requests.
_LANE: contextvars.ContextVar[str] = contextvars.ContextVar("zendesk_lane", default="bulk")


@contextlib.contextmanager
def priority() -> Iterator[None]:
    """Zendesk requests made inside may spend the share held back for them."""
    token = _LANE.set("priority")
    try:
        yield
    finally:
        _LANE.reset(token)


@dataclass(frozen=True)
class ZendeskPacing:
    """Zendesk's limits as budgets shared by every process (helpdesk_app/upstreams/budgets.py).

    Every request spends one of the account's requests a minute; an Update Ticket
    (`PUT /api/v2/tickets/{id}.json`, which carries notes, status and fields) also spends
    one of that endpoint's per-account minute and one of the ticket's ten-minute budget.
    https://developer.zendesk.com/api-reference/introduction/rate-limits/
    """

    budgets: Budgets
    requests_per_min: int = 200
    ticket_updates_per_min: int = 100
    updates_per_ticket: int = 30
    updates_per_ticket_window_s: float = 600.0
    # The share of requests_per_min that only priority work may spend.
    reserved_share: float = 0.25
    # The account-wide budgets are taken in blocks of up to this many (budgets.py): every
    # request spends them. A ticket's own budget is taken one request at a time.
    block: int = 16

    def account(self) -> Budget:
        return Budget("zendesk:account", self.requests_per_min, 60.0, self.block)

    def bulk(self) -> Budget:
        """What bulk work may spend of the account's minute: all but the reserved share."""
        limit = max(1, math.floor(self.requests_per_min * (1 - self.reserved_share)))
        return Budget("zendesk:account:bulk", limit, 60.0, self.block)

    def shared(self) -> list[Budget]:
        """The account-wide budgets a request of the current lane spends."""
        return [self.account()] if _LANE.get() == "priority" else [self.account(), self.bulk()]

    def budgets_for(self, method: str, path: str) -> list[Budget]:
        spent = self.shared()
        if method == "PUT" and (m := _UPDATE_TICKET.fullmatch(path)):
            spent += [Budget("zendesk:update_ticket", self.ticket_updates_per_min, 60.0, self.block),
                      Budget(f"zendesk:ticket:{m[1]}", self.updates_per_ticket,
                             self.updates_per_ticket_window_s)]
        return spent

    def spend(self, method: str, path: str) -> None:
        """Records the request, or raises a 429-like UpstreamError without sending it."""
        try:
            wait = self.budgets.take(self.budgets_for(method, path))
        except BudgetsUnavailable as error:
            # Pacing is a courtesy that keeps us under Zendesk's own 429s, which are still
            # handled; losing the count must not stop agents and jobs from working.
            log.warning("zendesk.budget_unavailable", extra={"reason": str(error)})
            return
        if wait > 0:
            metrics.BUDGET_REFUSALS.labels(UPSTREAM).inc()
            log.info("zendesk.budget_spent", extra={"method": method, "path": path,
                                                    "wait_s": round(wait, 3)})
            raise UpstreamError(
                UPSTREAM, f"Zendesk budget spent for {method} {path}: room in {wait:.1f} s",
                status=429, code=BUDGET_SPENT, retry_after=wait, transient=True)


_UPDATE_TICKET = re.compile(r"/api/v2/tickets/(\d+)\.json")


class PacedAdapter(RequestIdAdapter):
    """Spends the budgets before each request leaves; a refused one never reaches Zendesk."""

    def __init__(self, pacing: ZendeskPacing) -> None:
        super().__init__()
        self._pacing = pacing

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any):
        self._pacing.spend(request.method or "GET", urlsplit(request.url).path)
        return super().send(request, *args, **kwargs)
