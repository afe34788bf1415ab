"""The run triage recommends for a ticket, with its inputs, when it has all of them: what
the sidebar plans as soon as it opens (issue 20, "one click from a triaged ticket").

Read from a ticket's stored findings (helpdesk_app/engine/triage_job.py: triage's findings,
its `recommended` workflow and the diagnosis), so findings stored before this existed get
one too.
"""
from __future__ import annotations

from typing import Any, Mapping

from .associate import ASSOCIATE, FORCE_ASSOCIATE
from .clear_subscription import CLEAR_SUBSCRIPTION
from .errors import BadInput
from .inputs import parse
from .link_account import LINK_ACCOUNT
from .unlink_account import UNLINK_ACCOUNT

RUNNABLE = {w.name: w for w in (ASSOCIATE, FORCE_ASSOCIATE, CLEAR_SUBSCRIPTION, UNLINK_ACCOUNT,
                                LINK_ACCOUNT)}


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _pair(findings: Mapping[str, Any], workflow: str) -> dict[str, Any]:
    """The diagnosed pair that recommends `workflow`, else the first pair the ticket names."""
    diagnosis = findings.get("diagnosis") or {}
    for entry in diagnosis.get("recommendations") or []:
        if isinstance(entry, dict) and entry.get("recommended") == workflow:
            return {"subscription": entry.get("subscription"), "namespace": entry.get("namespace")}
    return {"subscription": _first(findings.get("subscriptions")),
            "namespace": _first(findings.get("namespaces"))}


def _inputs(findings: Mapping[str, Any], workflow: str) -> dict[str, Any]:
    pair = _pair(findings, workflow)
    if workflow in ("associate", "force_associate"):
        return pair
    if workflow == "clear_subscription":
        return {"subscription": pair["subscription"]}
    # unlink_account, link_account: the customer named, or found by the requester's email
    # (diagnose's inputs then carry it), else the subscription's customer.
    diagnosis_inputs = (findings.get("diagnosis") or {}).get("inputs") or {}
    customer = _first(findings.get("customer_ids")) or diagnosis_inputs.get("customer_id")
    if customer is not None:
        return {"customer": customer}
    return {"subscription": pair["subscription"]}


def recommended_run(findings: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """{"workflow", "inputs"} when triage recommends a workflow and the ticket gave all of
    its inputs; None otherwise (nothing recommended, `diagnose` or `escalate`, or an input
    missing)."""
    workflow = (findings or {}).get("recommended")
    if findings is None or workflow not in RUNNABLE:
        return None
    inputs = {k: v for k, v in _inputs(findings, workflow).items() if v is not None}
    try:
        RUNNABLE[workflow].validate(parse(inputs))
    except BadInput:
        return None
    return {"workflow": workflow, "inputs": inputs}
