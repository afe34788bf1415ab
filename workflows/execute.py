"""`execute`: act on a confirmed plan, safely.

It plans again against fresh state (the world may have moved since the agent looked),
acts only on a fresh plan that is `ready`, or `needs_override` whose overrides the agent
confirmed with a written reason, then reads the state back until it holds or
`Rules.verify_timeout_s` passes.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

from .errors import Refused, UpstreamError
from .facts import Ports
from .inputs import Inputs
from .model import Change, Decision, Outcome, OutcomeStatus, Plan
from .ports import Portal
from .rules import Rules
from .view import View
from .workflow import Verification, Workflow, decide, make_plan


@dataclass(frozen=True)
class Confirmation:
    """What the agent confirmed: the decision they saw, the overrides, and why."""

    decision: Decision | None = None
    override_ids: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def has_reason(self) -> bool:
        return bool(self.reason and self.reason.strip())


@dataclass(frozen=True)
class Pending:
    """What an earlier attempt of the same run recorded before its portal call: the change
    and the state before it (provisioning-rules.md, "Executing a run")."""

    change: Change
    before: dict


RecordBefore = Callable[[Change, dict], None]


def apply(portal: Portal, change: Change, idempotency_key: str) -> object:
    """The one portal call a plan intends, carrying the run's idempotency key; the portal's
    answer (its `replayed` says whether it was the first answer to this key again)."""
    if change.action == "link_subscription":
        return portal.link_subscription(
            change.subscription, change.namespace_id, force=change.force,
            idempotency_key=idempotency_key,
        )
    if change.action == "unlink_subscription":
        return portal.unlink_subscription(change.subscription, idempotency_key=idempotency_key)
    if change.action == "unlink_customer":
        return portal.unlink_customer(change.customer_id, idempotency_key=idempotency_key)
    if change.action == "link_customer":
        return portal.link_customer(change.customer_id, change.gitlab_user_id,
                                    idempotency_key=idempotency_key)
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


def verifying(workflow: Workflow, ports: Ports, change: Change
              ) -> tuple[Callable[[], Verification], list[View]]:
    """One read-back of the change, each on a view of its own (the state moves between
    polls), its independent reads sent together; `seen` holds the last one's view, whose
    answers are the after-state."""
    seen: list[View] = []

    def parts(p: Ports) -> list[Callable[[], object]]:
        ahead = [functools.partial(workflow.verify_ahead, p, change)] if workflow.verify_ahead else []
        return [*ahead, functools.partial(workflow.verify, p, change)]

    def check() -> Verification:
        view = View.of(ports).fresh()
        view.warm(parts)
        seen[:] = [view]
        return workflow.verify(view.ports, change)

    return check, seen


def execute(
    workflow: Workflow,
    ports: Ports,
    inputs: Inputs,
    rules: Rules,
    *,
    confirmation: Confirmation,
    idempotency_key: str,
    pending: Pending | None = None,
    record_before: RecordBefore | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Outcome:
    """`pending`: what an earlier attempt of this run recorded before its portal call, if
    any; `record_before` keeps the before-state durably before the first portal call.
    `clock` and `sleep` default to the ports' clock (tests may give a faster one).

    Nothing is read twice: the before-state is read from the fresh plan's answers (one
    view), the after-state from the last verification's (a view of its own each time)."""
    clock = clock or ports.clock
    sleep = sleep or ports.clock.sleep
    refuse_upfront(workflow, confirmation)
    view = View.of(ports)
    ports = view.ports
    fresh = make_plan(workflow, ports, inputs, rules)
    if fresh.decision is Decision.NOOP and pending is not None:
        return resume(workflow, ports, fresh, pending, rules, confirmation=confirmation,
                      idempotency_key=idempotency_key, clock=clock, sleep=sleep)
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
    if pending is not None and pending.change == change:
        before = pending.before  # the first before-state: an earlier call may have acted
    else:
        before = workflow.snapshot(ports, change)
        if record_before is not None:
            record_before(change, before)
    return _act(workflow, ports, fresh, change, before, rules, idempotency_key, clock, sleep)


def _act(workflow: Workflow, ports: Ports, plan: Plan, change: Change, before: dict,
         rules: Rules, idempotency_key: str, clock, sleep) -> Outcome:
    check, seen = verifying(workflow, ports, change)
    try:
        apply(ports.portal, change, idempotency_key)
        verification = poll(check, rules, clock, sleep)
    except UpstreamError as error:
        return Outcome(workflow.name, OutcomeStatus.FAILED, plan, before=before,
                       error=error.to_dict(), message=f"{error.upstream} failed: {error.message}")
    after = workflow.snapshot(seen[-1].ports, change)
    if not verification.held:
        return Outcome(workflow.name, OutcomeStatus.FAILED, plan, changed=True, verified=False,
                       before=before, after=after, message=(
                           "The change was made but did not take effect within "
                           f"{rules.verify_timeout_s:g} s: {verification.observed}"))
    return Outcome(workflow.name, OutcomeStatus.SUCCEEDED, plan, changed=True, verified=True,
                   before=before, after=after, message="Done, and verified.")


NOTHING_CHANGED = "Nothing to do: the target state already holds."


def resume(workflow: Workflow, ports: Ports, fresh: Plan, pending: Pending, rules: Rules, *,
           confirmation: Confirmation, idempotency_key: str, clock, sleep) -> Outcome:
    """A fresh `noop` after an attempt that may have made the change and was cut off.

    The same call again, with the same key: a replayed answer shows the change was this
    run's (changed, with the first before-state). The call is repeated only when the fresh
    plan, its noop aside, would still allow the change: should the earlier call never have
    reached the portal, the repeat acts, and must not act where the checks now stop it
    (e.g. a force link that would unlink a subscription linked since).
    """
    unconfirmed = set(fresh.override_ids) - set(confirmation.override_ids)
    overridden_without_reason = bool(fresh.override_ids) and not confirmation.has_reason
    if decide(fresh.checks, None) is Decision.BLOCKED or unconfirmed or overridden_without_reason:
        return Outcome(workflow.name, OutcomeStatus.SUCCEEDED, fresh, message=(
            f"{NOTHING_CHANGED} Whether an earlier attempt of this run made the change is "
            "unknown: the plan's checks now stop the call that would tell."))
    try:
        answer = apply(ports.portal, pending.change, idempotency_key)
    except UpstreamError as error:
        if error.transient:  # try again later: the answer would tell what happened
            return Outcome(workflow.name, OutcomeStatus.FAILED, fresh, before=pending.before,
                           error=error.to_dict(), message=f"{error.upstream} failed: {error.message}")
        return Outcome(workflow.name, OutcomeStatus.SUCCEEDED, fresh, message=NOTHING_CHANGED)
    if not getattr(answer, "replayed", False):
        return Outcome(workflow.name, OutcomeStatus.SUCCEEDED, fresh, message=NOTHING_CHANGED)
    # The noop plan names no change; the outcome carries the one this run made.
    made = dataclasses.replace(fresh, change=pending.change)
    check, seen = verifying(workflow, ports, pending.change)
    verification = poll(check, rules, clock, sleep)
    after = workflow.snapshot(seen[-1].ports, pending.change)
    return Outcome(workflow.name, OutcomeStatus.SUCCEEDED if verification.held else OutcomeStatus.FAILED,
                   made, changed=True, verified=verification.held, before=pending.before,
                   after=after, message=(
                       "Done by an earlier attempt of this run, which was cut off after its "
                       "portal call (the portal replayed its answer), and verified."
                       if verification.held else
                       f"The change was made but does not hold: {verification.observed}"))

