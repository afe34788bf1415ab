"""Recording webhook deliveries: the database, not the queue, is the source of truth."""
from __future__ import annotations

import logging
from typing import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .db import Delivery, utcnow
from .executor import claim_delivery, release, worker_id

log = logging.getLogger(__name__)

# Headers worth keeping beside the raw body (never Authorization-like ones).
KEPT_HEADERS = (
    "Content-Type", "User-Agent", "X-Zendesk-Webhook-Id", "X-Zendesk-Webhook-Invocation-Id",
    "X-Zendesk-Webhook-Signature-Timestamp", "X-Gitlab-Event", "X-Gitlab-Event-UUID",
    "X-Gitlab-Webhook-UUID",
)


def record_delivery(
    db: sessionmaker[Session], *, source: str, key: str, body: bytes,
    headers: Mapping[str, str], status: str = "received",
) -> int | None:
    """Insert the delivery once and return its id; None when its key was seen before (a
    retry or a replay).

    The unique (source, delivery_key) constraint decides, so fifty concurrent copies of one
    delivery make one row on every backend.
    """
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    with db() as session:
        delivery = Delivery(source=source, delivery_key=key, body=body, headers=kept, status=status)
        session.add(delivery)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            log.info("webhook.duplicate", extra={"source": source, "delivery_key": key})
            return None
    log.info("webhook.recorded", extra={"source": source, "delivery_key": key, "status": status})
    return delivery.id


def process_zendesk_delivery(services, delivery_id: int) -> None:
    """The job of a recorded Zendesk delivery: claimed once, then marked processed.

    Triage of the ticket (issue 5) plugs in here; until then the job only proves the
    delivery's way through the queue: recorded, dispatched (or swept), claimed, processed.
    """
    owner = worker_id()
    if not claim_delivery(services.db, delivery_id, owner, services.timing.lease_s):
        log.info("delivery.not_claimed", extra={"delivery_id": delivery_id})
        return
    release(services.db, Delivery, delivery_id, owner, status="processed", processed_at=utcnow())
    log.info("delivery.processed", extra={"delivery_id": delivery_id})
