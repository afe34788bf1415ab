"""Recording webhook deliveries: the database, not the queue, is the source of truth."""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from helpdesk_app import metrics
from helpdesk_app.storage.models import Delivery, utcnow

log = logging.getLogger(__name__)

# Headers worth keeping beside the raw body (never Authorization-like ones).
KEPT_HEADERS = (
    "Content-Type", "User-Agent", "X-Zendesk-Webhook-Id", "X-Zendesk-Webhook-Invocation-Id",
    "X-Zendesk-Webhook-Signature-Timestamp", "X-Gitlab-Event", "X-Gitlab-Event-UUID",
    "X-Gitlab-Webhook-UUID",
)


def record_delivery(
    db: sessionmaker[Session], *, source: str, key: str, body: bytes,
    headers: Mapping[str, str], status: str = "received", also_keys: Sequence[str] = (),
) -> int | None:
    """Insert the delivery once and return its id; None when its key was seen before (a
    retry or a replay).

    The unique (source, delivery_key) constraint decides, so fifty concurrent copies of one
    delivery make one row on every backend. A delivery to process is noted as dispatched in
    the same INSERT: the caller dispatches it next (`Jobs.dispatch(..., noted=True)`), and
    intake costs one write transaction, not two.

    `also_keys` are recorded in the same transaction as rows of their own (`ignored`, no
    body), so a delivery seen before under any one of its keys is a duplicate.
    """
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    dispatched_at = utcnow() if status == "received" else None
    # A Core INSERT ... RETURNING: intake's one statement, without the ORM's unit of work.
    insert_row = insert(Delivery).values(source=source, delivery_key=key, body=body, headers=kept,
                                          status=status, dispatched_at=dispatched_at)
    with db() as session:
        try:
            delivery_id = session.execute(insert_row.returning(Delivery.id)).scalar_one()
            for alias in also_keys:
                session.execute(insert(Delivery).values(source=source, delivery_key=alias,
                                                        body=None, headers={}, status="ignored"))
            session.commit()
        except IntegrityError:
            session.rollback()
            log.info("webhook.duplicate", extra={"source": source, "delivery_key": key})
            return None
    metrics.DELIVERIES.labels(source, status).inc()
    log.info("webhook.recorded", extra={"source": source, "delivery_key": key, "status": status})
    return delivery_id
