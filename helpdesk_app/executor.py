"""Durable execution: runs and deliveries are claimed with a lease, retried, swept.

The database is the source of truth (architecture.md, "Durability"); a queue only says
"look at run N". One protocol on every backend:

- **claim**: a conditional UPDATE takes the lease (owner, expiry) and counts the attempt; it
  matches a queued run that is due, or a running one whose lease expired (its worker died).
  On PostgreSQL the row lock makes one claimer win; on SQLite `BEGIN IMMEDIATE` does.
- **heartbeat**: while a job runs, its lease is renewed every third of its length; the
  portal change is made only after ownership is re-checked (`LeasedPortal`).
- **retry**: a transient upstream failure puts the run back to `queued` with a backoff
  (`Retry-After` as a floor) until the attempt budget is spent; then it fails and escalates
  once. The portal call carries the run's Idempotency-Key on every attempt, and every
  attempt re-plans first, so a retried change is made at most once upstream.
- **sweep**: one sweeper per deployment (the `sweeper` lease) re-dispatches what is due and
  was never dispatched, was lost by the queue, or lost its worker.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from .db import Delivery, Lease, Run, utcnow

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "superseded")
SWEEPER_LEASE = "sweeper"


def worker_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted pid is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Timing:
    lease_s: float = 60.0
    # A dispatched job nobody claimed within this is presumed lost by its queue.
    redispatch_after_s: float = 120.0
    sweep_every_s: float = 5.0


# --- claiming ------------------------------------------------------------------------------


def _due(model, now: datetime):
    return or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now)


def _expired(model, now: datetime):
    return or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)


def claim_run(db, run_id: int, owner: str, lease_s: float) -> str | None:
    """Take the run's lease. "execute" for a queued or abandoned run, "report" for a finished
    run whose result has not reached the ticket yet; None when someone else has it."""
    now = utcnow()
    lease = dict(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s), updated_at=now)
    execute = and_(or_(and_(Run.state == "queued", _due(Run, now)),
                       and_(Run.state == "running", _expired(Run, now))))
    report = and_(Run.state.in_(FINISHED), Run.reported_at.is_(None), _due(Run, now), _expired(Run, now))
    with db() as session:
        taken = session.execute(
            update(Run).where(Run.id == run_id, execute)
            .values(state="running", attempts=Run.attempts + 1, started_at=now, **lease)).rowcount
        if not taken:
            taken = session.execute(update(Run).where(Run.id == run_id, report).values(**lease)).rowcount
            kind = "report" if taken else None
        else:
            kind = "execute"
        session.commit()
    return kind


def claim_delivery(db, delivery_id: int, owner: str, lease_s: float) -> bool:
    """Take a recorded (or failed, or abandoned) delivery's lease and count the attempt."""
    now = utcnow()
    claimable = or_(and_(Delivery.status.in_(("received", "failed")), _due(Delivery, now)),
                    and_(Delivery.status == "processing", Delivery.lease_expires_at < now))
    with db() as session:
        taken = session.execute(update(Delivery).where(Delivery.id == delivery_id, claimable).values(
            status="processing", attempts=Delivery.attempts + 1, lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_s))).rowcount
        session.commit()
    return taken == 1


def holds_lease(db, model, row_id: int, owner: str) -> bool:
    with db() as session:
        return session.scalar(select(model.id).where(
            model.id == row_id, model.lease_owner == owner, model.lease_expires_at > utcnow())) is not None


def renew(db, model, row_id: int, owner: str, lease_s: float) -> bool:
    with db() as session:
        kept = session.execute(update(model).where(model.id == row_id, model.lease_owner == owner)
                               .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))).rowcount
        session.commit()
    return kept == 1


def release(db, model, row_id: int, owner: str, **values: Any) -> bool:
    """Give the lease back, setting `values`, if it is still ours."""
    with db() as session:
        done = session.execute(update(model).where(model.id == row_id, model.lease_owner == owner)
                               .values(lease_owner=None, lease_expires_at=None, **values)).rowcount
        session.commit()
    return done == 1


class Heartbeat:
    """Renews a lease every third of its length while a job runs."""

    def __init__(self, db, model, row_id: int, owner: str, lease_s: float) -> None:
        self._args = (db, model, row_id, owner, lease_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{model.__tablename__}-{row_id}",
                                        daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        lease_s = self._args[-1]
        while not self._stop.wait(lease_s / 3):
            try:
                if not renew(*self._args):
                    return  # taken over: LeasedPortal refuses this worker's change
            except Exception:  # a database hiccup: try again at the next beat
                log.warning("lease.renew_failed", exc_info=True)


class LeaseLost(RuntimeError):
    """This worker's lease ended (it was too slow); another worker owns the job now."""


class LeasedPortal:
    """The portal port, re-checking the run's lease before every change (architecture.md)."""

    MUTATING = ("link_subscription", "unlink_subscription", "unlink_customer", "link_customer")

    def __init__(self, portal: Any, still_ours: Callable[[], bool]) -> None:
        self._portal, self._still_ours = portal, still_ours

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._portal, name)
        if name not in self.MUTATING:
            return attribute

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not self._still_ours():
                raise LeaseLost("the run's lease was lost before the portal change")
            return attribute(*args, **kwargs)

        return guarded


# --- sweeping --------------------------------------------------------------------------------


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
    waiting = and_(Run.state == "queued", _due(Run, now), never_or_lost)
    abandoned = and_(Run.state == "running", Run.lease_expires_at < now)
    unreported = and_(Run.state.in_(FINISHED), Run.reported_at.is_(None), _due(Run, now),
                      _expired(Run, now), never_or_lost)
    return [row.id for row in _rows(db, select(Run.id), or_(waiting, abandoned, unreported), Run, limit)]


def due_deliveries(db, timing: Timing, limit: int = 100) -> list[tuple[int, str]]:
    now = utcnow()
    waiting = and_(Delivery.status.in_(("received", "failed")), _due(Delivery, now),
                   _never_or_lost(Delivery, now, timing))
    abandoned = and_(Delivery.status == "processing", Delivery.lease_expires_at < now)
    rows = _rows(db, select(Delivery.id, Delivery.source), or_(waiting, abandoned), Delivery, limit)
    return [(row.id, row.source) for row in rows]


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
    due = [("run", run_id) for run_id in due_runs(db, timing)]
    due += [(f"{source}_delivery", delivery_id) for delivery_id, source in due_deliveries(db, timing)]
    count = sum(jobs.dispatch(kind, job_id) for kind, job_id in due)
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
