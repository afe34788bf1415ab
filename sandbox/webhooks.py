"""Outgoing webhooks, as Zendesk and GitLab send them, for the demo and end-to-end tests.

- Zendesk `ticket.created` event webhooks, signed as Zendesk signs them
  (https://developer.zendesk.com/documentation/webhooks/verifying/):
  `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret's UTF-8 bytes, timestamp + body))
  and `X-Zendesk-Webhook-Signature-Timestamp`; `X-Zendesk-Webhook-Invocation-Id` stays the
  same across retries.
- GitLab `Issue Hook` (or `Confidential Issue Hook`) when an escalation issue is closed or
  reopened, with the secret in `X-Gitlab-Token` and an `X-Gitlab-Event-UUID` that stays the
  same across retries (https://docs.gitlab.com/user/project/integrations/webhooks/).

Each delivery runs in its own daemon thread with a few retries (as both vendors retry),
so a slow receiver never holds a sandbox request. Off unless a target URL is configured.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import requests

from helpdesk_app.security.zendesk_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_zendesk
from sandbox import payloads

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (0.5, 2.0)  # two retries after the first attempt
TIMEOUT_S = 10.0


@dataclass
class Delivery:
    event: str
    url: str
    attempts: list[int | str] = field(default_factory=list)  # status codes or error names

    @property
    def delivered(self) -> bool:
        return any(isinstance(a, int) and 200 <= a < 300 for a in self.attempts)


class WebhookSender:
    """Posts JSON bodies to one URL; `headers(body)` adds the vendor's signature headers."""

    def __init__(self, url: str, headers: Callable[[bytes], dict[str, str]], *,
                 delays: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self.url, self._headers, self._delays = url, headers, delays
        self.deliveries: list[Delivery] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def send(self, event: str, payload: dict[str, Any], extra_headers: dict[str, str]) -> Delivery:
        delivery = Delivery(event, self.url)
        body = json.dumps(payload).encode()
        thread = threading.Thread(target=self._deliver, args=(delivery, body, extra_headers),
                                  daemon=True, name=f"sandbox-webhook-{event}")
        with self._lock:
            self.deliveries.append(delivery)
            self._threads.append(thread)
        thread.start()
        return delivery

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Wait for every delivery started so far; True when all finished in time."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _deliver(self, delivery: Delivery, body: bytes, extra_headers: dict[str, str]) -> None:
        for delay in (0.0, *self._delays):
            time.sleep(delay)
            # Signed again per attempt: Zendesk's timestamp is the attempt's.
            headers = {"Content-Type": "application/json; charset=utf-8", **extra_headers,
                       **self._headers(body)}
            status: int | str
            try:
                status = requests.post(self.url, data=body, headers=headers, timeout=TIMEOUT_S).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            delivery.attempts.append(status)
            # 4xx other than 429 will not improve by retrying (both vendors stop there too).
            if isinstance(status, int) and (status < 500 and status != 429):
                break
        log.info("sandbox.webhook", extra={"event": delivery.event, "attempts": delivery.attempts})


def zendesk_sender(url: str, secret: str, **kwargs: Any) -> WebhookSender:
    def signed(body: bytes) -> dict[str, str]:
        timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {SIGNATURE_HEADER: sign_zendesk(secret, timestamp, body), TIMESTAMP_HEADER: timestamp}

    return WebhookSender(url, signed, **kwargs)


def gitlab_sender(url: str, token: str, **kwargs: Any) -> WebhookSender:
    return WebhookSender(url, lambda body: {"X-Gitlab-Token": token}, **kwargs)


def send_ticket_created(sender: WebhookSender, ticket: dict[str, Any]) -> Delivery:
    event = payloads.ticket_created_event(ticket)
    return sender.send("ticket.created", event, {
        "X-Zendesk-Webhook-Id": "01SANDBOXWEBHOOK0000000000",
        "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4().int)[:19],
        "User-Agent": "Zendesk Webhook"})


def send_issue_hook(sender: WebhookSender, issue: dict[str, Any], project: dict[str, Any],
                    base: str) -> Delivery:
    hook = payloads.issue_hook(issue, project, base)
    event = "Confidential Issue Hook" if issue["confidential"] else "Issue Hook"
    return sender.send(event, hook, {"X-Gitlab-Event": event,
                                     "X-Gitlab-Event-UUID": str(uuid.uuid4()),
                                     "X-Gitlab-Instance": base, "User-Agent": "GitLab/18.0.0"})
