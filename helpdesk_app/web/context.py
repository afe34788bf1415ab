"""What the sidebar shows of a ticket, and the JSON of runs and escalations.

Read from the database only: the sidebar asks for it on every load, so it never waits on
an upstream.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from helpdesk_app.engine.runs import version_of
from helpdesk_app.storage.models import Escalation, Run, TicketFindings

RECENT_RUNS = 20


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def escalation_json(escalation: Escalation) -> dict[str, Any]:
    return {
        "id": escalation.id, "ticket_id": escalation.ticket_id, "workflow": escalation.workflow,
        "state": escalation.state, "issue_iid": escalation.gitlab_issue_iid,
        "issue_url": escalation.gitlab_issue_url, "created_at": _iso(escalation.created_at),
    }


def run_json(run: Run, escalation: Escalation | None = None) -> dict[str, Any]:
    return {
        "id": run.id, "workflow": run.workflow, "ticket_id": run.ticket_id, "inputs": run.inputs,
        "state": run.state, "decision": run.decision, "override_ids": list(run.override_ids),
        "override_reason": run.override_reason, "agent": run.agent, "attempts": run.attempts,
        "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at), "reported_at": _iso(run.reported_at),
        "outcome": run.outcome,
        "events": [{"at": _iso(e.at), "kind": e.kind, "detail": e.detail} for e in run.events],
        "escalation": escalation_json(escalation) if escalation else None,
        # GET /api/v1/runs/<id>?wait=N&seen=<version> answers once this changes.
        "version": version_of(run),
    }


def ticket_context(db, ticket_id: int) -> dict[str, Any]:
    with db() as session:
        findings = session.scalars(select(TicketFindings)
                                   .where(TicketFindings.ticket_id == ticket_id)).one_or_none()
        runs = session.scalars(
            select(Run).options(selectinload(Run.events)).where(Run.ticket_id == ticket_id)
            .order_by(Run.id.desc()).limit(RECENT_RUNS)).all()
        escalations = session.scalars(select(Escalation).where(Escalation.ticket_id == ticket_id)
                                      .order_by(Escalation.id.desc())).all()
    return {
        "ticket_id": ticket_id,
        "findings": ({**findings.findings, "updated_at": _iso(findings.updated_at)}
                     if findings else None),
        "runs": [run_json(r) for r in runs],
        "escalations": [escalation_json(e) for e in escalations],
    }
