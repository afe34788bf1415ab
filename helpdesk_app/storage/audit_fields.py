"""An audit record's fields and its link in the chain, as plain values: what every record
holds and what its hash covers, with no database behind them.

audit.py and audit_chain.py store records with these functions; the CLI's `--scenario`
commands make their in-memory records with the same ones (no SQLAlchemy loaded for a
plan that stores nothing).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any, Mapping

from helpdesk_app import logs
from workflows import Plan

GENESIS_HASH = "0" * 64
# The fields of an audit record that its hash covers, in the order of the columns.
AUDIT_FIELDS = ("at", "kind", "agent", "ticket_id", "workflow", "inputs", "checks",
                "override_reason", "outcome", "upstream_request_ids", "request_id")
AUDIT_JSON_FIELDS = ("agent", "inputs", "checks", "outcome", "upstream_request_ids")
# The fields of a record as the API and the export show them.
EXPORTED = ("id", "at", "kind", "agent", "ticket_id", "workflow", "inputs", "checks",
            "override_reason", "outcome", "upstream_request_ids", "request_id", "prev_hash",
            "hash")


def plan_fields(*, agent: dict[str, Any], ticket_id: int | None, plan: Plan,
                request_ids: list[str]) -> dict[str, Any]:
    data = plan.to_dict()
    return dict(kind="plan", agent=agent, ticket_id=ticket_id, workflow=plan.workflow,
                inputs=data["inputs"], checks=data["checks"],
                outcome={"decision": data["decision"],
                         "recommendations": data.get("recommendations", [])},
                upstream_request_ids=request_ids)


def run_fields(*, run_id: int | None, state: str, agent: dict[str, Any] | None,
               ticket_id: int | None, workflow: str, inputs: dict[str, Any] | None,
               override_reason: str | None, outcome: dict[str, Any] | None,
               request_ids: list[str]) -> dict[str, Any]:
    outcome = outcome or {}
    return dict(kind="run", agent=agent, ticket_id=ticket_id, workflow=workflow, inputs=inputs,
                checks=outcome.get("checks"), override_reason=override_reason,
                outcome={"run_id": run_id, "state": state, **_outcome_summary(outcome)},
                upstream_request_ids=request_ids)


def _outcome_summary(outcome: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "decision", "changed", "verified", "message", "before", "after", "error")
    return {key: outcome.get(key) for key in keys if key in outcome}


def audit_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The record's hashed fields, checked, with `at` in UTC and JSON fields as the
    database will give them back; TypeError for a field it cannot hold."""
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
    record["at"] = (record["at"] or datetime.now(timezone.utc)).astimezone(timezone.utc)
    for name in AUDIT_JSON_FIELDS:
        # Hash exactly what the database will give back: tuples become lists, and a value
        # JSON cannot hold fails here rather than in the chain's verification.
        if record[name] is not None:
            record[name] = json.loads(json.dumps(record[name], allow_nan=False))
    return record


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


class MemoryChain:
    """An audit chain kept in memory (the CLI's --scenario commands): each record as the
    export shows it, numbered from 1 and linked as the stored chain links them."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key
        self._head = GENESIS_HASH
        self._count = 0

    def append(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("request_id", logs.current())
        record = audit_values(fields)
        digest = audit_hash(self._head, record, self._key)
        self._count += 1
        exported = {**record, "id": self._count, "prev_hash": self._head, "hash": digest}
        self._head = digest
        return {name: exported[name] for name in EXPORTED} | {"at": record["at"].isoformat()}
