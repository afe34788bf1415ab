"""The audit trail's chain: each record carries the MAC of the one before it, so that a
changed record, or one removed from the middle, shows (architecture.md, "Configuration
and modes").

The MAC is HMAC-SHA256 with AUDIT_KEY, a key of its own: without it nobody can rewrite the
chain after changing a record. Rows written before the key existed hold plain SHA-256 and
verify as such only before the first keyed row. Removing the newest rows leaves a chain
that holds, so every export ends with the chain's head, and `audit-verify --head HEAD`
says whether the record with that head is still there.
"""
from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk_app import logs
from helpdesk_app.storage.audit_fields import GENESIS_HASH, audit_hash, audit_values
from helpdesk_app.storage.models import AuditRecord

__all__ = ["GENESIS_HASH", "append_audit", "audit_hash", "chain_head", "find_audit_break",
           "holds_head", "verify_audit_chain"]

# Any fixed 64-bit number; every process appending to the audit chain takes this lock.
AUDIT_CHAIN_LOCK = 0x6C6E72_A0D1  # "lnr" + "audit"


def append_audit(session: Session, **fields: Any) -> AuditRecord:
    """Append one record to the audit chain, in the session's transaction.

    The record is flushed (so the chain's head is taken while the lock is held) but not
    committed: it commits, or rolls back, with whatever it records. On PostgreSQL a
    transaction-level advisory lock serialises appenders until commit; the head is read
    after the lock is granted, which under READ COMMITTED (PostgreSQL's default, which
    this relies on) sees the previous appender's commit. On SQLite the transaction
    already holds the write lock (`BEGIN IMMEDIATE`, see `make_engine`).
    """
    fields.setdefault("request_id", logs.current())
    record = audit_values(fields)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    prev = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    prev = prev or GENESIS_HASH
    key = session.info.get("audit_key")
    row = AuditRecord(**record, prev_hash=prev, hash=audit_hash(prev, record, key))
    session.add(row)
    session.flush()
    return row


def find_audit_break(session: Session, key: bytes | None = None) -> int | None:
    """The id of the first audit record that breaks the chain, or None when it holds.

    With `key` (or the session's AUDIT_KEY) every record must carry its MAC, except
    unkeyed ones from before the key, and only before the first keyed record."""
    key = key or session.info.get("audit_key")
    table = AuditRecord.__table__
    expected_prev, keyed_seen = GENESIS_HASH, False
    rows = session.execute(select(table).order_by(table.c.id)).mappings()
    for mapping in rows:
        row = dict(mapping)
        if row["prev_hash"] != expected_prev:
            return row["id"]
        if key and hmac.compare_digest(row["hash"], audit_hash(row["prev_hash"], row, key)):
            keyed_seen = True
        elif keyed_seen or row["hash"] != audit_hash(row["prev_hash"], row):
            return row["id"]
        expected_prev = row["hash"]
    return None


def verify_audit_chain(session: Session, key: bytes | None = None) -> bool:
    """True when every audit record is unchanged and none was removed from the middle."""
    return find_audit_break(session, key) is None


def chain_head(session: Session) -> str:
    """The newest record's hash (GENESIS_HASH for an empty trail): what an export ends
    with, to be kept apart from the database and given to `audit-verify --head` later."""
    head = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    return head or GENESIS_HASH


def holds_head(session: Session, head: str) -> bool:
    """True when the record whose hash is `head` is still in the trail."""
    if head == GENESIS_HASH:
        return True
    return session.scalar(select(func.count()).select_from(AuditRecord)
                          .where(AuditRecord.hash == head)) == 1
