"""Durable execution: runs and deliveries are claimed with a lease and retried (sweeper.py
sweeps them).

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

from helpdesk_app.storage.models import Delivery, Run, utcnow

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "superseded")


def worker_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted pid is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Timing:
    lease_s: float = 60.0
    # A dispatched job nobody claimed within this is presumed lost by its queue.
    redispatch_after_s: float = 120.0
    sweep_every_s: float = 5.0
    # A delivery whose job was attempted this often is `dead`, not retried (DELIVERY_MAX_ATTEMPTS).
    delivery_max_attempts: int = 8


# --- claiming ------------------------------------------------------------------------------


def is_due(model, now: datetime):
    return or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now)


def lease_expired(model, now: datetime):
    return or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)


def claim_run(db, run_id: int, owner: str, lease_s: float) -> str | None:
    """Take the run's lease. "execute" for a queued or abandoned run, "report" for a finished
    run whose result has not reached the ticket yet; None when someone else has it."""
    now = utcnow()
    lease = dict(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s), updated_at=now)
    execute = and_(or_(and_(Run.state == "queued", is_due(Run, now)),
                       and_(Run.state == "running", lease_expired(Run, now))))
    report = and_(Run.state.in_(FINISHED), Run.reported_at.is_(None), is_due(Run, now), lease_expired(Run, now))
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
    claimable = or_(and_(Delivery.status.in_(("received", "failed")), is_due(Delivery, now)),
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
