"""An in-memory world in the sandbox scenario format (sandbox-scenarios.md), for workflow tests.

It implements the ports of `workflows.ports` and records every call, so tests can count
upstream calls and effects. The rules are the sandbox's, not copies: the scenario's
defaults (sandbox/scenario.py), the portal's linking semantics and plan
recomputation and GitLab's inherited membership (sandbox/rules.py). What
stays here is what the sandbox has no use for: recording calls, injected port failures,
and frozen model objects tests can swap.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date
from typing import Any

from sandbox import rules
from sandbox.scenario import defaults
from workflows.errors import UpstreamError
from workflows.facts import Ports
from workflows.model import Customer, GitLabUser, Namespace, Requester, Subscription

# The date every test plans on, unless it pins another: the base scenario's A-S00000001 runs
# 2026-01-01 to 2027-01-01, so it is active today. No test reads the real date.
TODAY = date(2026, 6, 15)


class FakeClock:
    """Monotonic time that advances only when the workflow sleeps, and a pinned today."""

    def __init__(self, today: date = TODAY):
        self.now = 0.0
        self.sleeps = []
        self.today_is = today

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def today(self):
        return self.today_is


def _fields(cls, data: dict[str, Any]) -> dict[str, Any]:
    names = cls.__dataclass_fields__
    return {k: v for k, v in data.items() if k in names}


class World:
    def __init__(self, scenario: dict[str, Any], *, push_plans: bool = True,
                 today: date = TODAY) -> None:
        scenario = copy.deepcopy(scenario)
        self.clock = FakeClock(today)
        portal, gitlab, zendesk = (scenario.get(k, {}) for k in ("portal", "gitlab", "zendesk"))
        self.customers = {c["id"]: _model(Customer, "customer", c) for c in portal.get("customers", [])}
        self.subscriptions = {s["name"]: _model(Subscription, "subscription", s)
                              for s in portal.get("subscriptions", [])}
        self.users = {u["id"]: _model(GitLabUser, "gitlab_user", u) for u in gitlab.get("users", [])}
        self.namespaces = {n["id"]: _model(Namespace, "namespace", n) for n in gitlab.get("namespaces", [])}
        self.members = {(m["namespace_id"], m["user_id"]): m["access_level"] for m in gitlab.get("members", [])}
        self.zendesk_users = {u["id"]: {**defaults("zendesk_user"), **u} for u in zendesk.get("users", [])}
        self.tickets = {t["id"]: {**defaults("ticket"), **t} for t in zendesk.get("tickets", [])}
        self.push_plans = push_plans  # False: the portal has not pushed plans to GitLab yet
        self.calls: list[tuple[str, str, tuple]] = []
        self.failures: dict[str, UpstreamError] = {}  # method name -> error to raise

    @property
    def ports(self) -> Ports:
        return Ports(portal=FakePortal(self), gitlab=FakeGitLab(self), tickets=FakeTickets(self),
                     clock=self.clock)

    def record(self, upstream: str, method: str, *args: Any) -> None:
        self.calls.append((upstream, method, args))
        if method in self.failures:
            raise self.failures[method]

    def mutations(self) -> list[tuple[str, str, tuple]]:
        return [c for c in self.calls if c[1] in ("link_subscription", "unlink_subscription", "unlink_customer",
                                                          "link_customer")]

    def recompute_plan(self, namespace_id: int | None) -> None:
        """The portal pushes a namespace's plan to GitLab (rules.namespace_plan)."""
        if namespace_id is None or namespace_id not in self.namespaces or not self.push_plans:
            return
        plan = rules.namespace_plan(self.subscriptions.values(), namespace_id)
        self.namespaces[namespace_id] = replace(self.namespaces[namespace_id], plan=plan)


def _model(cls, kind: str, record: dict[str, Any]):
    """A frozen model object from a scenario record, with the scenario's defaults."""
    return cls(**_fields(cls, {**defaults(kind), **record}))


class FakePortal:
    def __init__(self, world: World) -> None:
        self.w = world

    def subscription(self, name):
        self.w.record("portal", "subscription", name)
        return self.w.subscriptions.get(name)

    def customer(self, customer_id):
        self.w.record("portal", "customer", customer_id)
        return self.w.customers.get(customer_id)

    def customers_by_email(self, email):
        self.w.record("portal", "customers_by_email", email)
        return [c for c in self.w.customers.values() if c.email.lower() == email.lower()]

    def customer_subscriptions(self, customer_id):
        self.w.record("portal", "customer_subscriptions", customer_id)
        if customer_id not in self.w.customers:
            return None
        return [s for s in self.w.subscriptions.values() if s.customer_id == customer_id]

    def namespace_subscriptions(self, namespace_id):
        self.w.record("portal", "namespace_subscriptions", namespace_id)
        return [s for s in self.w.subscriptions.values() if s.namespace_id == namespace_id]

    def link_subscription(self, name, namespace_id, *, force, idempotency_key):
        self.w.record("portal", "link_subscription", name, namespace_id, force, idempotency_key)
        ns = self.w.namespaces.get(namespace_id)
        try:
            link = rules.plan_link(self.w.subscriptions.values(), name, namespace_id, force=force,
                                   billable_members=ns.billable_members_count if ns else None)
        except rules.Refusal as refusal:  # what PortalClient raises for the portal's answer
            raise UpstreamError("portal", refusal.message, status=refusal.status,
                                code=refusal.code) from None
        for other in link.unlinked:
            self.w.subscriptions[other] = replace(self.w.subscriptions[other], namespace_id=None)
        self.w.subscriptions[name] = replace(self.w.subscriptions[name], namespace_id=namespace_id)
        for touched in link.touched:
            self.w.recompute_plan(touched)
        return self.w.subscriptions[name]

    def unlink_subscription(self, name, *, idempotency_key):
        self.w.record("portal", "unlink_subscription", name, idempotency_key)
        sub = self.w.subscriptions[name]
        self.w.subscriptions[name] = replace(sub, namespace_id=None)
        self.w.recompute_plan(sub.namespace_id)
        return self.w.subscriptions[name]

    def unlink_customer(self, customer_id, *, idempotency_key):
        self.w.record("portal", "unlink_customer", customer_id, idempotency_key)
        customer = replace(self.w.customers[customer_id], gitlab_user_id=None)
        self.w.customers[customer_id] = customer
        return customer


    def link_customer(self, customer_id, gitlab_user_id, *, idempotency_key):
        self.w.record("portal", "link_customer", customer_id, gitlab_user_id, idempotency_key)
        customer = self.w.customers[customer_id]
        try:
            rules.refuse_customer_link(customer_id, customer.gitlab_user_id, gitlab_user_id,
                                       user_exists=gitlab_user_id in self.w.users)
        except rules.Refusal as refusal:  # what PortalClient raises for the portal's answer
            raise UpstreamError("portal", refusal.message, status=refusal.status,
                                code=refusal.code) from None
        customer = replace(customer, gitlab_user_id=gitlab_user_id)
        self.w.customers[customer_id] = customer
        return customer


class FakeGitLab:
    def __init__(self, world: World) -> None:
        self.w = world

    def namespace(self, id_or_path):
        self.w.record("gitlab", "namespace", id_or_path)
        if isinstance(id_or_path, int):
            return self.w.namespaces.get(id_or_path)
        return next((n for n in self.w.namespaces.values()
                     if n.full_path.lower() == id_or_path.lower()), None)

    def access_level(self, group_id, user_id):
        self.w.record("gitlab", "access_level", group_id, user_id)
        if group_id not in self.w.namespaces:
            return None
        return rules.access_level(  # members inherit from parent groups
            group_id, user_id, level_of=lambda n, u: self.w.members.get((n, u)),
            parent_of=lambda n: getattr(self.w.namespaces.get(n), "parent_id", None))

    def user(self, user_id):
        self.w.record("gitlab", "user", user_id)
        return self.w.users.get(user_id)

    def user_by_username(self, username):
        self.w.record("gitlab", "user_by_username", username)
        return next((u for u in self.w.users.values() if u.username.lower() == username.lower()), None)

    def users_by_email(self, email):
        self.w.record("gitlab", "users_by_email", email)
        return [u for u in self.w.users.values() if u.email and u.email.lower() == email.lower()]


class FakeTickets:
    def __init__(self, world: World) -> None:
        self.w = world

    def requester(self, ticket_id):
        self.w.record("zendesk", "requester", ticket_id)
        ticket = self.w.tickets.get(ticket_id)
        if ticket is None:
            return None
        user = self.w.zendesk_users[ticket["requester_id"]]
        return Requester(ticket_id=ticket_id, user_id=user["id"], email=user["email"],
                         verified=user["verified"], name=user["name"])
