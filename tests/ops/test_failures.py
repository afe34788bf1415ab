"""Dead letters and the operator's view (engine/failures.py): the delivery cap, a crash's
traceback in the row, GET /api/v1/failures for admins, and requeue by the API and the CLI,
audited; on SQLite and PostgreSQL, with Zendesk faked at the HTTP edge."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from helpdesk_app.cli.commands import main as cli
from helpdesk_app.engine import runs
from helpdesk_app.engine.leases import Timing
from helpdesk_app.engine.sweeper import sweep
from helpdesk_app.storage.models import AuditRecord, Delivery, Escalation, Run, utcnow
from helpdesk_app.web import services_of
from tests.durability.test_runs_durable import AGENT, desk, make_app, new_run  # noqa: F401
from tests.ops.test_metrics import TOKEN, delta, scrape, value
from tests.sidebar_auth import mock_agent, session_header
from tests.webhooks.test_triage_job import DESCRIPTION, SUBJECT, TICKET, deliver

ADMIN = 9002
OUTAGE = [(503, {"error": "Unavailable"})] * 40  # every retry of every attempt


@pytest.fixture
def app(migrated_url, world, http, desk, zendesk):  # noqa: F811
    mock_agent(http, ADMIN, role="admin", groups=())
    return make_app(migrated_url, world, http, DELIVERY_MAX_ATTEMPTS="2", METRICS_TOKEN=TOKEN,
                    UPSTREAM_MAX_ATTEMPTS="1")


def deliveries(app) -> list[Delivery]:
    with services_of(app).db() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def make_all_due(app) -> None:
    with services_of(app).db() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        session.commit()


def sweep_now(app) -> int:
    services = services_of(app)
    return sweep(services.db, services.jobs, Timing(redispatch_after_s=120, delivery_max_attempts=2),
                 "sweeper-test")


def dead_delivery(app, zendesk) -> Delivery:
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    zendesk.show_failures += OUTAGE
    assert deliver(app, "webhook_ticket_created", "ev-dead") == 202
    (row,) = deliveries(app)
    assert (row.status, row.attempts) == ("failed", 1) and row.last_error["upstream"] == "zendesk"
    make_all_due(app)
    assert sweep_now(app) == 1  # the second and last attempt
    (row,) = deliveries(app)
    return row


def test_a_delivery_is_dead_after_its_attempts_with_its_last_error(app, zendesk):
    before = scrape(app)
    row = dead_delivery(app, zendesk)
    assert (row.status, row.attempts) == ("dead", 2)
    assert row.last_error["upstream"] == "zendesk" and row.last_error["status"] == 503
    make_all_due(app)
    assert sweep_now(app) == 0  # nothing retries a dead letter
    after = scrape(app)
    assert delta(before, after, "helpdesk_dead_letters_total", kind="zendesk_delivery") == 1
    # The backlog, counted in the database: what is dead now, whichever process scrapes.
    assert value(after, "helpdesk_deliveries_in_state", source="zendesk", state="dead") == 1
    assert value(after, "helpdesk_deliveries_in_state", source="zendesk", state="failed") == 0


def test_a_crashing_job_leaves_its_traceback_and_is_buried_at_the_cap(app, zendesk, monkeypatch):
    services = services_of(app)

    def crash(services, delivery_id):
        with services.db() as session:  # as a claim would: the attempt is counted
            session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
                status="processing", attempts=Delivery.attempts + 1,
                lease_expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
        raise KeyError("a bug")

    monkeypatch.setitem(services.jobs.handlers, "zendesk_delivery", crash)
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    assert deliver(app, "webhook_ticket_created", "ev-crash") == 202  # intake is not hurt
    (row,) = deliveries(app)
    assert row.status == "processing" and "KeyError: 'a bug'" in row.last_error["traceback"]
    assert sweep_now(app) == 1  # its lease expired: tried again, crashes again
    with pytest.raises(KeyError):  # what RQ's worker calls: recorded, then raised for RQ
        services.jobs.perform("zendesk_delivery", row.id, reraise=True)
    assert sweep_now(app) == 0
    (row,) = deliveries(app)
    assert row.status == "dead" and "a bug" in row.last_error["message"]


def failures(app, user=ADMIN):
    return app.test_client().get("/api/v1/failures", headers=session_header(app, user))


def test_admins_see_failed_runs_dead_deliveries_and_overdue_escalations(app, http, zendesk):
    services = services_of(app)
    dead = dead_delivery(app, zendesk)
    failed_run, fine_run = new_run(services), new_run(services)
    with services.db() as session:
        session.execute(update(Run).where(Run.id == failed_run).values(
            state="failed", finished_at=utcnow(), outcome={"status": "failed", "message": "portal said no"}))
        session.add_all([
            Escalation(ticket_id=5, workflow="associate", marker="m-old",
                       created_at=utcnow() - timedelta(days=4)),
            Escalation(ticket_id=6, workflow="associate", marker="m-new")])
        session.commit()
    response = failures(app)
    assert response.status_code == 200
    body = response.get_json()
    assert [(r["id"], r["state"], r["message"]) for r in body["runs"]] == [(failed_run, "failed", "portal said no")]
    assert fine_run not in [r["id"] for r in body["runs"]]
    assert [(d["id"], d["last_error"]["status"]) for d in body["deliveries"]] == [(dead.id, 503)]
    assert [e["ticket_id"] for e in body["escalations"]] == [5]
    mock_agent(http, AGENT.id)
    assert failures(app, AGENT.id).status_code == 403  # an agent, not an admin


def requeue(app, kind, item_id, user=ADMIN):
    return app.test_client().post(f"/api/v1/failures/{kind}/{item_id}/requeue",
                                  headers=session_header(app, user))


def requeues(app) -> list[AuditRecord]:
    with services_of(app).db() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.kind == "requeue")))


def test_requeue_sends_a_dead_delivery_back_and_audits_it(app, http, zendesk):
    dead = dead_delivery(app, zendesk)
    zendesk.show_failures.clear()  # Zendesk is back
    response = requeue(app, "delivery", dead.id)
    assert response.status_code == 202
    assert response.get_json() == {"kind": "delivery", "id": dead.id, "from": "dead", "to": "received"}
    (row,) = deliveries(app)
    assert (row.status, row.attempts, row.last_error) == ("processed", 1, None)  # run at once
    (record,) = requeues(app)
    assert record.agent["id"] == ADMIN and record.agent["via"] == "api"
    assert record.inputs == {"kind": "delivery", "id": dead.id}
    assert record.outcome["from"] == "dead" and record.outcome["last_error"]["status"] == 503
    assert requeue(app, "delivery", dead.id).status_code == 409  # processed: nothing to send back
    assert requeue(app, "delivery", 999999).status_code == 404
    assert requeue(app, "ticket", dead.id).status_code == 404
    mock_agent(http, AGENT.id)
    assert requeue(app, "delivery", dead.id, AGENT.id).status_code == 403
    assert len(requeues(app)) == 1


def test_the_cli_requeues_a_failed_run_for_the_sweeper(app, migrated_url, monkeypatch):
    services = services_of(app)
    run_id = new_run(services)
    with services.db() as session:
        session.execute(update(Run).where(Run.id == run_id).values(
            state="failed", attempts=5, finished_at=utcnow(), reported_at=utcnow(),
            dispatched_at=utcnow(), last_error={"message": "portal down"}, outcome={"status": "failed"}))
        session.commit()
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    out, err = io.StringIO(), io.StringIO()
    assert cli(["requeue", "run", str(run_id)], stdout=out, stderr=err) == 0, err.getvalue()
    assert json.loads(out.getvalue())["from"] == "failed"
    with services.db() as session:
        row = session.get(Run, run_id)
        assert (row.state, row.attempts, row.dispatched_at, row.last_error) == ("queued", 0, None, None)
    (record,) = requeues(app)
    assert record.agent["via"] == "cli" and record.ticket_id == row.ticket_id
    assert record.outcome == {"from": "failed", "last_error": {"message": "portal down"}}
    assert sweep_now(app) == 1  # the sweeper sends it to a worker
    with services.db() as session:
        assert session.get(Run, run_id).state == "succeeded"
    err = io.StringIO()
    assert cli(["requeue", "run", str(run_id)], stdout=io.StringIO(), stderr=err) == 2
    assert "only failed runs are requeued" in err.getvalue()


def test_a_run_whose_attempts_never_finish_fails_and_escalates_at_the_cap(app, desk):  # noqa: F811
    services = services_of(app)
    run_id = new_run(services)
    with services.db() as session:  # five attempts crashed, the last one's lease expired
        session.execute(update(Run).where(Run.id == run_id).values(
            state="running", attempts=5, lease_owner="gone", lease_expires_at=utcnow() - timedelta(seconds=1),
            last_error={"message": "KeyError: 'a bug'", "traceback": "..."}))
        session.commit()
    runs.perform_run(services, run_id)
    row = runs.load_run(services.db, run_id)
    assert (row.state, row.attempts) == ("escalated", 6)
    assert "did not finish" in row.outcome["message"] and row.outcome["error"]["message"] == "KeyError: 'a bug'"
    assert len(desk.issues) == 1  # an engineer hears of it once


@pytest.mark.redis
def test_under_rq_a_crashing_job_is_recorded_and_lands_in_the_failed_registry(
        app, zendesk, redis_url, monkeypatch):
    from redis import Redis
    from rq import Queue, SimpleWorker
    from rq.registry import FailedJobRegistry

    from helpdesk_app import worker
    from helpdesk_app.engine.jobs import QUEUE_NAME, RQQueue

    services = services_of(app)
    monkeypatch.setattr(worker, "_services", services)  # the worker process's own services

    def crash(services, delivery_id):
        raise KeyError("a bug")

    monkeypatch.setitem(services.jobs.handlers, "zendesk_delivery", crash)
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    monkeypatch.setattr(services.jobs, "queue", RQQueue(redis_url))  # intake enqueues on Redis
    assert deliver(app, "webhook_ticket_created", "ev-rq") == 202
    connection = Redis.from_url(redis_url)
    queue = Queue(QUEUE_NAME, connection=connection)
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert len(FailedJobRegistry(queue=queue)) == 1  # not swallowed
    (row,) = deliveries(app)
    assert "KeyError: 'a bug'" in row.last_error["traceback"]
