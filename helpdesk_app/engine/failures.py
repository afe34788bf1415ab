"""The operator's view of what went wrong, and sending one item back (issue 17, item 4).

Listed: failed runs; runs whose result could not be posted to the ticket (`report_failed`,
the state post-back gives a run whose retries are spent); dead deliveries; escalations open
longer than ESCALATION_OVERDUE_S. Requeued: one run or one delivery, in the same
transaction as its audit record (kind `requeue`). A requeued row is left undispatched, so
the deployment's sweeper sends it to a worker at its next round; the API also dispatches
it at once.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from helpdesk_app.engine.terms import REQUEUE_KINDS
from helpdesk_app.errors import ApiError
from helpdesk_app.storage.audit_chain import append_audit
from helpdesk_app.storage.models import Delivery, Escalation, Run, utcnow

FAILED_RUN_STATES = ("failed", "report_failed")
# An escalated run failed too; its escalation lists it while open, and once the cause is
# fixed an engineer may send it back.
REQUEUED_RUN_STATES = FAILED_RUN_STATES + ("escalated",)
KINDS = REQUEUE_KINDS
LIMIT = 100


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _run(run: Run) -> dict[str, Any]:
    return {"id": run.id, "workflow": run.workflow, "ticket_id": run.ticket_id, "state": run.state,
            "attempts": run.attempts, "finished_at": _iso(run.finished_at),
            "message": (run.outcome or {}).get("message"), "last_error": run.last_error}


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {"id": delivery.id, "source": delivery.source, "delivery_key": delivery.delivery_key,
            "attempts": delivery.attempts, "received_at": _iso(delivery.received_at),
            "last_error": delivery.last_error}


def _escalation(escalation: Escalation) -> dict[str, Any]:
    return {"id": escalation.id, "ticket_id": escalation.ticket_id, "workflow": escalation.workflow,
            "issue_url": escalation.gitlab_issue_url, "created_at": _iso(escalation.created_at)}


def list_failures(db, escalation_overdue_s: float) -> dict[str, list[dict[str, Any]]]:
    """The newest LIMIT of each kind."""
    overdue = utcnow() - timedelta(seconds=escalation_overdue_s)
    with db() as session:
        failed = session.scalars(select(Run).where(Run.state.in_(FAILED_RUN_STATES))
                                 .order_by(Run.id.desc()).limit(LIMIT))
        dead = session.scalars(select(Delivery).where(Delivery.status == "dead")
                               .order_by(Delivery.id.desc()).limit(LIMIT))
        open_long = session.scalars(select(Escalation).where(
            Escalation.state == "open", Escalation.created_at < overdue)
            .order_by(Escalation.id).limit(LIMIT))
        return {"runs": [_run(r) for r in failed], "deliveries": [_delivery(d) for d in dead],
                "escalations": [_escalation(e) for e in open_long]}


def requeue(db, kind: str, item_id: int, actor: dict[str, Any]) -> dict[str, Any]:
    """Send one failed run or dead (or failed) delivery back; raise ApiError 404 or 409."""
    if kind not in KINDS:
        raise ApiError(404, "unknown_kind", f"there is nothing of kind {kind!r}; one of {', '.join(KINDS)}")
    with db() as session:
        row = session.get(Run if kind == "run" else Delivery, item_id, with_for_update=True)
        if row is None:
            raise ApiError(404, f"{kind}_not_found", f"there is no {kind} {item_id}")
        if kind == "run":
            before = row.state
            _send_back(row)
        else:
            before = row.status
            _send_back_delivery(row)
        append_audit(session, kind="requeue", agent=actor,
                     ticket_id=row.ticket_id if kind == "run" else None,
                     workflow=row.workflow if kind == "run" else None,
                     inputs={"kind": kind, "id": item_id},
                     outcome={"from": before, "last_error": row.last_error})
        row.last_error = None
        session.commit()
    return {"kind": kind, "id": item_id, "from": before,
            "to": "queued" if kind == "run" else "received"}


def _send_back(run: Run) -> None:
    """A failed run is executed again from the start (it re-plans first, so nothing already
    done is repeated); a report_failed one only reports its result again."""
    if run.state not in REQUEUED_RUN_STATES:
        raise ApiError(409, "not_failed", f"run {run.id} is {run.state}; only failed runs are requeued")
    if run.lease_expires_at is not None and run.lease_expires_at > utcnow():
        raise ApiError(409, "busy", f"run {run.id} is being worked on; try again when it is done")
    if run.state == "report_failed":
        run.state = _finished_state(run)
    else:
        run.state, run.attempts, run.outcome, run.finished_at = "queued", 0, None, None
    run.reported_at = run.next_attempt_at = run.dispatched_at = None
    run.record("requeued", {})


def _finished_state(run: Run) -> str:
    status = (run.outcome or {}).get("status")
    return {"succeeded": "succeeded", "superseded": "superseded"}.get(status, "failed")


def _send_back_delivery(delivery: Delivery) -> None:
    if delivery.status not in ("dead", "failed"):
        raise ApiError(409, "not_failed",
                       f"delivery {delivery.id} is {delivery.status}; only dead or failed ones are requeued")
    delivery.status, delivery.attempts = "received", 0
    delivery.next_attempt_at = delivery.dispatched_at = delivery.processed_at = None


def job_kind(db, kind: str, item_id: int) -> str:
    """The job that works on the row (jobs.MODELS): `run`, or the delivery's source's."""
    if kind == "run":
        return "run"
    with db() as session:
        return f"{session.scalar(select(Delivery.source).where(Delivery.id == item_id))}_delivery"
