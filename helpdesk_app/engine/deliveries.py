"""Recording webhook deliveries: the database, not the queue, is the source of truth."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from helpdesk_app import metrics
from helpdesk_app.storage.group_commit import group_commit
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
    due_in_s: float = 0.0,
) -> int | None:
    """Insert the delivery once and return its id, once committed; None when its key was
    seen before (a retry or a replay).

    The unique (source, delivery_key) constraint decides, so fifty concurrent copies of one
    delivery make one row on every backend. A delivery to process is noted as dispatched in
    the same INSERT: the caller dispatches it next (`Jobs.dispatch(..., noted=True)`). The
    INSERT is committed with the other deliveries and deferrals of this process waiting at
    that moment (storage/group_commit.py): one transaction and one sync for all of them.

    `also_keys` are recorded in the same transaction as rows of their own (`ignored`, no
    body), so a delivery seen before under any one of its keys is a duplicate.

    `due_in_s` > 0: the delivery is recorded as due then, and not dispatched now; the
    sweeper dispatches it when it is due (the caller knows its job could not start sooner).
    """
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    now = utcnow()
    deferred = due_in_s > 0
    row = dict(source=source, delivery_key=key, body=body, headers=kept, status=status,
               dispatched_at=now if status == "received" and not deferred else None,
               next_attempt_at=now + timedelta(seconds=due_in_s) if deferred else None)
    write = functools.partial(_insert_once, row, tuple(also_keys)) if also_keys else _NewDelivery(row)
    delivery_id = group_commit(db).run(write)
    if delivery_id is None:
        log.info("webhook.duplicate", extra={"source": source, "delivery_key": key})
        return None
    metrics.DELIVERIES.labels(source, status).inc()
    if log.isEnabledFor(logging.DEBUG):
        # DEBUG, not INFO: the access line (status, request id) and the row already say it,
        # and under a storm writing this line cost a fifth of a delivery's CPU
        # (docs/performance.md). The DELIVERIES metric counts them.
        extra = {"source": source, "delivery_key": key, "status": status, "delivery_id": delivery_id}
        if deferred:  # no job is dispatched before then
            extra["due_in_s"] = round(due_in_s, 3)
        log.debug("webhook.recorded", extra=extra)
    return delivery_id


def _insert_once(row: dict[str, Any], also_keys: tuple[str, ...], connection: Connection) -> int | None:
    """The delivery's row and its aliases, or nothing when any of its keys is taken (by an
    earlier delivery, or one earlier in the same group). A conflict does nothing instead of
    failing, so it leaves the group's transaction usable for the others."""
    insert_new = _INSERT_NEW[connection.dialect.name]
    delivery_id = connection.execute(insert_new, row).scalar()
    if delivery_id is None:
        return None
    made = [delivery_id]
    for alias in also_keys:
        alias_id = connection.execute(insert_new, dict(
            source=row["source"], delivery_key=alias, body=None, headers={}, status="ignored",
            dispatched_at=None, next_attempt_at=None)).scalar()
        if alias_id is None:  # seen before under this key: undo this delivery's rows
            connection.execute(delete(Delivery).where(Delivery.id.in_(made)))
            return None
        made.append(alias_id)
    return delivery_id


@dataclass(frozen=True)
class _NewDelivery:
    """A delivery known by one key: its row alone, or one of many in one INSERT (`many`)."""

    row: dict[str, Any]

    def __call__(self, connection: Connection) -> int | None:
        return _insert_once(self.row, (), connection)

    @staticmethod
    def many(connection: Connection, writes: Sequence["_NewDelivery"]) -> list[int | None]:
        """One INSERT for every row (SQLAlchemy's "insertmanyvalues": a list of parameter
        sets becomes one multi-row INSERT ... RETURNING, on SQLite and PostgreSQL). Only the
        rows inserted come back, in no promised order, so ids are matched by key; of two
        deliveries with one key in the same group, the first is new and the second a
        duplicate, as if each had been inserted alone."""
        rows = [write.row for write in writes]
        inserted = connection.execute(_INSERT_MANY[connection.dialect.name], rows)
        ids = {(source, key): delivery_id for delivery_id, source, key in inserted}
        return [ids.pop((row["source"], row["delivery_key"]), None) for row in rows]


# INSERT ... ON CONFLICT (source, delivery_key) DO NOTHING RETURNING ...: Core statements,
# without the ORM's unit of work. SQLite has it since 3.35, PostgreSQL since 9.5.
_INSERT_UNLESS_SEEN = {
    "sqlite": sqlite_insert(Delivery).on_conflict_do_nothing(index_elements=["source", "delivery_key"]),
    "postgresql": postgresql_insert(Delivery).on_conflict_do_nothing(index_elements=["source", "delivery_key"]),
}
_INSERT_NEW = {dialect: insert.returning(Delivery.id) for dialect, insert in _INSERT_UNLESS_SEEN.items()}
_INSERT_MANY = {dialect: insert.returning(Delivery.id, Delivery.source, Delivery.delivery_key)
                for dialect, insert in _INSERT_UNLESS_SEEN.items()}
