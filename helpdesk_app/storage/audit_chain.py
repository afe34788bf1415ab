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

import hashlib
import hmac
import json
from datetime import timezone
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk_app import logs
from helpdesk_app.storage.models import _AUDIT_JSON_FIELDS, AUDIT_FIELDS, AuditRecord, utcnow

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number; every process appending to the audit chain takes this lock.
AUDIT_CHAIN_LOCK = 0x6C6E72_A0D1  # "lnr" + "audit"


def audit_hash(prev_hash: str, record: Mapping[str, Any], key: bytes | None = None) -> str:
    """HMAC-SHA256 with `key` (SHA-256 without one: rows from before AUDIT_KEY) over the
    previous hash followed by the canonical JSON of the record."""
    canonical = json.dumps(_hashed_fields(record), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=True, allow_nan=False)
    message = (prev_hash + canonical).encode("ascii")
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def _hashed_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: record.get(name) for name in AUDIT_FIELDS}
    if fields["request_id"] is None:
        del fields["request_id"]  # records written before it existed keep their hash
    fields["at"] = fields["at"].astimezone(timezone.utc).isoformat(timespec="microseconds")
    return fields


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
    record = _audit_values(fields)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    prev = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    prev = prev or GENESIS_HASH
    key = session.info.get("audit_key")
    row = AuditRecord(**record, prev_hash=prev, hash=audit_hash(prev, record, key))
    session.add(row)
    session.flush()
    return row


def _audit_values(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(AUDIT_FIELDS)
    if unknown:
        raise TypeError(f"unknown audit fields: {', '.join(sorted(unknown))}")
    if not isinstance(fields.get("kind"), str) or not fields["kind"]:
        raise TypeError("an audit record needs a kind (plan, run, escalation, ...)")
    ticket_id = fields.get("ticket_id")
    if ticket_id is not None and (isinstance(ticket_id, bool) or not isinstance(ticket_id, int)):
        raise TypeError("ticket_id must be an int")
    for name in ("workflow", "override_reason"):
        if fields.get(name) is not None and not isinstance(fields[name], str):
            raise TypeError(f"{name} must be a string")
    record = {name: fields.get(name) for name in AUDIT_FIELDS}
    record["at"] = (record["at"] or utcnow()).astimezone(timezone.utc)
    for name in _AUDIT_JSON_FIELDS:
        # Hash exactly what the database will give back: tuples become lists, and a value
        # JSON cannot hold fails here rather than in the chain's verification.
        if record[name] is not None:
            record[name] = json.loads(json.dumps(record[name], allow_nan=False))
    return record


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
