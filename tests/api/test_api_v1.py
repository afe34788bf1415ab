"""/api/v1 at the HTTP edge: authentication, policy, malformed input, idempotency, results.

The workflows read and change an in-memory world (tests/world.py, the scenario format);
agents, the post-back and escalations go through the real zenpy and python-gitlab clients
against `responses` (tests/sidebar_auth.py, tests/upstream_fakes.py). Every test runs on SQLite
and on PostgreSQL.
"""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import responses
from sqlalchemy import func, select

from helpdesk_app import create_app
from helpdesk_app.engine.services import build_services
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import AuditRecord, Run
from helpdesk_app.web import services_of
from tests.app.test_settings import UPSTREAM_ENV
from tests.sidebar_auth import FIRST_LEVEL, mock_agent, session_header
from tests.upstream_fakes import ISSUES_URL, FakeGitLab, FakeZendesk, writes
from workflows.errors import UpstreamError

LNR_AGENT, OTHER_AGENT, ADMIN = 9000, 9001, 9002
TICKET = 1
ASSOCIATE = {"workflow": "associate", "ticket_id": TICKET,
             "inputs": {"subscription": "a-s00000001", "namespace": "acme"}}
READY = {**ASSOCIATE, "confirmation": {"decision": "ready"}}


def make_app(migrated_url, world, **env):
    settings = Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": migrated_url, **env})
    services = dataclasses.replace(build_services(settings), workflow_ports=world.ports)
    return create_app(settings, services)


@pytest.fixture
def app(migrated_url, world):
    app = make_app(migrated_url, world)
    yield app
    services_of(app).db.kw["bind"].dispose()


@dataclasses.dataclass
class Desk:
    """Zendesk and GitLab as the post-back and the agents' lookups see them."""

    http: responses.RequestsMock
    zendesk: FakeZendesk
    gitlab: FakeGitLab

    def ticket_updates(self, ticket_id: int, kind: str) -> list:
        url = f"/tickets/{ticket_id}.json"
        return [body["ticket"][kind] for method, u, body in writes(self.http)
                if u.endswith(url) and kind in body["ticket"]]

    def issue_requests(self) -> list[dict]:
        return [body for method, u, body in writes(self.http) if method == "POST" and u == ISSUES_URL]


@pytest.fixture
def desk(http, zendesk):
    mock_agent(http, LNR_AGENT)
    mock_agent(http, OTHER_AGENT, groups=(FIRST_LEVEL,))
    mock_agent(http, ADMIN, role="admin", groups=())
    for ticket_id in (1, 2, 3):  # the world's tickets, as Zendesk shows them (issue 16, item 2)
        zendesk.serve_ticket(ticket_id)
    return Desk(http, zendesk, FakeGitLab().install(http))


@pytest.fixture
def client(app, desk):
    return app.test_client()


def as_agent(app, user_id=LNR_AGENT, **extra):
    return {**session_header(app, user_id), **extra}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def count(app, model) -> int:
    with services_of(app).db() as session:
        return session.scalar(select(func.count()).select_from(model))


ENDPOINTS = [("get", "/api/v1/tickets/1"), ("post", "/api/v1/plans"), ("post", "/api/v1/runs"),
             ("get", "/api/v1/runs/1"), ("post", "/api/v1/escalations"),
             ("get", "/api/v1/audit?ticket_id=1")]


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_every_endpoint_needs_a_session(client, method, path):
    response = getattr(client, method)(path, json=READY)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_an_expired_or_forged_session_is_refused(client, app, method, path):
    stale = session_header(app, LNR_AGENT, now=datetime.now(timezone.utc) - timedelta(hours=1))
    assert getattr(client, method)(path, json=READY, headers=stale).status_code == 401
    forged = {"Authorization": session_header(app, LNR_AGENT)["Authorization"][:-4] + "AAAA"}
    assert getattr(client, method)(path, json=READY, headers=forged).status_code == 401


def test_a_plan_shows_every_check_changes_nothing_and_is_audited(client, app, world):
    response = client.post("/api/v1/plans", json=ASSOCIATE, headers=as_agent(app, OTHER_AGENT))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    plan = response.get_json()
    assert plan["decision"] == "ready" and plan["ticket_id"] == TICKET
    assert plan["inputs"]["subscriptions"] == ["A-S00000001"]
    assert [c["id"] for c in plan["checks"]][:2] == ["subscription_exists", "subscription_active"]
    assert world.mutations() == []
    with services_of(app).db() as session:
        (record,) = session.scalars(select(AuditRecord)).all()
    assert (record.kind, record.ticket_id, record.agent["id"]) == ("plan", TICKET, OTHER_AGENT)
    assert record.checks == plan["checks"]


def test_an_agent_outside_the_group_may_not_force_associate(client, app, world):
    body = {**ASSOCIATE, "workflow": "force_associate"}
    response = client.post("/api/v1/plans", json=body, headers=as_agent(app, OTHER_AGENT))
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "forbidden" and "License and Renewals" in error["message"]
    run = {**body, "confirmation": {"decision": "ready"}}
    refused = client.post("/api/v1/runs", json=run, headers=as_agent(app, OTHER_AGENT, **key()))
    assert refused.status_code == 403
    assert count(app, Run) == 0 and world.mutations() == []


LINK = {"workflow": "link_account", "ticket_id": TICKET,
        "inputs": {"customer": 1, "gitlab_user": "@ada", "namespace": "acme", "subscription": "A-S00000001"}}


def test_link_account_is_planned_and_run_for_the_named_gitlab_user(client, app, world, desk):
    world.customers[1] = dataclasses.replace(world.customers[1], gitlab_user_id=None)
    planned = client.post("/api/v1/plans", json=LINK, headers=as_agent(app))
    assert planned.status_code == 200
    plan = planned.get_json()
    assert plan["decision"] == "ready" and plan["inputs"]["gitlab_user"] == "ada"
    assert plan["change"]["action"] == "link_customer" and plan["change"]["gitlab_user_id"] == 100
    headers = key()
    run = client.post("/api/v1/runs", json={**LINK, "confirmation": {"decision": "ready"}},
                      headers=as_agent(app, **headers)).get_json()
    assert run["state"] == "succeeded" and run["outcome"]["verified"] is True
    applied = f"{headers['Idempotency-Key']}:apply"
    assert [m[1:] for m in world.mutations()] == [("link_customer", (1, 100, applied))]
    assert world.customers[1].gitlab_user_id == 100
    (note,) = desk.zendesk.notes(TICKET)
    assert "Next: associate A-S00000001 with acme" in note


def test_link_account_needs_the_groups_that_may_unlink(client, app, world):
    refused = client.post("/api/v1/plans", json=LINK, headers=as_agent(app, OTHER_AGENT))
    assert refused.status_code == 403 and "License and Renewals" in refused.get_json()["error"]["message"]


@pytest.mark.parametrize("body, field", [
    ({**LINK, "inputs": {"customer": 1, "gitlab_user": "ada lovelace"}}, "gitlab_user"),
    ({**LINK, "inputs": {"gitlab_user": "ada"}}, "customer"),
    ({**ASSOCIATE, "workflow": "nope"}, "workflow"),
    ({**ASSOCIATE, "inputs": {"subscription": "A-S1 OR 1=1", "namespace": "acme"}}, "subscription"),
    ({**ASSOCIATE, "inputs": {"subscription": "A-S00000001", "namespace": "../etc"}}, "namespace"),
    ({**ASSOCIATE, "inputs": {"subscriptoin": "A-S00000001"}}, "subscriptoin"),
    ({**ASSOCIATE, "ticket_id": 0}, "ticket_id"),
    ({**ASSOCIATE, "ticket_id": 2**63}, "ticket_id"),
    ({**ASSOCIATE, "inputs": {"subscription": "A-S00000001"}}, "namespace"),
])
def test_malformed_plan_requests_are_400_naming_the_field(client, app, body, field):
    response = client.post("/api/v1/plans", json=body, headers=as_agent(app))
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


@pytest.mark.parametrize("data", [b"{not json", b"[]", b"null", b'"text"'])
def test_a_body_that_is_no_json_object_is_400(client, app, data):
    response = client.post("/api/v1/plans", data=data, headers=as_agent(app, **{"Content-Type": "application/json"}))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_input"


def test_a_run_is_recorded_executed_and_reported_back(client, app, world, desk):
    response = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key()))
    assert response.status_code == 202
    run = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/runs/{run['id']}")
    assert run["state"] == "succeeded" and run["outcome"]["changed"] is True
    assert [e["kind"] for e in run["events"]][:3] == ["queued", "changing", "succeeded"]
    assert run["events"][1]["detail"]["before"]["namespace_plan"] == "free"  # before the call
    assert [m[1] for m in world.mutations()] == ["link_subscription"]
    assert len(desk.zendesk.notes(TICKET)) == 1
    assert desk.ticket_updates(TICKET, "status") == ["pending"]
    # One ticket update carries the note, the tag and the status (postback.py).
    assert desk.ticket_updates(TICKET, "tags") == [["lnr_associate"]]
    fetched = client.get(f"/api/v1/runs/{run['id']}", headers=as_agent(app, OTHER_AGENT))
    assert fetched.status_code == 200 and fetched.get_json()["id"] == run["id"]


def test_the_same_key_returns_the_same_run_and_acts_once(client, app, world):
    headers = as_agent(app, **key())
    first = client.post("/api/v1/runs", json=READY, headers=headers)
    again = client.post("/api/v1/runs", json=READY, headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(world.mutations()) == 1 and count(app, Run) == 1


def test_the_same_key_with_another_body_is_422(client, app, world):
    headers = as_agent(app, **key())
    client.post("/api/v1/runs", json=READY, headers=headers)
    other = {**READY, "inputs": {"subscription": "A-S00000001", "namespace": "ada"}}
    response = client.post("/api/v1/runs", json=other, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert count(app, Run) == 1


@pytest.mark.parametrize("headers, status", [({}, 400), ({"Idempotency-Key": "short"}, 400),
                                             ({"Idempotency-Key": "x" * 201}, 400)])
def test_a_run_needs_a_well_formed_idempotency_key(client, app, world, headers, status):
    response = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **headers))
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == "Idempotency-Key"
    assert count(app, Run) == 0 and world.mutations() == []


@pytest.mark.parametrize("confirmation, status, code", [
    ({"decision": "blocked"}, 409, "plan_blocked"),
    ({"decision": "needs_override", "override_ids": ["seats_cover_usage"]}, 422, "reason_required"),
    ({"decision": "needs_override", "override_ids": ["seats_cover_usage"], "reason": "  "}, 422,
     "reason_required"),
])
def test_runs_that_execute_would_refuse_are_never_recorded(client, app, world, confirmation, status, code):
    body = {**ASSOCIATE, "confirmation": confirmation}
    response = client.post("/api/v1/runs", json=body, headers=as_agent(app, **key()))
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert count(app, Run) == 0 and world.mutations() == []


def test_diagnose_cannot_be_run(client, app):
    body = {**READY, "workflow": "diagnose"}
    response = client.post("/api/v1/runs", json=body, headers=as_agent(app, **key()))
    assert response.status_code == 400 and count(app, Run) == 0


def test_a_failed_run_escalates_once_and_notes_the_ticket(client, app, world, desk):
    world.failures["link_subscription"] = UpstreamError("portal", "Internal error", status=500,
                                                        code="internal", request_id="req-77")
    first = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key())).get_json()
    assert first["state"] == "escalated"
    (issue,) = desk.gitlab.issues
    assert first["escalation"]["issue_url"] == issue["web_url"]
    second = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key())).get_json()
    assert second["state"] == "escalated"
    assert len(desk.gitlab.issues) == 1 and len(desk.gitlab.notes[issue["iid"]]) == 1
    assert "req-77" in issue["description"]
    assert any(issue["web_url"] in note for note in desk.zendesk.notes(TICKET))


def test_the_worker_checks_the_policy_again(migrated_url, world, desk):
    from helpdesk_app.access.agents import Agent
    from helpdesk_app.engine import runs
    from helpdesk_app.web.api.bodies import run_request

    app = make_app(migrated_url, world, AGENT_CACHE_S="0")
    services = services_of(app)
    # Recorded while the agent was in the group; Zendesk now says otherwise (OTHER_AGENT).
    was = Agent(id=OTHER_AGENT, name="Was L&R", email=None, role="agent",
                group_names=frozenset({"License and Renewals"}))
    forced = run_request({**READY, "workflow": "force_associate"})
    run, _ = runs.create_run(services.db, forced, was, "key-policy-recheck")
    runs.perform_run(services, run.id)
    run = runs.load_run(services.db, run.id)
    assert run.state == "failed" and run.outcome["status"] == "refused"
    assert "License and Renewals" in run.outcome["message"]
    assert world.mutations() == []
    services.db.kw["bind"].dispose()


# The subscription is linked to acme-old, and the requester of ticket 2 owns nothing there:
# associating moves it and acme-old loses its plan, clear_subscription's effect.
MOVE = {**ASSOCIATE, "ticket_id": 2}
MOVE_CONFIRMED = {**MOVE, "confirmation": {"decision": "needs_override", "reason": "Owner confirmed by phone",
                                           "override_ids": ["subscription_not_linked_elsewhere"]}}


def linked_elsewhere(world):
    world.subscriptions["A-S00000001"] = dataclasses.replace(world.subscriptions["A-S00000001"], namespace_id=600)


def test_who_may_confirm_a_move_is_who_may_clear(client, app, world):
    linked_elsewhere(world)
    plan = client.post("/api/v1/plans", json=MOVE, headers=as_agent(app, OTHER_AGENT)).get_json()
    assert plan["decision"] == "needs_override"
    (who,) = plan["override_confirmers"]
    assert (who["check_id"], who["workflow"], who["allowed"]) == (
        "subscription_not_linked_elsewhere", "clear_subscription", False)
    assert "'License and Renewals'" in who["message"]
    allowed = client.post("/api/v1/plans", json=MOVE, headers=as_agent(app)).get_json()
    assert allowed["override_confirmers"][0]["allowed"] is True


def test_an_agent_who_may_associate_but_not_clear_cannot_confirm_the_move(client, app, world):
    linked_elsewhere(world)
    refused = client.post("/api/v1/runs", json=MOVE_CONFIRMED, headers=as_agent(app, OTHER_AGENT, **key()))
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "forbidden" and error["action"] == "clear_subscription"
    # In words: the group that may confirm, the check's label, never its id.
    assert ("only an agent who may run Clear subscription may confirm it: a member of the Zendesk "
            "group 'License and Renewals'") in error["message"]
    assert "“Subscription is not linked to another group”" in error["message"]
    assert "subscription_not_linked_elsewhere" not in error["message"]
    assert count(app, Run) == 0 and world.mutations() == []
    done = client.post("/api/v1/runs", json=MOVE_CONFIRMED, headers=as_agent(app, **key())).get_json()
    assert done["state"] == "succeeded" and [m[1] for m in world.mutations()] == ["link_subscription"]


def test_the_worker_checks_who_may_confirm_an_override_again(migrated_url, world, desk):
    from helpdesk_app.access.agents import Agent
    from helpdesk_app.engine import runs
    from helpdesk_app.web.api.bodies import run_request

    linked_elsewhere(world)
    app = make_app(migrated_url, world, AGENT_CACHE_S="0")
    services = services_of(app)
    # Recorded while the agent was in License and Renewals; Zendesk now says First Level only.
    was = Agent(id=OTHER_AGENT, name="Was L&R", email=None, role="agent",
                group_names=frozenset({"License and Renewals"}))
    run, _ = runs.create_run(services.db, run_request(MOVE_CONFIRMED), was, "key-override-recheck")
    runs.perform_run(services, run.id)
    run = runs.load_run(services.db, run.id)
    assert run.state == "failed" and run.outcome["status"] == "refused"
    assert "only an agent who may run Clear subscription may confirm it" in run.outcome["message"]
    assert "'License and Renewals'" in run.outcome["message"]
    assert world.mutations() == []
    services.db.kw["bind"].dispose()


def test_ticket_context_lists_runs_and_escalations(client, app, world):
    world.failures["link_subscription"] = UpstreamError("portal", "boom", status=500)
    client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key()))
    context = client.get(f"/api/v1/tickets/{TICKET}", headers=as_agent(app, OTHER_AGENT)).get_json()
    assert context["findings"] is None
    assert [r["state"] for r in context["runs"]] == ["escalated"]
    assert [e["state"] for e in context["escalations"]] == ["open"]
    unknown = client.get("/api/v1/tickets/424242", headers=as_agent(app))
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "ticket_not_found"


@pytest.mark.parametrize("path", ["/api/v1/runs/999", f"/api/v1/runs/{2**63}"])
def test_an_unknown_run_is_404(client, app, path):
    response = client.get(path, headers=as_agent(app))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "run_not_found"


def test_an_agent_escalates_by_hand(client, app, desk):
    body = {"ticket_id": TICKET, "summary": "Customer says `/close` @everyone\n/label ~x"}
    response = client.post("/api/v1/escalations", json=body, headers=as_agent(app, OTHER_AGENT))
    assert response.status_code == 201
    escalation = response.get_json()
    (issue,) = desk.gitlab.issues
    assert escalation["state"] == "open" and escalation["issue_url"] == issue["web_url"]
    (sent,) = desk.issue_requests()
    assert sent["confidential"] is True and sent["labels"] == ["Console Escalation - customers"]
    assert "/close" in issue["description"] and len(desk.zendesk.notes(TICKET)) == 1


@pytest.mark.parametrize("body", [{"ticket_id": TICKET}, {"ticket_id": TICKET, "summary": ""},
                                  {"ticket_id": TICKET, "summary": "x" * 5001},
                                  {"ticket_id": TICKET, "summary": "x", "workflow": "nope"},
                                  {"summary": "x"}])
def test_malformed_escalations_are_400_and_open_nothing(client, app, desk, body):
    response = client.post("/api/v1/escalations", json=body, headers=as_agent(app))
    assert response.status_code == 400 and desk.gitlab.issues == []


def test_the_audit_trail_is_for_admins(client, app):
    client.post("/api/v1/plans", json=ASSOCIATE, headers=as_agent(app))
    refused = client.get(f"/api/v1/audit?ticket_id={TICKET}", headers=as_agent(app))
    assert refused.status_code == 403
    response = client.get(f"/api/v1/audit?ticket_id={TICKET}", headers=as_agent(app, ADMIN))
    assert response.status_code == 200
    (record,) = response.get_json()["records"]
    assert record["kind"] == "plan" and record["agent"]["id"] == LNR_AGENT
    assert response.get_json()["chain_head"] == record["hash"]  # issue 16, item 8
    assert client.get("/api/v1/audit", headers=as_agent(app, ADMIN)).status_code == 400
