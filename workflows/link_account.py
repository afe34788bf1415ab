"""`link_account`: link a portal customer to a GitLab.com account (seed 001's path for
customers who cannot use the portal: resellers, sales-assisted, login not activated)."""
from __future__ import annotations

from .facts import Facts, Ports
from .model import Change
from .unlink_account import check_consistent, snapshot, validate
from .workflow import Verification, Workflow


def requester_ahead(facts: Facts) -> None:
    """requester_is_customer reads the requester once the customer is known to exist; the
    read needs only the ticket."""
    facts.requester  # noqa: B018 - read for its answer


CHECK_IDS = (
    "customer_exists", "customer_link_free", "gitlab_user_exists", "gitlab_user_not_admin",
    "gitlab_user_owns_namespace", "requester_is_customer", "requester_is_gitlab_user",
)


def change(facts: Facts) -> Change | None:
    customer, user = facts.customer, facts.gitlab_user
    if customer is None or user is None:
        return None
    return Change(action="link_customer", customer_id=customer.id, gitlab_user_id=user.id)


def verify(ports: Ports, change: Change) -> Verification:
    """The portal customer's `gitlab_user_id` is the user's id."""
    observed = snapshot(ports, change)
    return Verification(held=observed["gitlab_user_id"] == change.gitlab_user_id, observed=observed)


# The inputs' rules are unlink_account's: a customer, or a subscription to find it by.
LINK_ACCOUNT = Workflow(
    name="link_account", check_ids=CHECK_IDS, noop_check="customer_link_free",
    validate=validate, change=change, verify=verify, snapshot=snapshot,
    preflight=check_consistent, reads_ahead=(requester_ahead,),
)
