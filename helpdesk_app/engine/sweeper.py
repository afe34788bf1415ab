"""The sweeper: one per deployment (the `sweeper` lease) re-dispatches the runs and
deliveries that are due and were never dispatched, were lost by the queue, or lost their
worker (architecture.md, "Durability")."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk_app import metrics
from helpdesk_app.engine.leases import FINISHED, Timing, is_due, lease_expired, worker_id
from helpdesk_app.storage.models import Delivery, Lease, Run, utcnow

log = logging.getLogger(__name__)

SWEEPER_LEASE = "sweeper"


def take_named_lease(db, name: str, owner: str, lease_s: float) -> bool:
    """Hold (or renew) the lease `name`; False while another live owner has it."""
    now = utcnow()
    until = now + timedelta(seconds=lease_s)
    with db() as session:
        won = session.execute(update(Lease).where(
            Lease.name == name, or_(Lease.owner == owner, Lease.expires_at < now))
            .values(owner=owner, expires_at=until)).rowcount
        if not won:
            session.add(Lease(name=name, owner=owner, expires_at=until))
            try:
                session.flush()
                won = 1
            except IntegrityError:  # someone else holds it
                session.rollback()
                return False
        session.commit()
    return won == 1


def _never_or_lost(model, now: datetime, timing: Timing):
    """Never dispatched; dispatched so long ago that the queue lost it; or dispatched before
    its retry was scheduled (that dispatch was used up by the attempt that failed)."""
    lost = now - timedelta(seconds=timing.redispatch_after_s)
    return or_(model.dispatched_at.is_(None), model.dispatched_at < lost,
               and_(model.next_attempt_at.is_not(None), model.dispatched_at < model.next_attempt_at))


def due_runs(db, timing: Timing, limit: int = 100) -> list[int]:
    now = utcnow()
    never_or_lost = _never_or_lost(Run, now, timing)
    waiting = and_(Run.state == "queued", is_due(Run, now), never_or_lost)
    abandoned = and_(Run.state == "running", Run.lease_expires_at < now)
    unreported = and_(Run.state.in_(FINISHED), Run.reported_at.is_(None), is_due(Run, now),
                      lease_expired(Run, now), never_or_lost)
    return [row.id for row in _rows(db, select(Run.id), or_(waiting, abandoned, unreported), Run, limit)]


def due_deliveries(db, timing: Timing, limit: int = 100) -> list[tuple[int, str]]:
    now = utcnow()
    waiting = and_(Delivery.status.in_(("received", "failed")), is_due(Delivery, now),
                   _never_or_lost(Delivery, now, timing))
    abandoned = and_(Delivery.status == "processing", Delivery.lease_expires_at < now)
    rows = _rows(db, select(Delivery.id, Delivery.source), or_(waiting, abandoned), Delivery, limit)
    return [(row.id, row.source) for row in rows]


def bury_exhausted(db, max_attempts: int) -> int:
    """Deliveries that would be tried again after `max_attempts` become `dead` instead:
    failed ones (the GitLab hook's job has no backoff of its own) and abandoned ones (a job
    that crashes or kills its worker every time would otherwise loop for ever)."""
    now = utcnow()
    again = or_(Delivery.status == "failed",
                and_(Delivery.status == "processing", Delivery.lease_expires_at < now))
    with db() as session:
        rows = list(session.execute(select(Delivery.id, Delivery.source, Delivery.last_error)
                                    .where(again, Delivery.attempts >= max_attempts)))
        for row in rows:
            session.execute(update(Delivery).where(Delivery.id == row.id, again).values(
                status="dead", lease_owner=None, lease_expires_at=None, next_attempt_at=None,
                last_error=row.last_error or {"message": f"gave up after {max_attempts} attempts "
                                                         "(the job never recorded an error)"}))
        session.commit()
    for row in rows:
        metrics.DELIVERIES.labels(row.source, "dead").inc()
        metrics.DEAD_LETTERS.labels(f"{row.source}_delivery").inc()
        log.error("delivery.dead", extra={"delivery_id": row.id, "source": row.source})
    return len(rows)


def _rows(db, query, condition, model, limit: int) -> list:
    query = query.where(condition).order_by(model.id).limit(limit)
    with db() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Two sweepers (a lease handover) skip each other's rows instead of waiting.
            query = query.with_for_update(skip_locked=True)
        return list(session.execute(query))


def sweep(db, jobs, timing: Timing, owner: str) -> int:
    """Re-dispatch what is due, if this process is the deployment's sweeper."""
    if not take_named_lease(db, SWEEPER_LEASE, owner, timing.sweep_every_s * 3):
        return 0
    bury_exhausted(db, timing.delivery_max_attempts)
    due = [("run", run_id) for run_id in due_runs(db, timing)]
    due += [(f"{source}_delivery", delivery_id) for delivery_id, source in due_deliveries(db, timing)]
    count = 0
    for kind, job_id in due:
        if jobs.dispatch(kind, job_id):
            metrics.SWEEPER_DISPATCHES.labels(kind).inc()
            count += 1
    if count:
        log.info("sweeper.dispatched", extra={"count": count})
    return count


class Sweeper:
    """Calls `sweep` every `sweep_every_s` in a daemon thread."""

    def __init__(self, db, jobs, timing: Timing) -> None:
        self._args = (db, jobs, timing, worker_id())
        self._every = timing.sweep_every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)

    def start(self) -> "Sweeper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                sweep(*self._args)
            except Exception:  # the next round tries again; the database is the truth
                log.warning("sweeper.failed", exc_info=True)
