"""After a run: the result goes back to the ticket; a failure opens or feeds an escalation.

provisioning-rules.md, "After a run"; architecture.md, "Effects once". Every step may be
repeated after a crash without repeating its effect:

- notes end with a marker, and the Zendesk adapter posts one only if no comment holds it;
- a succeeded run's note, tags, transaction-type field and status go as one ticket update
  (one of Zendesk's ticket updates a minute, not four), which sends only what the ticket
  does not hold yet: a retried report finds its note and changes nothing twice;
- the escalation row is written first (one open per ticket and workflow, enforced by a
  partial unique index); its issue is created only if a search of the escalation project
  for the row's marker finds none, while the row is locked, so two failures at once make
  one issue;
- the run's timeline records the escalation it filed (`escalation.filed`), so a retried
  report neither comments again nor opens a new issue for the same run.

The text of every note and issue is in `workflows.notes`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk_app.storage import audit
from helpdesk_app.storage.models import AuditRecord, Escalation, Run, RunEvent, utcnow
from helpdesk_app.upstreams import trace
from workflows import Outcome, OutcomeStatus, notes

log = logging.getLogger(__name__)

PENDING = "pending"
# The tag of a ticket whose run failed and was escalated: views find these tickets by it.
ESCALATED_TAG = "lnr_escalated"
FILED_EVENT = "escalation.filed"
# Inserting the open row can lose a race to a concurrent escalation, which then is the
# open one; a third loss in a row would mean rows are being closed as fast as they open.
OPEN_ROW_ATTEMPTS = 3


def report_run(services: Any, run: Run, outcome: Outcome) -> Escalation | None:
    """Post the run's result to its ticket (provisioning-rules.md, "After a run")."""
    status = OutcomeStatus(outcome.status)
    if status is OutcomeStatus.FAILED:
        escalation = escalate(services, ticket_id=run.ticket_id, workflow=run.workflow, summary="",
                              agent=run_agent(run), run=run, outcome=outcome)
        services.zendesk.add_tags(run.ticket_id, ticket_tags(run.workflow, escalated=True))
        return escalation
    if status is OutcomeStatus.SUCCEEDED:
        _report_success(services, run, outcome)
        return None
    # Superseded or refused: nothing changed; the agent reviews the new plan.
    mark = services.marker("run", run.id)
    body = notes.superseded_note(outcome, mode=services.settings.mode, marker=mark)
    services.zendesk.add_internal_note(run.ticket_id, body, marker=mark)
    log.info("postback.superseded", extra={"run_id": run.id, "ticket_id": run.ticket_id})
    return None


def run_agent(run: Run) -> dict[str, Any]:
    return {"id": run.agent_id, **(run.agent or {})}


def noop_marker(services: Any, outcome: Outcome) -> str:
    """Keyed by the workflow and its canonical inputs, not the run: a double click or a
    retried delivery lands on the same marker, so the ticket gets one "nothing to do"."""
    return services.marker("noop", f"{outcome.workflow}:{notes.inputs_digest(outcome.plan.inputs)}")


def _report_success(services: Any, run: Run, outcome: Outcome) -> None:
    mode = services.settings.mode
    if outcome.changed:
        mark = services.marker("run", run.id)
        body = notes.success_note(outcome, mode=mode, marker=mark)
    else:
        mark = noop_marker(services, outcome)
        body = notes.noop_note(outcome, mode=mode, marker=mark)
    services.zendesk.update_ticket(run.ticket_id, note=body, marker=mark,
                                   tags=ticket_tags(run.workflow), status=PENDING,
                                   custom_fields=transaction_type(services, run.workflow))
    log.info("postback.succeeded", extra={"run_id": run.id, "ticket_id": run.ticket_id,
                                          "changed": outcome.changed, "marker": mark})


def ticket_tags(workflow: str, *, escalated: bool = False) -> list[str]:
    """The tags a run's result adds to its ticket (every tag decided here): the workflow's
    once it is done (seed 001), `lnr_escalated` once it failed and went to the engineers."""
    return [ESCALATED_TAG] if escalated else [f"lnr_{workflow}"]


def transaction_type(services: Any, workflow: str) -> dict[int, str]:
    """Seed 001: the transaction-type field ("Associate namespace"), when configured."""
    settings = services.settings
    field_id = settings.zendesk_transaction_type_field_id
    value = settings.zendesk_transaction_types.get(workflow)
    return {field_id: value} if field_id and value else {}


# -- escalations ---------------------------------------------------------------------------


def escalate(services: Any, *, ticket_id: int, workflow: str, summary: str,
             agent: dict[str, Any], run: Run | None = None,
             outcome: Outcome | None = None) -> Escalation:
    """Open (or comment on) the ticket's escalation issue for `workflow`; note it on the ticket."""
    ctx = _context(services, ticket_id, workflow, summary, agent, run, outcome)
    # A run's steps are keyed by the run; a manual escalation by what was asked (agent,
    # ticket, workflow, summary), so that the agent's retry after a failed note is
    # recognised and neither opens nor comments again.
    key = str(run.id) if run is not None else _request_key(ctx)
    filed = _filed_by(services, run) if run is not None else _filed_manually(services, ctx, key)
    if filed is not None:  # a retry: the GitLab step is done already
        row, action = filed
    else:
        row = open_escalation(services, ticket_id, workflow)
        row, action = _file(services, row.id, ctx, run, key)
    _note_escalation(services, row, action, ctx, key)
    log.info("escalation.reported", extra={"escalation_id": row.id, "ticket_id": ticket_id,
                                           "workflow": workflow, "action": action,
                                           "issue_iid": row.gitlab_issue_iid})
    return row


def open_escalation(services: Any, ticket_id: int, workflow: str) -> Escalation:
    """The open escalation row for the ticket and workflow, inserted when there is none."""
    for _ in range(OPEN_ROW_ATTEMPTS):
        with services.db() as session:
            row = session.scalar(select(Escalation).where(
                Escalation.ticket_id == ticket_id, Escalation.workflow == workflow,
                Escalation.state == "open"))
            if row is not None:
                return row
            key = f"{ticket_id}:{workflow}:{uuid.uuid4().hex[:12]}"
            row = Escalation(ticket_id=ticket_id, workflow=workflow, state="open",
                             marker=services.marker("escalation", key))
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                # The partial unique index "one open per ticket+workflow" chose another
                # insert; read the winner on the next pass.
                session.rollback()
                log.info("escalation.open_race", extra={"ticket_id": ticket_id, "workflow": workflow})
                continue
            log.info("escalation.opened", extra={"escalation_id": row.id, "ticket_id": ticket_id,
                                                 "workflow": workflow})
            return row
    raise RuntimeError(f"no open escalation row for ticket {ticket_id} / {workflow}")


def _file(services: Any, row_id: int, ctx: notes.EscalationContext,
          run: Run | None, key: str) -> tuple[Escalation, str]:
    """Give the row its issue (opened or adopted), or comment on the issue it has."""
    row, action = _ensure_issue(services, row_id, ctx, run, key)
    if action is not None:
        return row, action
    mark = services.marker("escalation-comment", f"{row.id}:{key}")
    body = notes.escalation_comment(ctx, mode=services.settings.mode, marker=mark)
    services.gitlab.comment_on_issue(row.gitlab_issue_iid, body, marker=mark)
    with services.db() as session, session.begin():
        _record_filed(session, run, row, "commented", ctx, key)
    log.info("escalation.commented",
             extra={"escalation_id": row.id, "issue_iid": row.gitlab_issue_iid})
    return row, "commented"


def _ensure_issue(services: Any, row_id: int, ctx: notes.EscalationContext,
                  run: Run | None, key: str) -> tuple[Escalation, str | None]:
    """(row, "opened" | "adopted") when this call gave the row its issue; (row, None) when
    it had one already."""
    with services.db() as session, session.begin():
        # Locked while the issue is looked for and made (PostgreSQL: FOR UPDATE; SQLite's
        # transaction holds the write lock): a concurrent failure waits, then comments.
        # Escalations are rare, so holding the lock over two GitLab calls costs little.
        row = session.get(Escalation, row_id, with_for_update=True)
        if row.gitlab_issue_iid is not None:
            return row, None
        issue, action = _find_or_create_issue(services, row, ctx)
        row.gitlab_issue_iid = int(issue["iid"])
        # GitLab's issue answer carries `web_url`, the issue's page (docs.gitlab.com/api/issues,
        # "New issue"; python-gitlab's `asdict()` keeps it): what the escalation links upstream.
        row.gitlab_issue_url = issue.get("web_url")
        _record_filed(session, run, row, action, ctx, key)
    return row, action


def _find_or_create_issue(services: Any, row: Escalation,
                          ctx: notes.EscalationContext) -> tuple[dict, str]:
    # An earlier attempt may have created the issue and crashed before storing its iid.
    found = services.gitlab.find_issue_by_marker(row.marker)
    if found is not None:
        log.info("escalation.issue_adopted",
                 extra={"escalation_id": row.id, "issue_iid": found.get("iid")})
        return found, "adopted"
    description = notes.escalation_description(ctx, mode=services.settings.mode, marker=row.marker)
    issue = services.gitlab.create_issue(notes.escalation_title(ctx), description,
                                         labels=[services.settings.escalation_label],
                                         marker=row.marker)
    log.info("escalation.issue_created",
             extra={"escalation_id": row.id, "issue_iid": issue.get("iid")})
    return issue, "opened"


def _record_filed(session: Any, run: Run | None, row: Escalation, action: str,
                  ctx: notes.EscalationContext, key: str) -> None:
    """In the transaction that stores the GitLab step: a run's timeline event, or a manual
    escalation's audit record (so it exists whatever then happens to the ticket note)."""
    if run is None:
        escalation = {"id": row.id, "ticket_id": row.ticket_id, "workflow": row.workflow,
                      "state": row.state, "issue_iid": row.gitlab_issue_iid,
                      "issue_url": row.gitlab_issue_url, "action": action, "request_key": key}
        audit.record_escalation(session, agent=dict(ctx.agent), ticket_id=ctx.ticket_id,
                                workflow=ctx.workflow, summary=ctx.summary, escalation=escalation,
                                request_ids=trace.current())
        return
    session.add(RunEvent(run_id=run.id, kind=FILED_EVENT, at=utcnow(), detail={
        "escalation_id": row.id, "action": action, "issue_iid": row.gitlab_issue_iid,
        "issue_url": row.gitlab_issue_url}))


def _filed_by(services: Any, run: Run) -> tuple[Escalation, str] | None:
    """The escalation this run already filed into, and how; None when it has not."""
    with services.db() as session:
        event = session.scalars(select(RunEvent).where(
            RunEvent.run_id == run.id, RunEvent.kind == FILED_EVENT).order_by(RunEvent.id)).first()
        if event is None:
            return None
        row = session.get(Escalation, event.detail["escalation_id"])
        return (row, event.detail["action"]) if row is not None else None


def _request_key(ctx: notes.EscalationContext) -> str:
    """12 hex of SHA-256 over what a manual escalation asked: its agent, ticket, workflow
    and summary. The same request again, while the issue is open, is the same escalation."""
    asked = json.dumps([ctx.agent.get("id"), ctx.ticket_id, ctx.workflow, ctx.summary],
                       separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(asked.encode("ascii")).hexdigest()[:notes.DIGEST_HEX]


def _filed_manually(services: Any, ctx: notes.EscalationContext,
                    key: str) -> tuple[Escalation, str] | None:
    """The open escalation this same manual request already filed into, and how, as its
    audit record says; None when it has not."""
    with services.db() as session:
        recorded = session.scalars(select(AuditRecord).where(
            AuditRecord.kind == "escalation", AuditRecord.ticket_id == ctx.ticket_id,
            AuditRecord.workflow == ctx.workflow).order_by(AuditRecord.id.desc()))
        for record in recorded:
            outcome = record.outcome or {}
            if outcome.get("request_key") != key:
                continue
            row = session.get(Escalation, outcome.get("id"))
            if row is not None and row.state == "open":
                return row, outcome.get("action", "opened")
    return None


def _note_escalation(services: Any, row: Escalation, action: str,
                     ctx: notes.EscalationContext, key: str) -> None:
    # Keyed like the GitLab step, so a retry finds its note.
    mark = services.marker("escalation-note", f"{row.id}:{key}")
    url = notes.escalation_url(row.gitlab_issue_url, row.gitlab_issue_iid,
                               agent_page=services.settings.agent_page_url)
    failed = notes.failure(ctx.outcome, attempts=ctx.attempts) if ctx.outcome else None
    body = notes.escalation_ticket_note(
        url=url or "", iid=row.gitlab_issue_iid, workflow=ctx.workflow,
        repeated=action == "commented", manual=ctx.run_id is None,
        failure=failed["message"] if failed else "", mode=services.settings.mode,
        marker=mark)
    services.zendesk.add_internal_note(ctx.ticket_id, body, marker=mark)


def _context(services: Any, ticket_id: int, workflow: str, summary: str, agent: dict[str, Any],
             run: Run | None, outcome: Outcome | None) -> notes.EscalationContext:
    if outcome is not None:
        inputs = outcome.plan.inputs
    else:
        inputs = run.inputs if run is not None else {}
    return notes.EscalationContext(
        ticket_id=ticket_id, workflow=workflow,
        ticket_link=notes.ticket_url(services.settings.zendesk_subdomain, ticket_id,
                                     agent_page=services.settings.agent_page_url),
        agent=agent, inputs=inputs or {}, summary=summary or "",
        override_reason=run.override_reason if run is not None else None,
        run_id=run.id if run is not None else None, outcome=outcome,
        attempts=run.attempts if run is not None else None,
        timeline=_timeline(services, run),
    )


def _timeline(services: Any, run: Run | None) -> tuple[notes.TimelineEntry, ...]:
    # Read from the database rather than `run.events`: the row may be detached.
    if run is None:
        return ()
    with services.db() as session:
        events = session.scalars(select(RunEvent).where(RunEvent.run_id == run.id)
                                 .order_by(RunEvent.id))
        return tuple(notes.TimelineEntry(e.at.isoformat(timespec="seconds"), e.kind, e.detail or {})
                     for e in events)
