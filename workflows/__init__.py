"""The provisioning domain: checks, plans, workflows. Pure Python.

It imports nothing from helpdesk_app, Flask, SQLAlchemy, zenpy, python-gitlab or requests;
it sees the world through the protocols in `workflows.ports`.

    plan("associate", ports, {"subscription": "A-S00000001", "namespace": "acme"})
"""
from __future__ import annotations

from typing import Any

from . import diagnose
from .associate import ASSOCIATE, FORCE_ASSOCIATE
from .clear_subscription import CLEAR_SUBSCRIPTION
from .clock import Clock, SystemClock
from .errors import BadInput, Refused, UpstreamError
from .execute import Confirmation, Pending, refuse_upfront
from .execute import execute as _execute
from .facts import Ports
from .inputs import Inputs, parse
from .link_account import LINK_ACCOUNT
from .model import Check, Decision, Outcome, OutcomeStatus, Plan, Verdict
from .rules import Rules
from .unlink_account import UNLINK_ACCOUNT
from .workflow import Workflow, make_plan

# One line per workflow. `diagnose` only plans; `escalate` is the service's, not the portal's.
MUTATING: dict[str, Workflow] = {
    w.name: w for w in (ASSOCIATE, FORCE_ASSOCIATE, CLEAR_SUBSCRIPTION, UNLINK_ACCOUNT, LINK_ACCOUNT)
}
WORKFLOW_NAMES = (*MUTATING, "diagnose")


def _inputs(raw: Inputs | dict[str, Any]) -> Inputs:
    return raw if isinstance(raw, Inputs) else parse(raw)


def workflow_named(name: str) -> Workflow:
    try:
        return MUTATING[name]
    except KeyError:
        raise BadInput(f"unknown workflow {name!r}; one of {', '.join(WORKFLOW_NAMES)}", field="workflow") from None


def plan(name: str, ports: Ports, inputs: Inputs | dict[str, Any], rules: Rules | None = None) -> Plan:
    """Plan a workflow (read only). Raises BadInput for input outside its grammar."""
    rules = rules or Rules()
    if name == "diagnose":
        return diagnose.plan(ports, _inputs(inputs), rules)
    return make_plan(workflow_named(name), ports, _inputs(inputs), rules)


def check_run(name: str, inputs: Inputs | dict[str, Any], confirmation: Confirmation) -> Inputs:
    """What can be judged before a run is recorded, with no upstream call: the workflow, the
    grammar and presence of its inputs, and the confirmation. Raises BadInput or Refused."""
    if name == "diagnose":
        raise Refused("not_executable", "diagnose only plans; there is nothing to execute")
    workflow = workflow_named(name)
    parsed = _inputs(inputs)
    workflow.validate(parsed)
    refuse_upfront(workflow, confirmation)
    return parsed


def execute(
    name: str,
    ports: Ports,
    inputs: Inputs | dict[str, Any],
    rules: Rules | None = None,
    *,
    confirmation: Confirmation,
    idempotency_key: str,
    **more: Any,
) -> Outcome:
    """Re-plan, act, verify. Raises Refused for a blocked plan or a missing reason.

    `more`: `pending` and `record_before` (a run's earlier attempt; execute.execute), and
    the verification's `clock` and `sleep`."""
    if name == "diagnose":
        raise Refused("not_executable", "diagnose only plans; there is nothing to execute")
    return _execute(workflow_named(name), ports, _inputs(inputs), rules or Rules(),
                    confirmation=confirmation, idempotency_key=idempotency_key, **more)


__all__ = [
    "BadInput", "Check", "Clock", "Confirmation", "Decision", "Inputs", "Outcome", "OutcomeStatus",
    "Pending", "Plan", "Ports", "Refused", "Rules", "SystemClock", "UpstreamError", "Verdict",
    "WORKFLOW_NAMES",
    "check_run", "execute", "plan", "workflow_named",
]
