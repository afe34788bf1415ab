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
)
FORCE_ASSOCIATE = Workflow(
    name="force_associate", check_ids=CHECK_IDS, noop_check="already_linked_here",
    validate=validate, change=_change(True), verify=verify, snapshot=link_snapshot,
)
