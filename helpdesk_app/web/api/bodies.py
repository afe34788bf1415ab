"""The request bodies of /api/v1, parsed into the domain's types; BadInput names the field.

Strict on purpose: an unknown field is an error, not silently dropped, so a typo in a
sidebar build cannot turn into a run with fewer inputs than the agent meant.
"""
from __future__ import annotations

import re
from typing import Any

from helpdesk_app.engine.runs import RunRequest
from helpdesk_app.engine.terms import IDEMPOTENCY_KEY, MAX_REASON
from workflows import WORKFLOW_NAMES, BadInput, Confirmation, Decision
from workflows.inputs import Inputs, parse, positive_id

INPUT_FIELDS = ("subscription", "subscriptions", "namespace", "namespaces", "customer",
                "gitlab_user")
MAX_OVERRIDES = 20
MAX_SUMMARY = 5000
CHECK_ID = re.compile(r"^[a-z_]{1,64}$")


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _only(body: dict[str, Any], allowed: tuple[str, ...], where: str = "body") -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r} in {where}; allowed: {', '.join(allowed)}",
                       field=unknown[0])


def _workflow(body: dict[str, Any], choices: tuple[str, ...] = WORKFLOW_NAMES) -> str:
    name = body.get("workflow")
    if name not in choices:
        raise BadInput(f"workflow must be one of {', '.join(choices)}", field="workflow")
    return name


def _inputs(body: dict[str, Any], ticket_id: int) -> Inputs:
    raw = body.get("inputs", {})
    if not isinstance(raw, dict):
        raise BadInput("inputs must be an object", field="inputs")
    _only(raw, INPUT_FIELDS, "inputs")
    return parse({**raw, "ticket": ticket_id})


def plan_request(body: Any) -> tuple[str, int, Inputs]:
    body = json_object(body)
    _only(body, ("workflow", "ticket_id", "inputs"))
    ticket_id = positive_id(body.get("ticket_id"), "ticket_id")
    return _workflow(body), ticket_id, _inputs(body, ticket_id)


def run_request(body: Any) -> RunRequest:
    body = json_object(body)
    _only(body, ("workflow", "ticket_id", "inputs", "confirmation"))
    ticket_id = positive_id(body.get("ticket_id"), "ticket_id")
    inputs = _inputs(body, ticket_id)
    return RunRequest(workflow=_workflow(body), ticket_id=ticket_id, inputs=inputs.to_dict(),
                      confirmation=_confirmation(body.get("confirmation")))


def _confirmation(raw: Any) -> Confirmation:
    if not isinstance(raw, dict):
        raise BadInput("confirmation must be an object with the decision the agent saw",
                       field="confirmation")
    _only(raw, ("decision", "override_ids", "reason"), "confirmation")
    decisions = [str(d) for d in Decision]
    if raw.get("decision") not in decisions:
        raise BadInput(f"confirmation.decision must be one of {', '.join(decisions)}",
                       field="confirmation.decision")
    overrides = raw.get("override_ids", [])
    if (not isinstance(overrides, list) or len(overrides) > MAX_OVERRIDES
            or not all(isinstance(o, str) and CHECK_ID.match(o) for o in overrides)):
        raise BadInput("confirmation.override_ids must be a list of check ids",
                       field="confirmation.override_ids")
    reason = raw.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise BadInput(f"confirmation.reason must be text of at most {MAX_REASON} characters",
                       field="confirmation.reason")
    return Confirmation(decision=Decision(raw["decision"]), override_ids=tuple(dict.fromkeys(overrides)),
                        reason=reason.strip() if reason and reason.strip() else None)


def escalation_request(body: Any) -> tuple[int, str, str]:
    body = json_object(body)
    _only(body, ("ticket_id", "workflow", "summary"))
    ticket_id = positive_id(body.get("ticket_id"), "ticket_id")
    workflow = _workflow(body, (*WORKFLOW_NAMES, "escalate")) if "workflow" in body else "escalate"
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip() or len(summary) > MAX_SUMMARY:
        raise BadInput(f"summary must be text of 1 to {MAX_SUMMARY} characters", field="summary")
    return ticket_id, workflow, summary.strip()


def idempotency_key(value: str | None) -> str:
    if value is None:
        raise BadInput("the Idempotency-Key header is required: one fresh key per confirmation",
                       field="Idempotency-Key")
    if not IDEMPOTENCY_KEY.match(value):
        raise BadInput("Idempotency-Key must be 8 to 200 characters of letters, digits and _.:-",
                       field="Idempotency-Key")
    return value
