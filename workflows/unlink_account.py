"""`unlink_account`: remove the link between a portal customer and a GitLab.com account."""
from __future__ import annotations

from .errors import BadInput
from .facts import Facts, Ports
from .inputs import Inputs
from .model import Change
from .workflow import Verification, Workflow

CHECK_IDS = (
    "customer_exists", "customer_has_link", "requester_is_customer",
    "customer_subscriptions_linked", "linked_user_not_admin",
)


def validate(inputs: Inputs) -> None:
    if inputs.customer_id is None and inputs.subscription is None:
        raise BadInput("customer (or a subscription, to find its customer) is required", field="customer")


def change(facts: Facts) -> Change | None:
    customer = facts.customer
    if customer is None or customer.gitlab_user_id is None:
        return None
    return Change(action="unlink_customer", customer_id=customer.id)


def check_consistent(facts: Facts) -> None:
    """A given customer wins, but a subscription of another customer is bad input."""
    given = facts.inputs.customer_id
    if given is not None and facts.inputs.subscription is not None:
        sub = facts.subscription
        if sub is not None and sub.customer_id != given:
            raise BadInput(
                f"subscription {sub.name} belongs to customer {sub.customer_id}, not {given}",
                field="customer",
            )


def customer_ahead(facts: Facts) -> None:
    """The checks read the customer's subscriptions and the requester once the customer is
    known to exist; both reads need only the customer's id and the ticket."""
    if facts.customer_id is not None:
        facts.ports.portal.customer_subscriptions(facts.customer_id)
    facts.requester  # noqa: B018 - read for its answer


def snapshot(ports: Ports, change: Change) -> dict:
    customer = ports.portal.customer(change.customer_id)
    return {"gitlab_user_id": customer.gitlab_user_id if customer else None}


def verify(ports: Ports, change: Change) -> Verification:
    """The portal customer has no link."""
    observed = snapshot(ports, change)
    return Verification(held=observed["gitlab_user_id"] is None, observed=observed)


UNLINK_ACCOUNT = Workflow(
    name="unlink_account", check_ids=CHECK_IDS, noop_check="customer_has_link",
    validate=validate, change=change, verify=verify, snapshot=snapshot,
    preflight=check_consistent, reads_ahead=(customer_ahead,),
)
