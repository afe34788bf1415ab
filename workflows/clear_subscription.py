"""`clear_subscription`: unlink a subscription from its namespace (which goes to Free)."""
from __future__ import annotations

from .facts import Facts, Ports
from .inputs import Inputs
from .model import Change, Subscription
from .workflow import Verification, Workflow, link_snapshot, require

CHECK_IDS = ("subscription_exists", "subscription_linked", "requester_owns_namespace")


def validate(inputs: Inputs) -> None:
    require(inputs, "subscription")


def change(facts: Facts) -> Change | None:
    sub = facts.subscription
    if sub is None or sub.namespace_id is None:
        return None
    return Change(action="unlink_subscription", subscription=sub.name, namespace_id=sub.namespace_id)


def expected_plan(linked: list[Subscription]) -> str:
    """A namespace's plan: the newest active seats subscription linked to it, else free."""
    active = [s for s in linked if s.status == "active" and s.kind == "seats"]
    if not active:
        return "free"
    return max(active, key=lambda s: s.start_date or "").plan_code or "free"


def verify(ports: Ports, change: Change) -> Verification:
    """The namespace's plan on GitLab is `free` (or, should another active seats
    subscription still be linked to it, that one's plan: the portal's own rule)."""
    remaining = [
        s for s in ports.portal.namespace_subscriptions(change.namespace_id)
        if s.name != change.subscription
    ]
    expected = expected_plan(remaining)
    ns = ports.gitlab.namespace(change.namespace_id)
    observed = {"namespace_plan": ns.plan if ns else None, "expected_plan": expected}
    return Verification(held=ns is not None and ns.plan == expected, observed=observed)


CLEAR_SUBSCRIPTION = Workflow(
    name="clear_subscription", check_ids=CHECK_IDS, noop_check="subscription_linked",
    validate=validate, change=change, verify=verify, snapshot=link_snapshot,
)
