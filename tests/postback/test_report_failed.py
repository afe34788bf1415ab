"""Issue 16, item 5: a post-back that can never land ends; it is never retried forever.

A run whose ticket answers 404 (deleted since) or whose post-back failed
POSTBACK_MAX_ATTEMPTS times is `report_failed`, never dispatched again, and audited.
"""
from __future__ import annotations

from sqlalchemy import select

from helpdesk_app.engine import runs
from helpdesk_app.storage.models import AuditRecord
from helpdesk_app.web import services_of
from tests.durability.test_runs_durable import desk, make_app, make_due, new_run, run_row  # noqa: F401
from tests.upstream_fakes import fixture

GONE = (404, fixture("zendesk", "error__record_not_found"))
DOWN = (503, {"error": "ServiceUnavailable", "description": "Try again later"})


def audit_kinds(services) -> list[str]:
    with services.db() as session:
        return list(session.scalars(select(AuditRecord.kind).order_by(AuditRecord.id)))


def test_a_post_back_answered_404_is_final(migrated_url, world, http, zendesk, desk):
    services = services_of(make_app(migrated_url, world, http, UPSTREAM_MAX_ATTEMPTS="1"))
    run_id = new_run(services)
    zendesk.answer_all = GONE  # the ticket was deleted while the run was queued
    runs.perform_run(services, run_id)
    row = run_row(services, run_id)
    assert row.state == "report_failed" and row.reported_at is None and row.next_attempt_at is None
    assert [e.kind for e in row.events if e.kind.startswith(("post_back", "report"))] == ["report_failed"]
    assert audit_kinds(services) == ["run", "report_failed"]
    calls = len(http.calls)
    make_due(services, run_id)
    runs.perform_run(services, run_id)  # a stray dispatch: nothing to claim, nothing sent
    assert len(http.calls) == calls and run_row(services, run_id).state == "report_failed"


def test_post_back_retries_are_capped(migrated_url, world, http, zendesk, desk):
    services = services_of(make_app(migrated_url, world, http, UPSTREAM_MAX_ATTEMPTS="1",
                                    POSTBACK_MAX_ATTEMPTS="3"))
    run_id = new_run(services)
    zendesk.answer_all = DOWN
    runs.perform_run(services, run_id)
    for _ in range(5):
        make_due(services, run_id)
        runs.perform_run(services, run_id)
    row = run_row(services, run_id)
    assert [e.kind for e in row.events if e.kind.startswith(("post_back", "report"))] == [
        "post_back_retry", "post_back_retry", "report_failed"]
    assert row.state == "report_failed" and audit_kinds(services)[-1] == "report_failed"
