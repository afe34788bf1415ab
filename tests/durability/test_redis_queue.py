"""RQ on a real Redis: intake never waits on the queue, and the sweeper catches up.

Jobs are worked by an RQ SimpleWorker in burst mode in this process, the way
`python -m helpdesk_app.worker` works them (helpdesk_app/worker.py).
"""
from __future__ import annotations

import json
import time
import uuid

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from helpdesk_app import worker
from helpdesk_app.engine.jobs import QUEUE_NAME
from helpdesk_app.engine.leases import Timing
from helpdesk_app.engine.sweeper import sweep
from helpdesk_app.storage.models import Delivery, Run
from helpdesk_app.web import services_of
from tests.durability.test_runs_durable import AGENT, READY, desk, make_app  # noqa: F401
from tests.redis_service import start_redis, stop_redis
from tests.sidebar_auth import session_header
from tests.webhooks.test_zendesk_intake import fixture_body, signed

SWEEP_NOW = Timing(lease_s=60, redispatch_after_s=120, sweep_every_s=1)


@pytest.fixture
def app(migrated_url, world, http, desk, redis_url, monkeypatch):  # noqa: F811
    app = make_app(migrated_url, world, http, JOB_EXECUTOR="rq", REDIS_URL=redis_url)
    monkeypatch.setattr(worker, "_services", services_of(app))  # what the worker process builds
    return app


def work_the_queue(redis_url: str) -> None:
    connection = Redis.from_url(redis_url)
    SimpleWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work(burst=True)


def delivery(n: int) -> bytes:
    event = json.loads(fixture_body("webhook_ticket_created"))
    event["id"] = f"01HZX5N0M7Q8E9W3R2T1Y6U5{n:02d}"
    return json.dumps(event).encode()


def test_a_run_is_queued_on_redis_and_worked_by_an_rq_worker(app, redis_url, world):
    client = app.test_client()
    headers = {"Idempotency-Key": str(uuid.uuid4()), **session_header(app, AGENT.id)}
    queued = client.post("/api/v1/runs", json=READY, headers=headers).get_json()
    assert queued["state"] == "queued"
    work_the_queue(redis_url)
    done = client.get(f"/api/v1/runs/{queued['id']}", headers=session_header(app, AGENT.id)).get_json()
    assert done["state"] == "succeeded" and len(world.mutations()) == 1


def test_deliveries_during_a_redis_outage_are_processed_once_it_is_back(app, redis_url, zendesk):
    zendesk.add_ticket(35436, "Subscription not showing", "We bought A-S00000001 for gitlab.com/acme")
    client, services = app.test_client(), services_of(app)
    stop_redis()
    try:
        started = time.monotonic()
        answers = [client.post("/webhooks/zendesk", data=delivery(n), headers=signed(delivery(n)))
                   for n in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 202]
        assert time.monotonic() - started < 10  # answered, not waiting on the queue
    finally:
        start_redis()
    with services.db() as session:
        assert all(d.dispatched_at is None for d in session.scalars(select(Delivery)))
    assert sweep(services.db, services.jobs, SWEEP_NOW, "sweeper") == 3
    work_the_queue(redis_url)
    assert sweep(services.db, services.jobs, SWEEP_NOW, "sweeper") == 0
    with services.db() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.status, d.attempts) for d in rows] == [("processed", 1)] * 3
        assert session.scalars(select(Run)).all() == []
    internal = [c for c in zendesk.comments[35436] if not c["public"]]
    assert len(internal) == 1  # three triages of one ticket, one note
