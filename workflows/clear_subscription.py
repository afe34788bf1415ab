"""`clear_subscription`: unlink a subscription from its namespace.

A seats subscription's namespace falls back to the plan of the newest active seats
subscription still linked to it, else Free; an add-on's units leave the namespace.
"""
from __future__ import annotations

from .facts import Facts, Ports
from .inputs import Inputs
from .model import Change, namespace_plan
from .workflow import Verification, Workflow, link_snapshot, require

CHECK_IDS = (
    "subscription_exists", "subscription_linked", "subscription_lapsed", "channel_read_only",
    "requester_owns_namespace",
)


def validate(inputs: Inputs) -> None:
    require(inputs, "subscription")


def change(facts: Facts) -> Change | None:
    sub = facts.subscription
    if sub is None or sub.namespace_id is None:
        return None
    return Change(action="unlink_subscription", subscription=sub.name, namespace_id=sub.namespace_id)


def requester_ahead(facts: Facts) -> None:
    """requester_owns_namespace asks about the requester after reading the namespace; the
    requester's read needs only the ticket, and a linked subscription always asks it."""
    facts.requester  # noqa: B018 - read for its answer


def verify_ahead(ports: Ports, change: Change) -> None:
    """A seats subscription's verification reads the namespace's subscriptions and plan,
    which need only the change: they go with the subscription's read (wasted for an add-on)."""
    ports.portal.namespace_subscriptions(change.namespace_id)
    ports.gitlab.namespace(change.namespace_id)


def verify(ports: Ports, change: Change) -> Verification:
    """The portal shows the subscription unlinked and, for a seats subscription, GitLab's
    plan for the namespace is that of the newest active seats subscription still linked to
    it, else `free` (the portal's own rule)."""
    sub = ports.portal.subscription(change.subscription)
    unlinked = sub is not None and sub.namespace_id is None
    observed: dict = {"subscription_namespace_id": sub.namespace_id if sub else None}
    if sub is None or sub.kind != "seats":  # an add-on changes no plan
        return Verification(held=unlinked, observed=observed)
    remaining = [
        s for s in ports.portal.namespace_subscriptions(change.namespace_id)
        if s.name != change.subscription
    ]
    expected = namespace_plan(remaining, ports.clock.today())
    ns = ports.gitlab.namespace(change.namespace_id)
    observed.update(namespace_plan=ns.plan if ns else None, expected_plan=expected)
    return Verification(held=unlinked and ns is not None and ns.plan == expected, observed=observed)


CLEAR_SUBSCRIPTION = Workflow(
    name="clear_subscription", check_ids=CHECK_IDS, noop_check="subscription_linked",
    validate=validate, change=change, verify=verify, snapshot=link_snapshot,
    reads_ahead=(requester_ahead,), verify_ahead=verify_ahead,
)
