"""What a workflow is, how a plan is made, and how a decision follows from the checks."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable

from .checks import CHECKS
from .errors import BadInput
from .facts import Facts, Ports
from .inputs import Inputs
from .model import Change, Check, Decision, Plan, Verdict
from .rules import Rules
from .view import View


@dataclass(frozen=True)
class Verification:
    """Reads the world back after a change; `held` says whether the target state holds."""

    held: bool
    observed: dict


@dataclass(frozen=True)
class Workflow:
    name: str
    check_ids: tuple[str, ...]
    # The check whose `info` verdict means the target state already holds (decision noop).
    noop_check: str | None
    validate: Callable[[Inputs], None]
    change: Callable[[Facts], Change | None]
    verify: Callable[[Ports, Change], Verification] | None = None
    # Reads the state a change touches, for the before/after of the ticket note.
    snapshot: Callable[[Ports, Change], dict] | None = None
    # Consistency rules between inputs that need a lookup to judge (raises BadInput).
    preflight: Callable[[Facts], None] | None = None
    # Reads the checks reach only after an answer they do not need for them, named so that
    # they go out a level earlier (workflows/view.py); a plan's result never depends on them.
    reads_ahead: tuple[Callable[[Facts], object], ...] = ()
    # The same for a verification.
    verify_ahead: Callable[[Ports, Change], object] | None = None

    @property
    def mutating(self) -> bool:
        return self.verify is not None


def decide(checks: tuple[Check, ...], noop_check: str | None) -> Decision:
    """provisioning-rules.md, "Verdicts and the decision", in its order."""
    verdicts = {c.id: c.verdict for c in checks}
    if noop_check is not None and verdicts.get(noop_check) is Verdict.INFO:
        return Decision.NOOP
    if Verdict.BLOCK in verdicts.values():
        return Decision.BLOCKED
    if Verdict.OVERRIDE in verdicts.values():
        return Decision.NEEDS_OVERRIDE
    return Decision.READY


def plan_parts(workflow: Workflow, inputs: Inputs, rules: Rules):
    """What a plan reads, part by part, for `View.warm`: its preflight, the reads it names
    ahead, and each check on its own (one that needs an answer does not hold up the next)."""
    def parts(ports: Ports) -> Iterable[Callable[[], object]]:
        facts = Facts(ports, inputs, rules)
        if workflow.preflight is not None:
            yield functools.partial(workflow.preflight, facts)
        for ahead in workflow.reads_ahead:
            yield functools.partial(ahead, facts)
        for check_id in workflow.check_ids:
            yield functools.partial(CHECKS[check_id], facts, workflow.name)

    return parts


def make_plan(workflow: Workflow, ports: Ports, inputs: Inputs, rules: Rules) -> Plan:
    """The plan, its independent reads sent level by level (`View.warm`) before the checks
    run, in their order, against the answers (the request's view when `ports` is one)."""
    workflow.validate(inputs)
    view = View.of(ports)
    view.warm(plan_parts(workflow, inputs, rules))
    facts = Facts(view.ports, inputs, rules)
    if workflow.preflight is not None:
        workflow.preflight(facts)
    checks = tuple(CHECKS[check_id](facts, workflow.name) for check_id in workflow.check_ids)
    decision = decide(checks, workflow.noop_check)
    change = workflow.change(facts) if decision is not Decision.NOOP else None
    return Plan(
        workflow=workflow.name,
        inputs=inputs.to_dict(),
        checks=checks,
        decision=decision,
        facts=facts.to_dict(),
        change=change if decision in (Decision.READY, Decision.NEEDS_OVERRIDE) else None,
    )


def link_snapshot(ports: Ports, change: Change) -> dict:
    """Plan, seats and linked namespace, as the note's before/after shows them."""
    sub = ports.portal.subscription(change.subscription)
    ns = ports.gitlab.namespace(change.namespace_id)
    return {
        "subscription_namespace_id": sub.namespace_id if sub else None,
        "namespace_plan": ns.plan if ns else None,
        "seats_in_use": ns.billable_members_count if ns else None,
        "subscription_seats": sub.seats if sub else None,
    }


def require(inputs: Inputs, *names: str) -> None:
    for name in names:
        if getattr(inputs, name) is None:
            raise BadInput(f"{name} is required", field=name)
