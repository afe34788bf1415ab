"""What a signed Zendesk delivery says, read from its raw body. Pure: no Flask, no database.

Two shapes are accepted:

- Zendesk **event webhooks** (https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/):
  `{"type": "zen:event-type:ticket.created", "account_id": 1, "id": "<event id>",
  "time": "...", "zendesk_event_version": "...", "subject": "zen:ticket:35436",
  "detail": {"id": "35436", "actor_id": "...", ...}, "event": {...}}`;
  `ticket.comment_added` carries the comment's author in `event.comment.author.id`.
- A **trigger webhook** whose JSON body the README documents:
  `{"event": "ticket.created", "ticket_id": "{{ticket.id}}", "actor_id": "{{current_user.id}}"}`.

The delivery key, by which a repeated delivery is recognised: the event `id`; else the
`X-Zendesk-Webhook-Invocation-Id` header, stable across Zendesk's retries; else SHA-256 of
timestamp + body (architecture.md, "Three lifecycles").
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from helpdesk_app.security import json_limits
from workflows.inputs import is_ascii_digits

EVENT_PREFIX = "zen:event-type:"
HANDLED = ("ticket.created", "ticket.comment_added")
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
TICKET_SUBJECT = re.compile(r"^zen:ticket:(\d+)$")
MAX_KEY = 255


class MalformedDelivery(ValueError):
    """A signed body that is not JSON, or lacks what its shape needs (answered 400)."""


@dataclass(frozen=True)
class ZendeskDelivery:
    key: str
    event: str  # e.g. "ticket.created"; anything not in HANDLED is recorded and ignored
    ticket_id: int | None
    actor_id: int | None
    # Further keys the same delivery is known by; any of them seen before makes it a
    # duplicate (a trigger body: its invocation id and its signed timestamp + body).
    also_keys: tuple[str, ...] = ()

    @property
    def handled(self) -> bool:
        return self.event in HANDLED

    def status(self, service_user_id: int | None) -> str:
        """"received" for work to do; "ignored" for unhandled events and for the service's
        own writing (triage must never feed on its own notes)."""
        own = service_user_id is not None and self.actor_id == service_user_id
        return "received" if self.handled and not own else "ignored"


def parse(body: bytes, headers: Mapping[str, str], timestamp: str) -> ZendeskDelivery:
    try:
        data = json_limits.loads(body)
    except json_limits.TooDeep as error:
        raise MalformedDelivery(str(error)) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedDelivery("the body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedDelivery("the body must be a JSON object")
    if isinstance(data.get("type"), str) and data["type"].startswith(EVENT_PREFIX):
        return _event_webhook(data)
    if "ticket_id" in data and "event" in data:
        return _trigger_webhook(data, headers, body, timestamp)
    raise MalformedDelivery(
        "unknown shape: expected a Zendesk event (type zen:event-type:...) or the trigger body "
        "{\"event\", \"ticket_id\"} documented in the README"
    )


def _event_webhook(data: dict[str, Any]) -> ZendeskDelivery:
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_KEY:
        raise MalformedDelivery("the event has no usable id")
    event = data["type"][len(EVENT_PREFIX):]
    if event not in HANDLED:
        return ZendeskDelivery(key=f"event:{event_id}", event=event, ticket_id=None, actor_id=None)
    subject = TICKET_SUBJECT.match(str(data.get("subject", "")))
    ticket_id = _id(subject.group(1) if subject else _dig(data, "detail", "id"))
    if ticket_id is None:
        raise MalformedDelivery(f"the {event} event names no ticket (subject zen:ticket:<id>)")
    # A comment's author is who acted; other ticket events name the actor in `detail`.
    actor = _id(_dig(data, "event", "comment", "author", "id")) or _id(_dig(data, "detail", "actor_id"))
    return ZendeskDelivery(key=f"event:{event_id}", event=event, ticket_id=ticket_id, actor_id=actor)


def _trigger_webhook(data: dict[str, Any], headers: Mapping[str, str], body: bytes,
                     timestamp: str) -> ZendeskDelivery:
    event, ticket_id = data.get("event"), _id(data.get("ticket_id"))
    if not isinstance(event, str) or ticket_id is None:
        raise MalformedDelivery("the trigger body needs \"event\" and a numeric \"ticket_id\"")
    # Zendesk's retry keeps the invocation id (it may re-sign with a new timestamp); the
    # header is not signed, so a replay of the signed timestamp + body under another
    # invocation id must be recognised by what was signed. Both keys are recorded.
    signed = "sha256:" + hashlib.sha256(timestamp.encode() + body).hexdigest()
    invocation = headers.get(INVOCATION_HEADER)
    also: tuple[str, ...]
    if invocation and len(invocation) <= MAX_KEY:
        key, also = f"invocation:{invocation}", (signed,)
    else:
        key, also = signed, ()
    return ZendeskDelivery(key=key, event=event, ticket_id=ticket_id,
                           actor_id=_id(data.get("actor_id")), also_keys=also)


def _dig(data: Any, *keys: str) -> Any:
    """data[k1][k2]..., or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _id(value: Any) -> int | None:
    """Zendesk sends ids as strings in event webhooks and numbers elsewhere."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and is_ascii_digits(value.strip()) and len(value.strip()) < 20:
        return int(value) or None
    return None
