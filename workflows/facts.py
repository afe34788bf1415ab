"""What a plan knows about the world, loaded lazily from the ports and cached.

Each fact is fetched at most once per plan, and only when a check asks for it, so a plan
makes a bounded number of upstream calls however large the customer (no listing of a
user's groups: one member lookup per namespace asked about).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Callable, Sequence

from .clock import Clock
from .inputs import Inputs
from .model import (
    OWNER_ACCESS_LEVEL,
    Customer,
    GitLabUser,
    Namespace,
    Requester,
    Subscription,
    is_active,
)
from .ports import GitLab, Portal, Tickets
from .rules import Rules

# Runs each call (calls never raise) and returns when all have returned: how a level of
# reads that need no answer from each other goes out (workflows/view.py).
Gather = Callable[[Sequence[Callable[[], None]]], None]


def one_by_one(calls: Sequence[Callable[[], None]]) -> None:
    for call in calls:
        call()


@dataclass(frozen=True)
class Ports:
    """The read side of the world a plan needs; `execute` uses the portal's mutations.

    The clock is the world's too: what "today" is decides which subscriptions are active.
    `gather` sends a level of independent reads: one by one here, at once with the
    service's pool (helpdesk_app/upstreams/gather.py), which owns the threads."""

    portal: Portal
    gitlab: GitLab
    tickets: Tickets
    clock: Clock
    gather: Gather = one_by_one


class Facts:
    def __init__(self, ports: Ports, inputs: Inputs, rules: Rules) -> None:
        self.ports = ports
        self.inputs = inputs
        self.rules = rules
        self._namespaces: dict[int | str, Namespace | None] = {}
        self._owners: dict[tuple[int, int], bool] = {}
        self._customers: dict[int, Customer | None] = {}

    # --- the clock ------------------------------------------------------------------
    @cached_property
    def today(self) -> date:
        """Read once, so every check of one plan judges against the same day."""
        return self.ports.clock.today()

    def is_active(self, sub: Subscription) -> bool:
        return is_active(sub, self.today)

    # --- portal ---------------------------------------------------------------------
    @cached_property
    def subscription(self) -> Subscription | None:
        name = self.inputs.subscription
        return self.ports.portal.subscription(name) if name else None

    @property
    def customer_id(self) -> int | None:
        """The portal customer the plan is about: the one given, else the subscription's."""
        if self.inputs.customer_id is None and self.subscription is not None:
            return self.subscription.customer_id
        return self.inputs.customer_id

    @cached_property
    def customer(self) -> Customer | None:
        customer_id = self.customer_id
        return self.ports.portal.customer(customer_id) if customer_id else None

    @cached_property
    def namespace_subscriptions(self) -> list[Subscription]:
        """Subscriptions linked to the target namespace, any status and kind."""
        if self.namespace is None:
            return []
        return self.ports.portal.namespace_subscriptions(self.namespace.id)

    @cached_property
    def linked_namespace_subscriptions(self) -> list[Subscription]:
        """Subscriptions linked to the namespace the subscription is linked to now."""
        sub = self.subscription
        if sub is None or sub.namespace_id is None:
            return []
        return self.ports.portal.namespace_subscriptions(sub.namespace_id)

    def customer_of(self, customer_id: int) -> Customer | None:
        """Another subscription's portal customer, to name them in a message."""
        if self.customer is not None and self.customer.id == customer_id:
            return self.customer
        if customer_id not in self._customers:
            self._customers[customer_id] = self.ports.portal.customer(customer_id)
        return self._customers[customer_id]

    @cached_property
    def customer_subscriptions(self) -> list[Subscription]:
        if self.customer is None:
            return []
        return self.ports.portal.customer_subscriptions(self.customer.id) or []

    # --- GitLab ---------------------------------------------------------------------
    @cached_property
    def namespace(self) -> Namespace | None:
        ref = self.inputs.namespace
        return self.namespace_by_ref(ref) if ref is not None else None

    def namespace_by_ref(self, ref: int | str) -> Namespace | None:
        if ref not in self._namespaces:
            found = self.ports.gitlab.namespace(ref)
            self._namespaces[ref] = found
            if found is not None:
                self._namespaces[found.id] = found
        return self._namespaces[ref]

    @cached_property
    def linked_namespace(self) -> Namespace | None:
        """The namespace the subscription is linked to now, if any."""
        sub = self.subscription
        if sub is None or sub.namespace_id is None:
            return None
        return self.namespace_by_ref(sub.namespace_id)

    @cached_property
    def linked_user(self) -> GitLabUser | None:
        customer = self.customer
        if customer is None or customer.gitlab_user_id is None:
            return None
        return self.ports.gitlab.user(customer.gitlab_user_id)

    @property
    def linked_user_deleted(self) -> bool:
        """The customer's link points at a GitLab.com account that no longer exists."""
        return (
            self.customer is not None
            and self.customer.gitlab_user_id is not None
            and self.linked_user is None
        )

    def is_owner(self, namespace: Namespace, user: GitLabUser) -> bool:
        """Owner of a group (access 50, direct or inherited) or of a personal namespace."""
        if namespace.kind == "user":
            return namespace.full_path.lower() == user.username.lower()
        key = (namespace.id, user.id)
        if key not in self._owners:
            level = self.ports.gitlab.access_level(namespace.id, user.id)
            self._owners[key] = level is not None and level >= OWNER_ACCESS_LEVEL
        return self._owners[key]

    @cached_property
    def gitlab_user(self) -> GitLabUser | None:
        """link_account's user: the one given (id or username), else the one GitLab.com
        user whose email is the ticket requester's verified email."""
        ref = self.inputs.gitlab_user
        if isinstance(ref, int):
            return self.ports.gitlab.user(ref)
        if ref is not None:
            return self.ports.gitlab.user_by_username(ref)
        users = self.requester_users
        return users[0] if len(users) == 1 else None

    # --- Zendesk --------------------------------------------------------------------
    @cached_property
    def requester(self) -> Requester | None:
        ticket_id = self.inputs.ticket_id
        return self.ports.tickets.requester(ticket_id) if ticket_id else None

    @cached_property
    def requester_users(self) -> list[GitLabUser]:
        """GitLab users whose email is the requester's verified email."""
        requester = self.requester
        if requester is None or not requester.verified or not requester.email:
            return []
        return self.ports.gitlab.users_by_email(requester.email)

    def requester_email_problem(self) -> str | None:
        """Why the ticket has no verified requester email to judge; None when it has one."""
        if self.inputs.ticket_id is None:
            return "no ticket was given, so there is no requester to check"
        requester = self.requester
        if requester is None:
            return f"ticket {self.inputs.ticket_id} was not found in Zendesk"
        if not requester.email or not requester.verified:
            return f"the requester's email ({requester.email or 'none'}) is not verified in Zendesk"
        return None

    def requester_owner_problem(self, namespace: Namespace) -> str | None:
        """Why the requester is not known to own `namespace`; None when they do."""
        problem = self.requester_email_problem()
        if problem is not None:
            return problem
        requester = self.requester
        users = self.requester_users
        if not users:
            return f"no GitLab.com user has the requester's email {requester.email}"
        if len(users) > 1:
            return f"{len(users)} GitLab.com users have the requester's email {requester.email}"
        if not self.is_owner(namespace, users[0]):
            return f"@{users[0].username} ({requester.email}) is not an Owner of {namespace.full_path}"
        return None

    # --- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every fact this plan loaded (and only those), as JSON-ready values."""
        loaded = {
            name: getattr(self, name)
            for name in (
                "subscription", "customer", "namespace", "linked_namespace", "linked_user",
                "namespace_subscriptions", "linked_namespace_subscriptions",
                "customer_subscriptions", "requester", "requester_users", "gitlab_user",
            )
            if name in self.__dict__
        }
        facts: dict[str, Any] = {name: _jsonable(value) for name, value in loaded.items()}
        if "today" in self.__dict__:  # the day the dates were judged against, for the audit
            facts["today"] = self.today.isoformat()
        return facts


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = dataclasses.asdict(value)
        data.pop("replayed", None)  # a property of a mutation's answer, never a fact
        return data
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
