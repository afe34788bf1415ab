"""`associate` and `force_associate`: link a subscription to a namespace.

One module: the two share their checks and differ only in verdicts (decided inside the
checks by workflow name) and in the portal's `force` flag.
"""
from __future__ import annotations

from .facts import Facts, Ports
from .inputs import Inputs
from .model import Change
from .workflow import Verification, Workflow, link_snapshot, require

CHECK_IDS = (
    "subscription_exists", "subscription_active", "subscription_saas", "subscription_has_seats",
    "namespace_exists", "namespace_top_level", "customer_linked", "linked_user_not_admin",
    "linked_user_is_owner", "already_linked_here", "subscription_not_linked_elsewhere",
    "namespace_not_taken", "program_allows_self_serve", "seats_cover_usage", "channel_read_only",
)


def validate(inputs: Inputs) -> None:
    require(inputs, "subscription", "namespace")


def _change(force: bool):
    def change(facts: Facts) -> Change | None:
        if facts.subscription is None or facts.namespace is None:
            return None
        return Change(
            action="link_subscription",
            subscription=facts.subscription.name,
            namespace_id=facts.namespace.id,
            force=force,
        )

    return change


def owner_ahead(facts: Facts) -> None:
    """linked_user_is_owner asks GitLab whether the linked user owns the group once the user
    is read; the user's id is the customer's link, so the question goes with the user read
    (wasted only when the linked account no longer exists)."""
    ns, customer = facts.namespace, facts.customer
    if ns is not None and ns.kind == "group" and customer is not None \
            and customer.gitlab_user_id is not None:
        facts.ports.gitlab.access_level(ns.id, customer.gitlab_user_id)


def requester_ahead(facts: Facts) -> None:
    """subscription_not_linked_elsewhere asks about the requester after the old namespace's
    read, which the requester's read does not need: both go out once the link is known."""
    sub, ns = facts.subscription, facts.namespace
    if sub is not None and sub.namespace_id is not None and (ns is None or sub.namespace_id != ns.id):
        facts.requester  # noqa: B018 - read for its answer


READS_AHEAD = (owner_ahead, requester_ahead)


def verify(ports: Ports, change: Change) -> Verification:
    """The namespace's plan on GitLab equals the subscription's plan."""
    sub = ports.portal.subscription(change.subscription)
    ns = ports.gitlab.namespace(change.namespace_id)
    expected = sub.plan_code if sub else None
    observed = {"namespace_plan": ns.plan if ns else None, "expected_plan": expected}
    return Verification(held=ns is not None and ns.plan == expected, observed=observed)


ASSOCIATE = Workflow(
    name="associate", check_ids=CHECK_IDS, noop_check="already_linked_here",
    validate=validate, change=_change(False), verify=verify, snapshot=link_snapshot,
    reads_ahead=READS_AHEAD,
)
FORCE_ASSOCIATE = Workflow(
    name="force_associate", check_ids=CHECK_IDS, noop_check="already_linked_here",
    validate=validate, change=_change(True), verify=verify, snapshot=link_snapshot,
    reads_ahead=READS_AHEAD,
)
