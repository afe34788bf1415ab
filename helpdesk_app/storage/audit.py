"""The audit trail: every plan shown and every run, appended to the hash chain (db.py).

provisioning-rules.md, "After a run": recorded with the agent, ticket, inputs, checks,
override reason, outcome and upstream request ids; nothing is ever deleted from it.
"""
from __future__ import annotations

import json
from typing import IO, Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk_app.storage.audit_chain import append_audit, chain_head
from helpdesk_app.storage.audit_fields import EXPORTED, plan_fields, run_fields
from helpdesk_app.storage.models import AuditRecord, Run
from workflows import Plan


def record_plan(session: Session, *, agent: dict[str, Any], ticket_id: int | None, plan: Plan,
                request_ids: list[str]) -> AuditRecord:
    return append_audit(session, **plan_fields(agent=agent, ticket_id=ticket_id, plan=plan,
                                               request_ids=request_ids))


def record_run(session: Session, run: Run, request_ids: list[str]) -> AuditRecord:
    return append_audit(session, **run_fields(
        run_id=run.id, state=run.state, agent=run.agent, ticket_id=run.ticket_id,
        workflow=run.workflow, inputs=run.inputs, override_reason=run.override_reason,
        outcome=run.outcome, request_ids=request_ids))


def record_report_failed(session: Session, run: Run, error: dict[str, Any]) -> AuditRecord:
    """The run's result will never be posted to its ticket (runs._report_failed)."""
    return append_audit(
        session, kind="report_failed", agent=run.agent, ticket_id=run.ticket_id,
        workflow=run.workflow, inputs=run.inputs,
        outcome={"run_id": run.id, "state": run.state, "error": error}, upstream_request_ids=[],
    )


def record_escalation(session: Session, *, agent: dict[str, Any], ticket_id: int, workflow: str,
                      summary: str, escalation: dict[str, Any],
                      request_ids: list[str]) -> AuditRecord:
    return append_audit(
        session, kind="escalation", agent=agent, ticket_id=ticket_id, workflow=workflow,
        inputs={"summary": summary}, outcome=escalation, upstream_request_ids=request_ids,
    )


def as_dict(record: AuditRecord) -> dict[str, Any]:
    data = {name: getattr(record, name) for name in EXPORTED}
    data["at"] = record.at.isoformat()
    return data


def records(session: Session, *, ticket_id: int | None = None) -> Iterator[AuditRecord]:
    """Oldest first, streamed, so an export of a long trail holds one row at a time."""
    query = select(AuditRecord).order_by(AuditRecord.id)
    if ticket_id is not None:
        query = query.where(AuditRecord.ticket_id == ticket_id)
    yield from session.scalars(query.execution_options(yield_per=500))


def export_json_lines(session: Session, out: IO[str], *, ticket_id: int | None = None) -> int:
    """Write one JSON object per record, then `{"chain_head": ...}` (the whole chain's head,
    even for one ticket's records); return how many records."""
    count = 0
    for record in records(session, ticket_id=ticket_id):
        out.write(json.dumps(as_dict(record), sort_keys=True, ensure_ascii=False) + "\n")
        count += 1
    out.write(json.dumps({"chain_head": chain_head(session)}) + "\n")
    return count
