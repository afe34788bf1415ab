"""What the sidebar shows of a ticket, and the JSON of runs and escalations.

Read from the database only: the sidebar asks for it on every load, so it never waits on
an upstream.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from helpdesk_app.access.agents import Agent
from helpdesk_app.access.policy import Policy
from helpdesk_app.engine.runs import version_of, waiting
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import Escalation, Run, TicketFindings, utcnow
from workflows import Outcome, notes
from workflows.labels import event_label, workflow_name
from workflows.recommendation import recommended_run

RECENT_RUNS = 20
# The sidebar's workflow dropdown, in its order (web/sidebar.py).
DROPDOWN = ("associate", "force_associate", "clear_subscription", "unlink_account", "link_account")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _iso_seconds(value: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second, as the timeline shows it."""
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else None


def escalation_json(escalation: Escalation, settings: Settings | None = None) -> dict[str, Any]:
    """`url` opens the issue: GitLab's web_url upstream; in sandbox mode the agent page's
    view of it, since the sandbox's GitLab has no web interface (notes.escalation_url)."""
    agent_page = settings.agent_page_url if settings is not None else None
    return {
        "id": escalation.id, "ticket_id": escalation.ticket_id, "workflow": escalation.workflow,
        "state": escalation.state, "issue_iid": escalation.gitlab_issue_iid,
        "issue_url": escalation.gitlab_issue_url, "created_at": _iso(escalation.created_at),
        "url": notes.escalation_url(escalation.gitlab_issue_url, escalation.gitlab_issue_iid,
                                    agent_page=agent_page),
    }


def _events(run: Run) -> list[dict[str, Any]]:
    return [{"at": _iso_seconds(e.at), "kind": e.kind, "label": event_label(e.kind),
             "detail": e.detail} for e in run.events]


def _words(run: Run, escalation: Escalation | None) -> dict[str, Any]:
    """The finished run in words: its result and, when it failed, why and of what kind."""
    if run.outcome is None:
        return {"result": None, "failure": None}
    outcome = Outcome.from_dict(run.outcome)
    escalated = run.state == "escalated" and escalation is not None
    return {"result": notes.run_result(outcome, attempts=run.attempts, escalated=escalated),
            "failure": notes.failure(outcome, attempts=run.attempts)}


def run_json(run: Run, escalation: Escalation | None = None,
             settings: Settings | None = None) -> dict[str, Any]:
    return {
        "id": run.id, "workflow": run.workflow, "workflow_name": workflow_name(run.workflow),
        "ticket_id": run.ticket_id, "inputs": run.inputs,
        "state": run.state, "decision": run.decision, "override_ids": list(run.override_ids),
        "override_reason": run.override_reason, "agent": run.agent, "attempts": run.attempts,
        "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at), "reported_at": _iso(run.reported_at),
        "outcome": run.outcome,
        "events": _events(run),
        "waiting": waiting(run, settings, utcnow()) if settings is not None else None,
        **_words(run, escalation),
        "escalation": escalation_json(escalation, settings) if escalation else None,
        # GET /api/v1/runs/<id>?wait=N&seen=<version> answers once this changes.
        "version": version_of(run),
    }


def workflow_choices(policy: Policy, agent: Agent) -> list[dict[str, Any]]:
    """The dropdown's workflows for this agent: each with whether they may run it and the
    groups that may (disabled ones are shown with who may, never hidden)."""
    return [{"name": name, "label": workflow_name(name),
             "allowed": policy.refusal(agent, name) is None,
             "allowed_groups": policy.allowed_groups(name),
             "refusal": policy.refusal(agent, name)} for name in DROPDOWN]


def findings_json(findings: TicketFindings | None) -> dict[str, Any] | None:
    if findings is None:
        return None
    return {**findings.findings, "updated_at": _iso(findings.updated_at),
            "recommendation": recommended_run(findings.findings)}


def _findings_of(session, ticket_id: int) -> TicketFindings | None:
    return session.scalars(select(TicketFindings).where(TicketFindings.ticket_id == ticket_id)).one_or_none()


def stored_findings(db, ticket_id: int) -> dict[str, Any] | None:
    with db() as session:
        return findings_json(_findings_of(session, ticket_id))


def ticket_context(db, ticket_id: int, settings: Settings | None = None) -> dict[str, Any]:
    with db() as session:
        findings = _findings_of(session, ticket_id)
        runs = session.scalars(
            select(Run).options(selectinload(Run.events)).where(Run.ticket_id == ticket_id)
            .order_by(Run.id.desc()).limit(RECENT_RUNS)).all()
        escalations = session.scalars(select(Escalation).where(Escalation.ticket_id == ticket_id)
                                      .order_by(Escalation.id.desc())).all()
    return {
        "ticket_id": ticket_id,
        "findings": findings_json(findings),
        "runs": [run_json(r, settings=settings) for r in runs],
        "escalations": [escalation_json(e, settings) for e in escalations],
    }
