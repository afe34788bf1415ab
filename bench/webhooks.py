"""Signed Zendesk `ticket.created` deliveries, built ahead of the load that posts them.

wrk's Lua has no HMAC, so every delivery is signed here beforehand, within the five
minutes Zendesk's signature is good for.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Sequence

import checkout  # noqa: F401 - puts the checkout on sys.path, for helpdesk_app
from loadgen import Req

WEBHOOK_PATH = "/webhooks/zendesk"


def zendesk_timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket_created_body(ticket: dict[str, Any]) -> bytes:
    """A `ticket.created` event as Zendesk sends it, for a ticket record of the sandbox
    (its payload builder: the documented shape, a fresh event id each time)."""
    from sandbox import payloads

    return json.dumps(payloads.ticket_created_event(ticket)).encode()


def signed_headers(secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    from helpdesk_app.security.zendesk_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_zendesk

    timestamp = timestamp or zendesk_timestamp()
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zendesk Webhook",
            SIGNATURE_HEADER: sign_zendesk(secret, timestamp, body), TIMESTAMP_HEADER: timestamp}


def deliveries(secret: str, tickets: Sequence[dict[str, Any]], count: int) -> list[Req]:
    """`count` signed ticket.created deliveries (unique event ids), cycling over `tickets`."""
    timestamp = zendesk_timestamp()
    out = []
    for i in range(count):
        body = ticket_created_body(tickets[i % len(tickets)])
        out.append(Req("POST", WEBHOOK_PATH, signed_headers(secret, body, timestamp), body))
    return out
