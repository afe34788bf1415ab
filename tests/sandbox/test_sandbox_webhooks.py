"""Outgoing webhooks: a signed Zendesk `ticket.created` event for a ticket created through
the sandbox, and a GitLab Issue Hook when an escalation issue is closed or reopened; each
checked with the service's own verifier and parser."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpdesk_app.engine import zendesk_payloads
from helpdesk_app.security.zendesk_webhook import verify_zendesk_signature
from helpdesk_app.web.webhooks.gitlab import parse_hook
from tests.sandbox.sandbox_support import clients_for, start
from tests.upstream_fakes import fixture


class Receiver:
    """A loopback endpoint that records deliveries and answers the statuses it is given."""

    def __init__(self, statuses=()) -> None:
        self.deliveries: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_webhooks_are_off_by_default(sandbox):
    sandbox.create_ticket(subject="x", description="y", requester_id=9100)
    assert sandbox.zendesk_webhooks is None and sandbox.gitlab_webhooks is None


def test_a_created_ticket_posts_a_signed_ticket_created_event(scenario, receiver):
    with start(scenario, zendesk_webhook=receiver.url) as sandbox:
        created = sandbox.create_ticket(subject="Subscription not showing on our group",
                                        description="We bought A-S00000001 for https://gitlab.com/groups/acme",
                                        requester_id=9100)
        assert sandbox.wait_for_webhooks()
        secret = sandbox.credentials["ZENDESK_WEBHOOK_SECRET"]
    (headers, body), = receiver.deliveries
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    verify_zendesk_signature(secret, headers["X-Zendesk-Webhook-Signature"], timestamp, body,
                             now=datetime.now(timezone.utc))  # raises when it does not verify
    event = json.loads(body)
    template = fixture("zendesk", "webhook_ticket_created")
    assert set(event) == set(template) and set(event["detail"]) == set(template["detail"])
    assert (event["type"], event["subject"]) == ("zen:event-type:ticket.created", f"zen:ticket:{created['id']}")
    assert event["detail"]["description"].startswith("We bought A-S00000001")
    delivery = zendesk_payloads.parse(body, headers, timestamp)  # what the service reads
    assert (delivery.event, delivery.ticket_id, delivery.actor_id) == ("ticket.created", created["id"], 9100)


def test_closing_and_reopening_an_escalation_posts_issue_hooks(scenario, receiver):
    with start(scenario, gitlab_webhook=receiver.url) as sandbox:
        clients_for(sandbox).gitlab.create_issue("Console escalation", "failed [lnr:e:1]",
                                                 labels=["Console Escalation - customers"],
                                                 marker="[lnr:e:1]")
        sandbox.close_issue(1)
        sandbox.close_issue(1)  # already closed: no change, no hook
        sandbox.reopen_issue(1)
        assert sandbox.wait_for_webhooks()
        token = sandbox.credentials["GITLAB_WEBHOOK_TOKEN"]
        gitlab_url = sandbox.gitlab_url
    # Each delivery has its own thread: they may arrive in either order.
    closed, reopened = sorted(receiver.deliveries, key=lambda d: json.loads(d[1])["object_attributes"]["state_id"],
                              reverse=True)
    assert closed[0]["X-Gitlab-Token"] == token
    assert closed[0]["X-Gitlab-Event"] == "Confidential Issue Hook"  # escalations are confidential
    hook = parse_hook(closed[1])
    assert (hook.kind, hook.project_path, hook.iid, hook.state, hook.action) == (
        "issue", "support/escalations", 1, "closed", "close")
    assert hook.url == f"{gitlab_url}/support/escalations/-/issues/1" and hook.closed_at
    assert hook.username == "casey.console"
    assert (parse_hook(reopened[1]).state, parse_hook(reopened[1]).action) == ("opened", "reopen")
    assert closed[0]["X-Gitlab-Event-UUID"] != reopened[0]["X-Gitlab-Event-UUID"]
    template = fixture("gitlab", "issue_hook__closed")
    assert set(json.loads(closed[1])) == set(template)


def test_a_failed_delivery_is_retried_with_the_same_invocation_id(scenario):
    receiver = Receiver(statuses=[503])
    try:
        with start(scenario, zendesk_webhook=receiver.url) as sandbox:
            sandbox.create_ticket(subject="s", description="d", requester_id=9100)
            assert sandbox.wait_for_webhooks()
            (delivery,) = sandbox.zendesk_webhooks.deliveries
        assert delivery.attempts == [503, 202] and delivery.delivered
        first, second = (h for h, _ in receiver.deliveries)
        assert first["X-Zendesk-Webhook-Invocation-Id"] == second["X-Zendesk-Webhook-Invocation-Id"]
    finally:
        receiver.close()
