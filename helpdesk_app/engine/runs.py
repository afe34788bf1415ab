"""Runs: recorded once under the request's Idempotency-Key, executed by a job, reported back.

The database is the source of truth (architecture.md, "Durability"): the request is stored
as a `queued` run and committed before anything acts; the job reloads it by id, takes it
with a conditional UPDATE (so a second dispatch of the same id does nothing), re-checks the
policy, lets `workflows.execute` re-plan and act, records the outcome and the audit record,
and hands the result to the post-back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

import workflows
from helpdesk_app import metrics
from helpdesk_app.access.agents import Agent
from helpdesk_app.engine import postback, run_watch
from helpdesk_app.engine.leases import (
    Heartbeat,
    LeasedPortal,
    LeaseLost,
    claim_run,
    holds_lease,
    release,
    worker_id,
)
from helpdesk_app.engine.terms import RUN_STATE
from helpdesk_app.errors import ApiError
from helpdesk_app.storage import audit
from helpdesk_app.storage.models import Escalation, Run, RunEvent, utcnow
from helpdesk_app.upstreams import trace, zendesk_pacing
from helpdesk_app.upstreams.retry import RetryPolicy
from workflows import BadInput, Confirmation, Decision, Outcome, OutcomeStatus, Pending, Plan, Refused
from workflows.errors import UpstreamError
from workflows.model import Change

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class RunRequest:
    """A parsed `POST /api/v1/runs` body (api/bodies.py)."""

    workflow: str
    ticket_id: int
    inputs: dict[str, Any]
    confirmation: Confirmation

    def fingerprint(self, agent_id: int) -> str:
        """SHA-256 of what the run would do and for whom: same key + other body = 422."""
        canonical = json.dumps({
            "agent": agent_id, "workflow": self.workflow, "ticket": self.ticket_id,
            "inputs": self.inputs, "decision": str(self.confirmation.decision),
            "overrides": sorted(self.confirmation.override_ids),
            "reason": self.confirmation.reason,
        }, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def create_run(db, request: RunRequest, agent: Agent, idempotency_key: str) -> tuple[Run, bool]:
    """The run for this key: a new `queued` one (True), or the one the key already made."""
    fingerprint = request.fingerprint(agent.id)
    confirmation = request.confirmation
    with db() as session:
        run = Run(
            workflow=request.workflow, ticket_id=request.ticket_id, inputs=request.inputs,
            # The plan as the agent confirmed it; the worker re-plans against fresh state.
            plan={"decision": str(confirmation.decision),
                  "override_ids": list(confirmation.override_ids)},
            decision=str(confirmation.decision), override_ids=list(confirmation.override_ids),
            override_reason=confirmation.reason, agent_id=agent.id, agent=agent.to_dict(),
            idempotency_key=idempotency_key, request_hash=fingerprint, state="queued",
        )
        run.record("queued", {"agent": agent.name or agent.id})
        session.add(run)
        try:
            session.commit()
            log.info("run.created", extra={"run_id": run.id, "workflow": run.workflow})
            return load_run(db, run.id), True
        except IntegrityError:  # the unique key decides, however many requests race
            session.rollback()
    existing = _run_by_key(db, idempotency_key)
    if existing.request_hash != fingerprint:
        raise ApiError(422, "idempotency_key_reused",
                       "this Idempotency-Key was already used for a different request")
    return existing, False


def _run_by_key(db, key: str) -> Run:
    with db() as session:
        return session.scalars(select(Run).options(selectinload(Run.events))
                               .where(Run.idempotency_key == key)).one()


def load_run(db, run_id: int) -> Run | None:
    with db() as session:
        return session.scalars(select(Run).options(selectinload(Run.events))
                               .where(Run.id == run_id)).one_or_none()


def version(state: str, events: int, reported: bool) -> str:
    """What changes with anything the sidebar shows of a run (run_watch.py)."""
    return f"{state}.{events}.{int(reported)}"


def version_of(run: Run) -> str:
    return version(run.state, len(run.events), run.reported_at is not None)


def stored_version(db, run_id: int) -> str | None:
    """The run's version as stored now, in one query; None when there is no such run."""
    events = select(func.count(RunEvent.id)).where(RunEvent.run_id == Run.id).scalar_subquery()
    with db() as session:
        row = session.execute(select(Run.state, events, Run.reported_at).where(Run.id == run_id)).one_or_none()
    return None if row is None else version(row[0], row[1], row[2] is not None)


def perform_run(services, run_id: int) -> None:
    """The job: take the run's lease, execute it (or only report it), give the lease back.

    Safe to run any number of times, concurrently too: the claim has one winner, an attempt
    re-plans before it acts, the portal change carries the run's Idempotency-Key, and the
    post-back's effects are keyed by markers.
    """
    db, timing, owner = services.db, services.timing, worker_id()
    kind = claim_run(db, run_id, owner, timing.lease_s)
    if kind is None:
        log.info("run.not_claimed", extra={"run_id": run_id})
        return
    run_watch.moved()
    try:
        with Heartbeat(db, Run, run_id, owner, timing.lease_s):
            if kind == "execute" and not _attempt(services, run_id, owner):
                return
            _report(services, run_id, owner)
    finally:
        run_watch.moved()  # reported, scheduled again, or given up: the sidebar hears now


def _attempt(services, run_id: int, owner: str) -> bool:
    """One attempt at the run; False when it ends without a result (retry later, or lost)."""
    db = services.db
    run = load_run(db, run_id)
    if run.attempts > services.settings.run_max_attempts:
        # Only attempts that never ended get here (a transient failure stops at the cap): a
        # job that crashes or kills its worker every time fails and escalates, not loops.
        crash = (run.last_error or {}).get("message") or "the worker stopped"
        _finish(db, run_id, _without_plan(
            run, OutcomeStatus.FAILED, f"gave up after {run.attempts - 1} attempts that did not finish",
            error={"message": crash, "transient": False}), [])
        return True
    ports = services.agent_ports
    leased = LeasedPortal(ports.portal, lambda: holds_lease(db, Run, run_id, owner))
    ports = dataclasses.replace(ports, portal=leased)
    with trace.capture() as request_ids:
        try:
            with metrics.RUN_SECONDS.labels(run.workflow).time():
                outcome = _outcome(services, run, ports)
        except LeaseLost:
            log.warning("run.lease_lost", extra={"run_id": run_id})
            return False
    error = outcome.error or {}
    if outcome.status is OutcomeStatus.FAILED and error.get("transient") \
            and run.attempts < services.settings.run_max_attempts:
        _retry_later(services, run, owner, error)
        return False
    _finish(db, run_id, outcome, request_ids)
    return True


def _backoff(settings) -> RetryPolicy:
    return RetryPolicy(base_delay_s=settings.run_retry_base_s, max_delay_s=settings.run_retry_cap_s)


def waiting(run: Run, settings, now: datetime) -> dict[str, Any] | None:
    """While a transient failure's retry is pending: the attempt that comes next, of how
    many, when, and the longest the waits before the last attempt can still take (the
    backoff's ceilings; a Retry-After may stretch one). None otherwise."""
    if run.state != "queued" or run.next_attempt_at is None or run.attempts < 1:
        return None
    attempt, of = run.attempts + 1, settings.run_max_attempts
    next_in = max(0.0, (run.next_attempt_at - now).total_seconds())
    later = sum(_backoff(settings).longest_delay(k) for k in range(attempt, of))
    return {"attempt": attempt, "of": of, "next_at": run.next_attempt_at.isoformat(timespec="seconds"),
            "next_in_s": math.ceil(next_in), "longest_wait_left_s": math.ceil(next_in + later)}


def _retry_later(services, run: Run, owner: str, error: dict) -> None:
    settings = services.settings
    backoff = _backoff(settings)
    wait = backoff.delay(run.attempts, error.get("retry_after"))
    _add_event(services.db, run.id, "retry_scheduled", {"attempt": run.attempts, "wait_s": round(wait, 3),
                                                         "of": settings.run_max_attempts,
                                                         "error": error}, state=None)
    release(services.db, Run, run.id, owner, state="queued", last_error=error,
            next_attempt_at=utcnow() + timedelta(seconds=wait))
    log.warning("run.retry_scheduled", extra={"run_id": run.id, "attempt": run.attempts,
                                               "wait_s": round(wait, 3)})


def _report(services, run_id: int, owner: str) -> None:
    """Post the result to the ticket; an upstream failure tries again later, never drops it."""
    run = load_run(services.db, run_id)
    try:
        with zendesk_pacing.priority():  # post-backs spend the share held back for them
            escalation = postback.report_run(services, run, Outcome.from_dict(run.outcome))
    except UpstreamError as error:
        if error.status == 404 or _post_back_attempts(run) + 1 >= services.settings.postback_max_attempts:
            _report_failed(services, run_id, owner, error)
            return
        wait = min(services.settings.run_retry_cap_s, max(error.retry_after or 0, 30.0))
        _add_event(services.db, run_id, "post_back_retry", error.to_dict(), state=None)
        release(services.db, Run, run_id, owner, last_error=error.to_dict(),
                next_attempt_at=utcnow() + timedelta(seconds=wait))
        log.warning("run.post_back_failed", extra={"run_id": run_id, "upstream": error.upstream})
        return
    if escalation is not None:
        _add_event(services.db, run_id, "escalated",
                   {"issue_iid": escalation.gitlab_issue_iid, "issue_url": escalation.gitlab_issue_url},
                   state="escalated")
    release(services.db, Run, run_id, owner, reported_at=utcnow(), next_attempt_at=None)


def _post_back_attempts(run: Run) -> int:
    """Post-backs tried and failed so far (each left a `post_back_retry` event)."""
    return sum(1 for event in run.events if event.kind == "post_back_retry")


def _report_failed(services, run_id: int, owner: str, error: UpstreamError) -> None:
    """The result can never reach the ticket: a 404 (the ticket is gone; asking again
    cannot help) or POSTBACK_MAX_ATTEMPTS spent. The run stops as `report_failed`, never
    dispatched again, and the audit trail says so; operators find it by that state."""
    with services.db() as session:
        run = session.get(Run, run_id)
        if run.lease_owner != owner:  # another worker has it now; it decides
            return
        run.state = "report_failed"
        run.last_error = error.to_dict()
        run.next_attempt_at = None
        run.record("report_failed", error.to_dict())
        audit.record_report_failed(session, run, error.to_dict())
        session.commit()
    release(services.db, Run, run_id, owner, next_attempt_at=None)
    log.warning("run.report_failed", extra={"run_id": run_id, "upstream": error.upstream,
                                            "status": error.status})


def _outcome(services, run: Run, ports) -> Outcome:
    agent = services.agents.get(run.agent_id)
    refusal = ("the agent is no longer a Zendesk user" if agent is None
               else services.policy.refusal(agent, run.workflow))
    if refusal is None and agent is not None:  # overrides with another workflow's effect
        refused = services.policy.override_refusal(agent, run.override_ids)
        refusal = refused[1] if refused else None
    if refusal:  # the policy is checked again by the worker (architecture.md)
        return _without_plan(run, OutcomeStatus.REFUSED, refusal)
    confirmation = Confirmation(decision=Decision(run.decision), override_ids=tuple(run.override_ids),
                                reason=run.override_reason)
    try:
        return workflows.execute(run.workflow, ports, {**run.inputs, "ticket": run.ticket_id},
                                 services.rules, confirmation=confirmation,
                                 idempotency_key=f"{run.idempotency_key}:apply",
                                 pending=pending_change(run),
                                 record_before=lambda change, before: _record_before(
                                     services.db, run.id, change, before))
    except (Refused, BadInput) as refused:
        return _without_plan(run, OutcomeStatus.REFUSED, str(refused))
    except UpstreamError as error:  # the fresh plan could not be made: nothing was changed
        return _without_plan(run, OutcomeStatus.FAILED, f"{error.upstream} failed: {error.message}",
                             error=error.to_dict())


# The event that records a run's change and before-state, committed before the portal call:
# a later attempt of a run cut off after that call reads it (provisioning-rules.md,
# "Executing a run": a run records the change it made, even across a takeover).
CHANGING = "changing"


def _record_before(db, run_id: int, change: Change, before: dict) -> None:
    _add_event(db, run_id, CHANGING, {"change": dataclasses.asdict(change), "before": before}, state=None)


def pending_change(run: Run) -> Pending | None:
    """The change and before-state the run's first attempt to change the portal recorded."""
    first = next((e for e in run.events if e.kind == CHANGING), None)
    if first is None:
        return None
    return Pending(change=Change(**first.detail["change"]), before=dict(first.detail["before"]))


def _without_plan(run: Run, status: OutcomeStatus, message: str, error: dict | None = None) -> Outcome:
    plan = Plan(workflow=run.workflow, inputs=dict(run.inputs), checks=(),
                decision=Decision(run.decision), facts={})
    return Outcome(run.workflow, status, plan, message=message, error=error)


def _finish(db, run_id: int, outcome: Outcome, request_ids: list[str]) -> Run:
    with db() as session:
        run = session.get(Run, run_id)
        run.state = RUN_STATE[outcome.status]
        run.outcome = outcome.to_dict()
        run.finished_at = utcnow()
        run.next_attempt_at = None
        run.record(str(outcome.status), {"message": outcome.message, "request_ids": list(request_ids)})
        audit.record_run(session, run, list(request_ids))
        session.commit()
    run_watch.moved()
    metrics.RUNS_FINISHED.labels(run.workflow, run.state).inc()
    log.info("run.finished", extra={"run_id": run_id, "status": str(outcome.status)})
    return load_run(db, run_id)


def _add_event(db, run_id: int, kind: str, detail: dict, *, state: str | None) -> None:
    with db() as session:
        run = session.get(Run, run_id)
        run.record(kind, detail)
        if state is not None:
            run.state = state
        session.commit()
    run_watch.moved()


def escalation_of(db, run: Run) -> Escalation | None:
    """The ticket's escalation for this run's workflow: the open one, else the newest."""
    with db() as session:
        return session.scalars(
            select(Escalation).where(Escalation.ticket_id == run.ticket_id,
                                     Escalation.workflow == run.workflow)
            .order_by((Escalation.state == "open").desc(), Escalation.id.desc()).limit(1)
        ).one_or_none()
