"""The API in an agent's words (issue 20; the contract the sidebar renders): a plan's title,
decision, next step, deciding checks and change in words; the ticket's workflows with who
may run them, its findings with triage's recommendation, read on demand; a run's timeline,
waiting, failure and result.

Same world and fixtures as test_api_v1.py: an in-memory world, Zendesk and GitLab through
their real clients against `responses`, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from sqlalchemy import select

from helpdesk_app.storage.models import Run, TicketFindings
from helpdesk_app.web import services_of
from tests.api.test_api_v1 import (  # noqa: F401 (fixtures)
    ASSOCIATE,
    MOVE,
    OTHER_AGENT,
    READY,
    TICKET,
    app,
    as_agent,
    client,
    desk,
    key,
    linked_elsewhere,
)
from workflows.errors import UpstreamError

SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def test_a_plan_says_what_it_does_in_words(client, app):
    plan = client.post("/api/v1/plans", json=ASSOCIATE, headers=as_agent(app)).get_json()
    assert plan["workflow_name"] == "Associate subscription"
    assert plan["title"] == "Associate subscription A-S00000001 with acme"
    assert plan["decision_label"] == "Ready to run"
    assert plan["next_step"] == "Check the change and confirm to run it."
    assert plan["deciding"] == []  # every check passed
    assert plan["changes"] == [
        {"label": "Group of A-S00000001", "before": "—", "after": "acme"},
        {"label": "Plan of acme", "before": "Free", "after": "Premium"},
        {"label": "Seats on acme", "before": "18 in use", "after": "18 in use of 20 bought"},
    ]


def test_a_needs_override_plan_names_what_decides_and_who_may_confirm(client, app, world):
    linked_elsewhere(world)
    mine = client.post("/api/v1/plans", json=MOVE, headers=as_agent(app)).get_json()
    assert mine["decision_label"] == "Needs an override"
    assert mine["deciding"][0] == "subscription_not_linked_elsewhere"
    assert mine["next_step"] == "Write why the override is right, then confirm."
    assert {"label": "Plan of acme-old", "before": "Premium",
            "after": "Free, unless another plan is linked"} in mine["changes"]
    theirs = client.post("/api/v1/plans", json=MOVE, headers=as_agent(app, OTHER_AGENT)).get_json()
    assert theirs["next_step"] == (
        "Ask a member of License and Renewals to confirm the override of “Subscription is not "
        "linked to another group”: you may not.")
    assert theirs["override_confirmers"][0]["allowed_groups"] == ["License and Renewals"]


def test_a_blocked_plan_says_what_to_do_instead(client, app):
    body = {**ASSOCIATE, "inputs": {"subscription": "A-S00000001", "namespace": "acme/platform"}}
    plan = client.post("/api/v1/plans", json=body, headers=as_agent(app)).get_json()
    assert plan["decision"] == "blocked" and plan["deciding"] == ["namespace_top_level"]
    assert plan["changes"] == [] and "top-level" in plan["next_step"]


def test_the_ticket_context_lists_the_workflows_with_who_may_run_them(client, app):
    first_level = client.get(f"/api/v1/tickets/{TICKET}", headers=as_agent(app, OTHER_AGENT)).get_json()
    choices = {w["name"]: w for w in first_level["workflows"]}
    assert [w["name"] for w in first_level["workflows"]] == [
        "associate", "force_associate", "clear_subscription", "unlink_account", "link_account"]
    assert choices["associate"] == {"name": "associate", "label": "Associate subscription",
                                    "allowed": True, "allowed_groups": [], "refusal": None}
    force = choices["force_associate"]
    assert force["allowed"] is False and force["allowed_groups"] == ["License and Renewals"]
    assert force["refusal"] == ("Force associate subscription needs membership of the Zendesk "
                                "group 'License and Renewals'")
    lnr = client.get(f"/api/v1/tickets/{TICKET}", headers=as_agent(app)).get_json()
    assert all(w["allowed"] for w in lnr["workflows"])


def _triage_ticket(desk, ticket_id=TICKET):
    desk.zendesk.add_ticket(ticket_id, "Premium not showing on our group",
                            "We bought A-S00000001 but https://gitlab.com/acme still shows Free.")


def test_findings_are_read_on_demand_read_only_and_recommend_a_run(client, app, desk):
    _triage_ticket(desk)
    before = len(desk.zendesk.notes(TICKET))
    response = client.post(f"/api/v1/tickets/{TICKET}/findings", headers=as_agent(app, OTHER_AGENT))
    assert response.status_code == 200
    findings = response.get_json()["findings"]
    assert findings["subscriptions"] == ["A-S00000001"] and findings["namespaces"] == ["acme"]
    assert findings["recommendation"] == {"workflow": "associate",
                                          "inputs": {"subscription": "A-S00000001", "namespace": "acme"}}
    # Read only: no note, no tag, no ticket update.
    assert len(desk.zendesk.notes(TICKET)) == before
    assert not [u for u in desk.http.calls if u.request.method in ("PUT", "POST")
                and "zendesk" in u.request.url]
    context = client.get(f"/api/v1/tickets/{TICKET}", headers=as_agent(app)).get_json()
    assert context["findings"]["recommendation"] == findings["recommendation"]


def test_findings_already_there_are_not_read_again(client, app, desk):
    _triage_ticket(desk)
    first = client.post(f"/api/v1/tickets/{TICKET}/findings", headers=as_agent(app)).get_json()
    desk.zendesk.add_ticket(TICKET, "Changed", "Now about A-S00000003 and beta.")
    again = client.post(f"/api/v1/tickets/{TICKET}/findings", headers=as_agent(app)).get_json()
    assert again["findings"]["subscriptions"] == first["findings"]["subscriptions"] == ["A-S00000001"]


def test_findings_read_without_a_note_still_get_their_note_at_the_next_triage(client, app, desk):
    from helpdesk_app.engine import triage_job

    _triage_ticket(desk)
    client.post(f"/api/v1/tickets/{TICKET}/findings", headers=as_agent(app))
    triage_job.triage_ticket(services_of(app), TICKET)  # e.g. the ticket.updated webhook's
    assert sum("[lnr:triage:" in n for n in desk.zendesk.notes(TICKET)) == 1
    with services_of(app).db() as session:
        (row,) = session.scalars(select(TicketFindings)).all()
        assert not row.findings_hash.startswith(triage_job.UNNOTED)


def test_findings_of_a_ticket_zendesk_does_not_have_are_404_and_stored_nowhere(client, app):
    response = client.post("/api/v1/tickets/999/findings", headers=as_agent(app))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "ticket_not_found"
    with services_of(app).db() as session:
        assert session.scalars(select(TicketFindings)).all() == []


def test_a_run_in_words_timeline_and_result(client, app):
    run = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key())).get_json()
    assert run["state"] == "succeeded" and run["workflow_name"] == "Associate subscription"
    assert run["result"]["headline"] == "Associate subscription A-S00000001 with acme: done and verified."
    assert {"label": "Plan of acme", "before": "Free", "after": "Premium"} in run["result"]["changes"]
    assert run["failure"] is None and run["waiting"] is None
    assert [e["label"] for e in run["events"]] == ["Run requested", "Changing the portal", "Done"]
    assert all(SECONDS.match(e["at"]) for e in run["events"])


def test_a_business_error_fails_at_once_and_says_so(client, app, world):
    world.failures["link_subscription"] = UpstreamError("portal", "the namespace is locked", status=409,
                                                        code="conflict")
    run = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key())).get_json()
    assert run["state"] == "escalated" and run["attempts"] == 1
    assert run["failure"]["kind"] == "business"
    assert "HTTP 409: the namespace is locked" in run["failure"]["message"]
    assert "trying again would not help" in run["failure"]["message"]
    headline = run["result"]["headline"]
    assert headline.startswith("Associate subscription A-S00000001 with acme failed:")
    assert "Nothing was changed." in headline and run["result"]["changes"] == []
    assert run["escalation"]["url"] == run["escalation"]["issue_url"]  # GitLab's web_url upstream
    assert "Escalated to engineers" in [e["label"] for e in run["events"]]


def test_a_transient_error_waits_with_the_attempt_count(client, app, world):
    world.failures["link_subscription"] = UpstreamError("portal", "busy", status=500, transient=True)
    started = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key())).get_json()
    run = client.get(f"/api/v1/runs/{started['id']}", headers=as_agent(app)).get_json()
    assert run["state"] == "queued" and run["failure"] is None
    waiting = run["waiting"]
    assert (waiting["attempt"], waiting["of"]) == (2, 5)
    assert 0 <= waiting["next_in_s"] <= 2  # RUN_RETRY_BASE_S 2 s: the first wait is at most 2 s
    # The waits still to come at most: 4, 8 and 16 s (doubling, under RUN_RETRY_CAP_S).
    assert waiting["longest_wait_left_s"] == waiting["next_in_s"] + 28
    assert datetime.fromisoformat(waiting["next_at"]).tzinfo is not None
    assert "Attempt failed, trying again" in [e["label"] for e in run["events"]]


def test_a_transient_error_that_outlasts_the_attempts_fails_as_transient(client, app, world):
    world.failures["link_subscription"] = UpstreamError("portal", "busy", status=500, transient=True)
    started = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key())).get_json()
    services = services_of(app)
    from helpdesk_app.engine import runs

    for _ in range(4):  # each attempt as the sweeper would dispatch it once it is due
        with services.db() as session:
            row = session.get(Run, started["id"])
            row.next_attempt_at = None
            session.commit()
        runs.perform_run(services, started["id"])
    run = client.get(f"/api/v1/runs/{started['id']}", headers=as_agent(app)).get_json()
    assert run["state"] == "escalated" and run["attempts"] == 5 and run["waiting"] is None
    assert run["failure"] == {"kind": "transient",
                              "message": "The customers portal kept failing after 5 attempts (HTTP 500: busy)."}


def test_a_run_superseded_by_a_moved_world_says_so_once(client, app, world):
    body = {**READY, "confirmation": {"decision": "ready"}}
    world.subscriptions["A-S00000001"] = dataclasses.replace(world.subscriptions["A-S00000001"],
                                                             status="cancelled")
    run = client.post("/api/v1/runs", json=body, headers=as_agent(app, **key())).get_json()
    assert run["state"] == "superseded"
    assert run["result"]["headline"] == (
        "Associate subscription A-S00000001 with acme was not run: the plan changed since you "
        "confirmed it and is now “Blocked”. Review it and confirm again.")


def test_a_run_refused_before_it_planned_still_says_what_it_was_for(migrated_url, world, desk):
    from helpdesk_app.access.agents import Agent
    from helpdesk_app.engine import runs
    from helpdesk_app.web.api.bodies import run_request
    from tests.api.test_api_v1 import MOVE_CONFIRMED, make_app

    linked_elsewhere(world)
    app = make_app(migrated_url, world, AGENT_CACHE_S="0")
    services = services_of(app)
    # Recorded while the agent was in License and Renewals; Zendesk now says First Level only.
    was = Agent(id=OTHER_AGENT, name="Was L&R", email=None, role="agent",
                group_names=frozenset({"License and Renewals"}))
    run, _ = runs.create_run(services.db, run_request(MOVE_CONFIRMED), was, "key-refused-words")
    runs.perform_run(services, run.id)
    shown = app.test_client().get(f"/api/v1/runs/{run.id}", headers=as_agent(app)).get_json()
    assert shown["result"]["headline"].startswith(
        "Associate subscription A-S00000001 with acme was refused: Overriding “Subscription is not "
        "linked to another group” has the effect of Clear subscription")
    assert shown["failure"]["kind"] == "business"
    services.db.kw["bind"].dispose()
