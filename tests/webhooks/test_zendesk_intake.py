"""POST /webhooks/zendesk: signature, shapes, duplicates, size — on SQLite and PostgreSQL.

Event payloads in tests/fixtures/zendesk/webhook_*.json follow Zendesk's "Ticket events"
reference (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/).
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import responses
from sqlalchemy import event, select, update

from helpdesk_app import create_app
from helpdesk_app.engine.leases import Timing
from helpdesk_app.engine.sweeper import due_deliveries
from helpdesk_app.security.zendesk_webhook import sign_zendesk
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import Delivery
from tests.app.test_settings import UPSTREAM_ENV

SECRET = UPSTREAM_ENV["ZENDESK_WEBHOOK_SECRET"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk"
SERVICE_USER = 7777


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def now_stamp(offset_s: int = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed(body: bytes, timestamp: str | None = None, secret: str = SECRET, **extra) -> dict:
    timestamp = timestamp or now_stamp()
    return {"X-Zendesk-Webhook-Signature": sign_zendesk(secret, timestamp, body),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "Content-Type": "application/json", **extra}


@pytest.fixture
def app(migrated_url):
    env = {**UPSTREAM_ENV, "DATABASE_URL": migrated_url, "ZENDESK_SERVICE_USER_ID": str(SERVICE_USER),
           "WEBHOOK_MAX_BYTES": "65536"}
    app = create_app(Settings.from_env(env))
    yield app
    app.extensions["helpdesk"].db.kw["bind"].dispose()


@pytest.fixture
def client(app):
    # No upstream answers: intake must not need one (a job's call fails and is retried later).
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield app.test_client()


def deliveries(app) -> list[Delivery]:
    with app.extensions["helpdesk"].db() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def post(client, body: bytes, headers: dict):
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def test_signed_ticket_created_is_recorded_raw_and_accepted(client, app):
    body = fixture_body("webhook_ticket_created")
    response = post(client, body, signed(body))
    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted", "ticket_id": 35436,
                                   "delivery_key": "event:01HZX5N0M7Q8E9W3R2T1Y6U5I4"}
    (row,) = deliveries(app)
    assert row.body == body and row.source == "zendesk"
    # The job (inline in tests) took it once: recorded, dispatched, claimed. No Zendesk
    # answers here, so its triage is scheduled again (tests/webhooks/test_triage_job.py).
    assert (row.status, row.attempts) == ("failed", 1) and row.dispatched_at is not None
    assert row.next_attempt_at is not None


class RecordingQueue:
    def __init__(self) -> None:
        self.put_calls: list[tuple[str, int]] = []
        self.request_ids: list[str | None] = []

    def put(self, kind: str, job_id: int, request_id: str | None = None) -> None:
        self.put_calls.append((kind, job_id))
        self.request_ids.append(request_id)


def test_intake_is_one_write_transaction_then_one_dispatch(client, app):
    services = app.extensions["helpdesk"]
    services.jobs.queue = queue = RecordingQueue()
    transactions = []
    engine = services.db.kw["bind"]
    listener = lambda connection: transactions.append(connection)  # noqa: E731
    event.listen(engine, "begin", listener)
    try:
        body = fixture_body("webhook_ticket_created")
        assert post(client, body, signed(body)).status_code == 202
    finally:
        event.remove(engine, "begin", listener)
    (row,) = deliveries(app)
    assert len(transactions) == 1 and queue.put_calls == [("zendesk_delivery", row.id)]
    assert queue.request_ids[0]  # the job works under the intake request's id
    assert (row.status, row.attempts) == ("received", 0) and row.dispatched_at is not None


def test_while_the_budget_is_known_spent_a_delivery_is_recorded_as_due_later_not_dispatched(client, app):
    # Issue 19, item 4: its triage job would only defer it (one more job, one more write).
    services = app.extensions["helpdesk"]
    services.jobs.queue = queue = RecordingQueue()
    pacing = services.zendesk._pacing
    pacing.budgets._refusals.note(pacing.bulk().key, 30.0)  # a refusal this process saw
    body = fixture_body("webhook_ticket_created")
    assert post(client, body, signed(body)).status_code == 202
    (row,) = deliveries(app)
    assert queue.put_calls == [] and (row.status, row.attempts, row.dispatched_at) == ("received", 0, None)
    assert 25 < (row.next_attempt_at - datetime.now(timezone.utc)).total_seconds() <= 30
    # Not before it is due; then the sweeper dispatches it.
    timing = Timing(lease_s=60, redispatch_after_s=120, sweep_every_s=1)
    assert due_deliveries(services.db, timing) == []
    with services.db() as session:
        session.execute(update(Delivery).values(next_attempt_at=datetime.now(timezone.utc)))
        session.commit()
    assert due_deliveries(services.db, timing) == [(row.id, "zendesk")]


def test_a_repeated_event_answers_200_and_records_nothing_more(client, app):
    body = fixture_body("webhook_ticket_created")
    assert post(client, body, signed(body)).status_code == 202
    again = post(client, body, signed(body, now_stamp(-5)))  # a retry, signed anew
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert len(deliveries(app)) == 1


def test_comment_added_is_accepted(client):
    body = fixture_body("webhook_ticket_comment_added")
    assert post(client, body, signed(body)).status_code == 202


def test_the_service_users_own_comment_is_ignored(client, app):
    data = json.loads(fixture_body("webhook_ticket_comment_added"))
    data["event"]["comment"]["author"]["id"] = str(SERVICE_USER)
    body = json.dumps(data).encode()
    response = post(client, body, signed(body))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert deliveries(app)[0].status == "ignored"


def test_an_unhandled_event_type_is_200_and_ignored(client, app):
    body = json.dumps({"type": "zen:event-type:user.active_changed", "account_id": 1,
                       "id": "2b24ef10", "subject": "zen:user:6596848315901",
                       "detail": {"id": "6596848315901"}, "event": {"current": False}}).encode()
    response = post(client, body, signed(body))
    assert response.status_code == 200 and response.get_json() == {"status": "ignored", "event": "user.active_changed"}


TRIGGER = b'{"event": "ticket.created", "ticket_id": "35436", "actor_id": "9100"}'


def test_trigger_body_is_keyed_by_invocation_id(client, app):
    headers = signed(TRIGGER, **{"X-Zendesk-Webhook-Invocation-Id": "inv-1"})
    assert post(client, TRIGGER, headers).status_code == 202
    retry = signed(TRIGGER, now_stamp(-3), **{"X-Zendesk-Webhook-Invocation-Id": "inv-1"})
    assert post(client, TRIGGER, retry).status_code == 200
    assert deliveries(app)[0].delivery_key == "invocation:inv-1"


def test_trigger_body_without_invocation_id_is_keyed_by_body_and_timestamp(client, app):
    stamp = now_stamp()
    assert post(client, TRIGGER, signed(TRIGGER, stamp)).status_code == 202
    assert post(client, TRIGGER, signed(TRIGGER, stamp)).status_code == 200
    assert post(client, TRIGGER, signed(TRIGGER, now_stamp(-60))).status_code == 202
    assert len(deliveries(app)) == 2


@pytest.mark.parametrize("headers, code", [
    (lambda b: signed(b, secret="not-the-secret"), "bad_signature"),
    (lambda b: {k: v for k, v in signed(b).items() if k != "X-Zendesk-Webhook-Signature"}, "missing_signature"),
    (lambda b: {k: v for k, v in signed(b).items() if k != "X-Zendesk-Webhook-Signature-Timestamp"}, "missing_signature"),
    (lambda b: signed(b, now_stamp(-301)), "stale_timestamp"),
    (lambda b: signed(b, now_stamp(+301)), "stale_timestamp"),
    (lambda b: signed(b, "yesterday"), "bad_timestamp"),
])
def test_bad_missing_or_stale_signatures_are_401(client, app, headers, code):
    body = fixture_body("webhook_ticket_created")
    response = post(client, body, headers(body))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == code
    assert SECRET not in response.get_data(as_text=True)
    assert deliveries(app) == []


def test_a_body_altered_after_signing_is_401(client, app):
    body = fixture_body("webhook_ticket_created")
    headers = signed(body)
    response = post(client, body.replace(b"35436", b"35437"), headers)
    assert response.status_code == 401 and deliveries(app) == []


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'{"hello": "world"}', b"\xff\xfe",
    b'{"type": "zen:event-type:ticket.created", "id": "e1", "subject": "zen:user:1", "detail": {}}',
    b'{"type": "zen:event-type:ticket.created", "subject": "zen:ticket:1"}',
    b'{"event": "ticket.created", "ticket_id": "{{ticket.id}}"}',
])
def test_signed_but_malformed_bodies_are_400_and_record_nothing(client, app, body):
    response = post(client, body, signed(body))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "malformed_delivery"
    assert deliveries(app) == []


def test_a_body_above_the_limit_is_413_json(client, app):
    body = b'{"pad": "' + b"x" * 70000 + b'"}'
    response = post(client, body, signed(body))
    assert response.status_code == 413 and "error" in response.get_json()
    assert deliveries(app) == []


def test_concurrent_copies_of_one_delivery_make_one_row(app):
    body = fixture_body("webhook_ticket_created")
    headers = signed(body)
    statuses = []

    def deliver():
        statuses.append(app.test_client().post("/webhooks/zendesk", data=body, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 19 + [202]
    assert len(deliveries(app)) == 1


def test_a_signed_trigger_body_replayed_under_new_invocation_ids_is_a_duplicate(client, app):
    # Issue 16, item 7: the invocation id header is not signed; what was signed decides.
    stamp = now_stamp()
    first = post(client, TRIGGER, signed(TRIGGER, stamp, **{"X-Zendesk-Webhook-Invocation-Id": "inv-1"}))
    assert first.status_code == 202
    for n in range(2, 5):
        replay = signed(TRIGGER, stamp, **{"X-Zendesk-Webhook-Invocation-Id": f"inv-{n}"})
        assert post(client, TRIGGER, replay).status_code == 200
    assert post(client, TRIGGER, signed(TRIGGER, stamp)).status_code == 200  # header dropped
    assert len([d for d in deliveries(app) if d.body is not None]) == 1  # one to triage


def test_a_signed_body_nested_too_deep_is_400_not_500(client, app):
    body = b'{"event": "ticket.created", "ticket_id": 1, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = post(client, body, signed(body))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "malformed_delivery"
    assert deliveries(app) == []


@pytest.mark.parametrize("level, written", [("INFO", False), ("DEBUG", True)])
def test_a_recorded_delivery_is_a_log_line_only_at_debug(client, level, written):
    # At INFO the access line and the row say it; a line for each cost a fifth of a
    # delivery's CPU under a storm (docs/performance.md).
    import io
    import logging

    from helpdesk_app import logs

    stream = io.StringIO()
    handler = logs.configure(level, stream)
    try:
        body = fixture_body("webhook_ticket_created")
        assert post(client, body, signed(body)).status_code == 202
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert ("webhook.recorded" in events) is written
