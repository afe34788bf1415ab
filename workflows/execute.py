"""`execute`: act on a confirmed plan, safely.

It plans again against fresh state (the world may have moved since the agent looked),
acts only on a fresh plan that is `ready`, or `needs_override` whose overrides the agent
confirmed with a written reason, then reads the state back until it holds or
`Rules.verify_timeout_s` passes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .errors import Refused, UpstreamError
from .facts import Ports
from .inputs import Inputs
from .model import Change, Decision, Outcome, OutcomeStatus, Plan
from .ports import Portal
from .rules import Rules
from .workflow import Verification, Workflow, make_plan


@dataclass(frozen=True)
class Confirmation:
    """What the agent confirmed: the decision they saw, the overrides, and why."""

    decision: Decision | None = None
    override_ids: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def has_reason(self) -> bool:
        return bool(self.reason and self.reason.strip())


def apply(portal: Portal, change: Change, idempotency_key: str) -> None:
    """The one portal call a plan intends, carrying the run's idempotency key."""
    if change.action == "link_subscription":
        portal.link_subscription(
            change.subscription, change.namespace_id, force=change.force,
            idempotency_key=idempotency_key,
        )
    elif change.action == "unlink_subscription":
        portal.unlink_subscription(change.subscription, idempotency_key=idempotency_key)
    elif change.action == "unlink_customer":
        portal.unlink_customer(change.customer_id, idempotency_key=idempotency_key)
    elif change.action == "link_customer":
        portal.link_customer(change.customer_id, change.gitlab_user_id, idempotency_key=idempotency_key)
    else:  # a new Change action must be taught here; never silently do nothing
        raise ValueError(f"unknown change action {change.action}")


def refuse_upfront(workflow: Workflow, confirmation: Confirmation) -> None:
    if not workflow.mutating:
        raise Refused("not_executable", f"{workflow.name} only plans; there is nothing to execute")
    if confirmation.decision is Decision.BLOCKED:
        raise Refused("plan_blocked", "a blocked plan cannot be executed; the checks say what to do instead")
    if confirmation.override_ids and not confirmation.has_reason:
        raise Refused("reason_required", "overriding a check needs a written reason")


def judge(fresh: Plan, confirmation: Confirmation) -> OutcomeStatus | None:
    """None to proceed; else how the run ends without a change (or raise Refused)."""
    if fresh.decision is Decision.NOOP:
        return OutcomeStatus.SUCCEEDED
    if fresh.decision is Decision.READY:
        return None
    saw = confirmation.decision
    if fresh.decision is Decision.BLOCKED:
        if saw is None:
            raise Refused("plan_blocked", "the plan is blocked; the checks say what to do instead")
        return OutcomeStatus.SUPERSEDED
    # needs_override
    if not confirmation.has_reason and saw in (None, Decision.NEEDS_OVERRIDE):
        raise Refused("reason_required", "this plan needs an override with a written reason")
    unconfirmed = set(fresh.override_ids) - set(confirmation.override_ids)
    if unconfirmed or not confirmation.has_reason:
        return OutcomeStatus.SUPERSEDED
    return None


def poll(
    check: Callable[[], Verification],
    rules: Rules,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Verification:
    """Read back with backoff until the state holds or the timeout passes."""
    deadline = clock() + rules.verify_timeout_s
    delay = rules.verify_first_delay_s
    while True:
        result = check()
        if result.held or clock() + delay > deadline:
            return result
        sleep(delay)
        delay = min(delay * 2, rules.verify_max_delay_s)


def execute(
    workflow: Workflow,
    ports: Ports,
    inputs: Inputs,
    rules: Rules,
    *,
    confirmation: Confirmation,
    idempotency_key: str,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    refuse_upfront(workflow, confirmation)
    fresh = make_plan(workflow, ports, inputs, rules)
    ended = judge(fresh, confirmation)
    if ended is OutcomeStatus.SUCCEEDED:
        return Outcome(workflow.name, ended, fresh, message="Nothing to do: the target state already holds.")
    if ended is OutcomeStatus.SUPERSEDED:
        return Outcome(workflow.name, ended, fresh, message=(
            f"The world changed since the plan was confirmed: it is now {fresh.decision}. "
            "Review the new plan and confirm again."))
    change = fresh.change
    if change is None:  # a ready or overridable plan always names its change; never act blind
        raise ValueError(f"{workflow.name}: a {fresh.decision} plan without a change")
    before = workflow.snapshot(ports, change)
    try:
        apply(ports.portal, change, idempotency_key)
        verification = poll(lambda: workflow.verify(ports, change), rules, clock, sleep)
    except UpstreamError as error:
        return Outcome(workflow.name, OutcomeStatus.FAILED, fresh, before=before,
                       error=error.to_dict(), message=f"{error.upstream} failed: {error.message}")
    after = workflow.snapshot(ports, change)
    if not verification.held:
        return Outcome(workflow.name, OutcomeStatus.FAILED, fresh, changed=True, verified=False,
                       before=before, after=after, message=(
                           "The change was made but did not take effect within "
                           f"{rules.verify_timeout_s:g} s: {verification.observed}"))
    return Outcome(workflow.name, OutcomeStatus.SUCCEEDED, fresh, changed=True, verified=True,
                   before=before, after=after, message="Done, and verified.")
