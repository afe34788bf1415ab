"""Durable runs on SQLite and PostgreSQL: leases, retries, the budget, the sweeper.

The portal, GitLab and Zendesk are served at the HTTP edge (tests/http_world.py for the
workflows' reads and the portal's changes; tests/upstream_fakes.py for the post-back), so
the portal's *effective* changes are counted where they happen: `world.mutations()` holds
the link calls that reached the portal's logic, after its Idempotency-Key replay rule.
"""
from __future__ import annotations

import dataclasses
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from helpdesk_app import create_app
from helpdesk_app.access.agents import Agent
from helpdesk_app.engine import runs
from helpdesk_app.engine.leases import Timing, claim_run
from helpdesk_app.engine.services import build_services
from helpdesk_app.engine.sweeper import sweep, take_named_lease
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import Delivery, Run, utcnow
from helpdesk_app.web import services_of
from helpdesk_app.web.api.bodies import run_request
from tests.app.test_settings import UPSTREAM_ENV
from tests.http_world import PORTAL_URL, HttpWorld, http_ports
from tests.sidebar_auth import mock_agent, session_header
from tests.upstream_fakes import FakeGitLab
from tests.webhooks.test_zendesk_intake import fixture_body, signed
from workflows.errors import UpstreamError

AGENT = Agent(id=9000, name="Lee", email="lee@vendor.test", role="agent",
              group_names=frozenset({"License and Renewals"}))
READY = {"workflow": "associate", "ticket_id": 1, "confirmation": {"decision": "ready"},
         "inputs": {"subscription": "A-S00000001", "namespace": "acme"}}
LINK_URL = f"{PORTAL_URL}/api/v1/subscriptions/A-S00000001/namespace"


def make_app(migrated_url, world, http, **env):
    settings = Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": migrated_url,
                                  "RUN_RETRY_BASE_S": "0.01", "RUN_RETRY_CAP_S": "0.01", **env})
    services = dataclasses.replace(build_services(settings), workflow_ports=http_ports(world, http))
    return create_app(settings, services)


@pytest.fixture
def desk(http, zendesk):
    mock_agent(http, AGENT.id)
    zendesk.serve_ticket(1)  # READY's ticket, as Zendesk shows it (issue 16, item 2)
    return FakeGitLab().install(http)


def new_run(services, key=None) -> int:
    run, _ = runs.create_run(services.db, run_request(READY), AGENT, key or str(uuid.uuid4()))
    return run.id


def run_row(services, run_id) -> Run:
    return runs.load_run(services.db, run_id)


def make_due(services, run_id) -> None:
    with services.db() as session:
        session.execute(update(Run).where(Run.id == run_id).values(next_attempt_at=utcnow()))
        session.commit()


def test_one_claimer_wins_and_an_expired_lease_is_taken_over(migrated_url, world, http, desk):
    services = services_of(make_app(migrated_url, world, http))
    run_id = new_run(services)
    assert claim_run(services.db, run_id, "worker-a", lease_s=60) == "execute"
    assert claim_run(services.db, run_id, "worker-b", lease_s=60) is None
    with services.db() as session:  # worker-a died: its lease runs out
        session.execute(update(Run).where(Run.id == run_id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert claim_run(services.db, run_id, "worker-b", lease_s=60) == "execute"
    row = run_row(services, run_id)
    assert (row.lease_owner, row.attempts, row.state) == ("worker-b", 2, "running")


def test_a_run_taken_over_after_a_crash_changes_the_portal_once(migrated_url, world, http, desk):
    services = services_of(make_app(migrated_url, world, http))
    run_id = new_run(services)
    # A worker claimed it, made the portal change, and died before recording anything.
    assert claim_run(services.db, run_id, "dead-worker", lease_s=60) == "execute"
    services.ports.portal.link_subscription("A-S00000001", 500, force=False,
                                            idempotency_key=f"{run_row(services, run_id).idempotency_key}:apply")
    with services.db() as session:
        session.execute(update(Run).where(Run.id == run_id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    runs.perform_run(services, run_id)
    row = run_row(services, run_id)
    assert row.state == "succeeded" and row.reported_at is not None
    assert len(world.mutations()) == 1  # the takeover re-planned: the change already held


def test_503_three_times_then_200_succeeds_after_four_calls(migrated_url, world, http, desk):
    for _ in range(3):  # each used once, then the world answers
        http.put(LINK_URL, status=503, json={"error": {"code": "unavailable", "message": "busy"}})
    services = services_of(make_app(migrated_url, world, http))
    run_id = new_run(services)
    runs.perform_run(services, run_id)
    puts = [c for c in http.calls if c.request.method == "PUT" and c.request.url == LINK_URL]
    assert len(puts) == 4
    assert run_row(services, run_id).state == "succeeded" and len(world.mutations()) == 1


def test_an_upstream_always_failing_fails_the_run_and_escalates_once(migrated_url, world, http, desk):
    world.failures["link_subscription"] = UpstreamError("portal", "boom", status=500, transient=True)
    services = services_of(make_app(migrated_url, world, http, RUN_MAX_ATTEMPTS="3",
                                    RUN_RETRY_BASE_S="30", RUN_RETRY_CAP_S="30"))
    run_id = new_run(services)
    for attempt in (1, 2):
        runs.perform_run(services, run_id)
        row = run_row(services, run_id)
        assert (row.state, row.attempts) == ("queued", attempt) and row.next_attempt_at
        runs.perform_run(services, run_id)  # not due yet: nothing happens
        assert run_row(services, run_id).attempts == attempt
        make_due(services, run_id)
    runs.perform_run(services, run_id)
    runs.perform_run(services, run_id)  # finished and reported: nothing more
    row = run_row(services, run_id)
    assert (row.state, row.attempts) == ("escalated", 3)
    assert len(desk.issues) == 1 and desk.notes == {}
    assert [e.kind for e in row.events].count("retry_scheduled") == 2


def test_a_429_is_waited_out_for_its_retry_after(migrated_url, world, http, desk):
    seen: list[float] = []
    edge = HttpWorld(world)

    def rate_limited(request):
        seen.append(time.monotonic())
        return 429, {"Retry-After": "2", "Content-Type": "application/json"}, \
            '{"error": {"code": "rate_limited", "message": "slow down"}}'

    def then_served(request):
        seen.append(time.monotonic())
        return edge._wrap(edge._portal)(request)

    http.add_callback("PUT", LINK_URL, callback=rate_limited)
    http.add_callback("PUT", LINK_URL, callback=then_served)
    services = services_of(make_app(migrated_url, world, http))
    portal = services.ports.portal
    portal._retry = dataclasses.replace(portal._retry, sleep=time.sleep)  # wait for real
    run_id = new_run(services)
    runs.perform_run(services, run_id)
    assert len(seen) == 2 and seen[1] - seen[0] >= 2.0
    assert run_row(services, run_id).state == "succeeded"


def test_the_sweeper_dispatches_what_was_never_dispatched(migrated_url, world, http, desk):
    services = services_of(make_app(migrated_url, world, http))
    run_id = new_run(services)  # recorded, but its dispatch was lost
    timing = Timing(lease_s=60, redispatch_after_s=120, sweep_every_s=1)
    assert sweep(services.db, services.jobs, timing, "sweeper-a") >= 1
    assert run_row(services, run_id).state == "succeeded"
    assert sweep(services.db, services.jobs, timing, "sweeper-a") == 0  # nothing left
    assert not take_named_lease(services.db, "sweeper", "sweeper-b", 3)  # one sweeper at a time


def test_duplicate_storm(migrated_url, world, http, desk):
    app = make_app(migrated_url, world, http)
    body = fixture_body("webhook_ticket_created")
    headers = signed(body)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: app.test_client().post(
            "/webhooks/zendesk", data=body, headers=headers).status_code, range(50)))
    assert sorted(set(answers)) == [200, 202] and answers.count(202) == 1
    key = {"Idempotency-Key": str(uuid.uuid4()), **session_header(app, AGENT.id)}
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: app.test_client().post(
            "/api/v1/runs", json=READY, headers=key).status_code, range(20)))
    services = services_of(app)
    with services.db() as session:
        assert len(session.scalars(select(Delivery)).all()) == 1
        assert len(session.scalars(select(Run)).all()) == 1
    assert statuses == [202] * 20 and len(world.mutations()) == 1
