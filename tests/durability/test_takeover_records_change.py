"""A run cut off after its portal call, taken over: it still records the change it made.

provisioning-rules.md, "Executing a run": the before-state is recorded before the first
portal call; the next attempt's fresh plan is `noop`, so it repeats the call with the same
Idempotency-Key, and the portal's replayed answer shows the change was this run's. The
cut is simulated in-process: the worker dies (a BaseException, as a kill gives no chance to
clean up) right after the portal answered and before anything else is written. The portal
and GitLab are served at the HTTP edge (tests/http_world.py), so the replay goes through
the real PortalClient and the contract's Idempotent-Replayed header.
"""
from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from helpdesk_app.engine import runs
from helpdesk_app.engine.leases import claim_run
from helpdesk_app.storage.models import Run, utcnow
from helpdesk_app.web import services_of
from helpdesk_app.web.api.bodies import run_request
from tests.durability.test_runs_durable import AGENT, READY, desk, make_app  # noqa: F401 (fixture)
from tests.http_world import PORTAL_URL
from workflows.model import Change

LINK_URL = f"{PORTAL_URL}/api/v1/subscriptions/A-S00000001/namespace"


class WorkerKilled(BaseException):
    """Not an Exception: nothing in the job catches it, as nothing survives a SIGKILL."""


def killed_after_the_portal_call(portal):
    """The portal port of a worker that dies once the portal has made the change."""
    link = portal.link_subscription

    def link_then_die(*args, **kwargs):
        link(*args, **kwargs)
        raise WorkerKilled

    portal.link_subscription = link_then_die
    return lambda: setattr(portal, "link_subscription", link)


def expire_lease(services, run_id):
    with services.db() as session:
        session.execute(update(Run).where(Run.id == run_id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()


def test_a_taken_over_run_records_the_change_its_cut_off_attempt_made(migrated_url, world, http, desk,
                                                                     zendesk):
    services = services_of(make_app(migrated_url, world, http))
    run, _ = runs.create_run(services.db, run_request(READY), AGENT, str(uuid.uuid4()))
    revive = killed_after_the_portal_call(services.ports.portal)

    with pytest.raises(WorkerKilled):
        runs.perform_run(services, run.id)

    cut = runs.load_run(services.db, run.id)
    assert cut.state == "running" and cut.outcome is None  # nothing written after the call
    assert [e.kind for e in cut.events] == ["queued", "changing"]
    assert cut.events[1].detail["before"]["namespace_plan"] == "free"  # recorded before the call
    assert world.subscriptions["A-S00000001"].namespace_id == 500  # the portal made the change

    revive()  # the next worker is a healthy one
    expire_lease(services, run.id)
    runs.perform_run(services, run.id)

    row = runs.load_run(services.db, run.id)
    assert (row.state, row.attempts) == ("succeeded", 2) and row.reported_at is not None
    outcome = row.outcome
    assert outcome["decision"] == "noop"  # the fresh plan: already linked
    assert outcome["changed"] is True and outcome["verified"] is True
    assert outcome["before"]["namespace_plan"] == "free"  # the first before-state
    assert outcome["after"]["namespace_plan"] == "premium"
    assert [m[1] for m in world.mutations()] == ["link_subscription"]  # one change upstream
    puts = [c for c in http.calls if c.request.method == "PUT" and c.request.url == LINK_URL]
    assert len(puts) == 2 and len({c.request.headers["Idempotency-Key"] for c in puts}) == 1
    assert puts[1].response.headers.get("Idempotent-Replayed") == "true"
    (note,) = zendesk.notes(READY["ticket_id"])
    assert "with acme: done and verified." in note and "- Plan of acme: Free → Premium" in note


def test_a_noop_without_a_replayed_answer_is_nothing_changed(migrated_url, world, http, desk):
    services = services_of(make_app(migrated_url, world, http))
    run, _ = runs.create_run(services.db, run_request(READY), AGENT, str(uuid.uuid4()))
    # An attempt recorded its before-state and was cut off before its call reached the
    # portal; meanwhile the customer linked the subscription themselves.
    assert claim_run(services.db, run.id, "dead-worker", lease_s=60) == "execute"
    runs._record_before(services.db, run.id, Change(
        action="link_subscription", subscription="A-S00000001", namespace_id=500),
        {"namespace_plan": "free"})
    services.ports.portal.link_subscription("A-S00000001", 500, force=False,
                                            idempotency_key="the-customer-in-the-portal")
    expire_lease(services, run.id)

    runs.perform_run(services, run.id)

    outcome = runs.load_run(services.db, run.id).outcome
    assert outcome["status"] == "succeeded" and outcome["changed"] is False
    assert outcome["message"].startswith("Nothing to do")



def test_the_repeat_is_skipped_when_the_fresh_plan_would_stop_the_change(migrated_url, world, http, desk):
    services = services_of(make_app(migrated_url, world, http))
    run, _ = runs.create_run(services.db, run_request(READY), AGENT, str(uuid.uuid4()))
    assert claim_run(services.db, run.id, "dead-worker", lease_s=60) == "execute"
    runs._record_before(services.db, run.id, Change(
        action="link_subscription", subscription="A-S00000001", namespace_id=500),
        {"namespace_plan": "free"})
    # Linked by someone else since, and the customer's account was unlinked: the fresh plan
    # is noop, but customer_linked blocks, so the call that would tell must not be sent
    # (had the first call never arrived, it would act).
    services.ports.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="other")
    world.customers[1] = dataclasses.replace(world.customers[1], gitlab_user_id=None)
    expire_lease(services, run.id)

    runs.perform_run(services, run.id)

    outcome = runs.load_run(services.db, run.id).outcome
    assert outcome["status"] == "succeeded" and outcome["changed"] is False
    assert "unknown" in outcome["message"]
    puts = [c for c in http.calls if c.request.method == "PUT" and c.request.url == LINK_URL]
    assert [c.request.headers["Idempotency-Key"] for c in puts] == ["other"]
