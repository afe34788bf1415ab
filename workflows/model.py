"""The domain's facts, verdicts, checks, plans and outcomes.

Plain frozen dataclasses: the workflows build them from what the ports return and the
service serialises them to JSON with `to_dict()`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from .labels import check_label


class Verdict(StrEnum):
    PASS = "pass"
    INFO = "info"
    WARN = "warn"
    OVERRIDE = "override"
    BLOCK = "block"
    SKIPPED = "skipped"


class Decision(StrEnum):
    READY = "ready"
    NEEDS_OVERRIDE = "needs_override"
    BLOCKED = "blocked"
    NOOP = "noop"


OWNER_ACCESS_LEVEL = 50


@dataclass(frozen=True)
class Customer:
    """A customers portal account (portal-admin-api.md, "Customer")."""

    id: int
    email: str
    name: str = ""
    company: str | None = None
    gitlab_user_id: int | None = None
    login_activated: bool = True
    # Not a field of the portal's: True when a mutation's answer was the portal's replay of
    # the first answer to its Idempotency-Key (header `Idempotent-Replayed: true`).
    replayed: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Subscription:
    """A portal subscription (portal-admin-api.md, "Subscription")."""

    name: str
    customer_id: int
    product: str = "saas"
    kind: str = "seats"
    plan_code: str | None = None
    seats: int | None = None
    units: int | None = None
    status: str = "active"
    start_date: str | None = None
    end_date: str | None = None
    channel: str = "web_direct"
    program: str | None = None
    namespace_id: int | None = None
    replayed: bool = field(default=False, compare=False)  # as Customer.replayed


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def is_active(sub: Subscription, today: date) -> bool:
    """provisioning-rules.md, "Today": status `active` AND `end_date` not before today. A
    status the portal has not updated yet (still `active` after its end date) is lapsed."""
    end = parse_date(sub.end_date)
    return sub.status == "active" and (end is None or end >= today)


def namespace_plan(linked: list[Subscription], today: date) -> str:
    """A namespace's plan: that of the newest active seats subscription linked to it, else
    free (portal-admin-api.md, "Linking semantics"; newest = latest start_date)."""
    active = [s for s in linked if s.kind == "seats" and is_active(s, today)]
    if not active:
        return "free"
    return max(active, key=lambda s: s.start_date or "").plan_code or "free"


@dataclass(frozen=True)
class Namespace:
    """A GitLab namespace; seats in use are `billable_members_count`."""

    id: int
    full_path: str
    kind: str = "group"
    parent_id: int | None = None
    plan: str = "free"
    billable_members_count: int = 0
    max_seats_used: int | None = None

    @property
    def is_top_level(self) -> bool:
        return self.kind == "user" or self.parent_id is None


@dataclass(frozen=True)
class GitLabUser:
    id: int
    username: str
    email: str | None = None
    # None: GitLab's answer had no `is_admin` (the token is not an admin's), so it is unknown.
    is_admin: bool | None = False


@dataclass(frozen=True)
class Requester:
    """The ticket's requester as Zendesk knows them."""

    ticket_id: int
    user_id: int
    email: str | None
    verified: bool
    name: str = ""


@dataclass(frozen=True)
class Check:
    id: str
    verdict: Verdict
    message: str

    @property
    def label(self) -> str:
        return check_label(self.id)

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "verdict": str(self.verdict),
                "message": self.message}


@dataclass(frozen=True)
class Change:
    """The one portal change a plan intends (None for read-only workflows)."""

    action: str  # link_subscription | unlink_subscription | unlink_customer | link_customer
    subscription: str | None = None
    namespace_id: int | None = None
    customer_id: int | None = None
    force: bool = False
    gitlab_user_id: int | None = None


@dataclass(frozen=True)
class Plan:
    workflow: str
    inputs: dict[str, Any]
    checks: tuple[Check, ...]
    decision: Decision
    facts: dict[str, Any]
    change: Change | None = None
    recommendations: tuple[dict[str, Any], ...] = ()

    def check(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)

    @property
    def override_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.checks if c.verdict is Verdict.OVERRIDE)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.WARN)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "workflow": self.workflow,
            "decision": str(self.decision),
            "inputs": dict(self.inputs),
            "checks": [c.to_dict() for c in self.checks],
            "facts": self.facts,
            "change": dataclasses.asdict(self.change) if self.change else None,
        }
        if self.recommendations:
            data["recommendations"] = list(self.recommendations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        """The inverse of `to_dict` (a stored run's plan, read back by a later attempt)."""
        checks = tuple(Check(c["id"], Verdict(c["verdict"]), c["message"]) for c in data["checks"])
        change = Change(**data["change"]) if data.get("change") else None
        return cls(workflow=data["workflow"], inputs=dict(data["inputs"]), checks=checks,
                   decision=Decision(data["decision"]), facts=data.get("facts") or {},
                   change=change, recommendations=tuple(data.get("recommendations", ())))


class OutcomeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    REFUSED = "refused"


@dataclass(frozen=True)
class Outcome:
    """What `execute` did: the fresh plan it acted on, and what became of the change."""

    workflow: str
    status: OutcomeStatus
    plan: Plan
    changed: bool = False
    verified: bool | None = None
    message: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    request_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        plan = self.plan.to_dict()
        return {
            "workflow": self.workflow,
            "status": str(self.status),
            "decision": plan["decision"],
            "checks": plan["checks"],
            "facts": plan["facts"],
            "plan": plan,
            "changed": self.changed,
            "verified": self.verified,
            "message": self.message,
            "before": self.before,
            "after": self.after,
            "error": self.error,
            "request_ids": list(self.request_ids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Outcome":
        return cls(workflow=data["workflow"], status=OutcomeStatus(data["status"]),
                   plan=Plan.from_dict(data["plan"]), changed=data["changed"],
                   verified=data["verified"], message=data["message"], before=data["before"],
                   after=data["after"], error=data["error"],
                   request_ids=tuple(data.get("request_ids", ())))
