"""Issue 16, items 2 and 5: Zendesk's own ticket access, nothing for a ticket that is not
there, and an escalation audited with its issue. Over the app and Zendesk edge of test_api_v1.py; agents and tickets are
Zendesk's documented Show User / Show Ticket payloads with the fields that decide."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk_app.access.agents import Agent
from helpdesk_app.access.tickets import may_see
from helpdesk_app.storage.models import AuditRecord, Escalation, Run
from helpdesk_app.web import services_of
from tests.api.test_api_v1 import (  # noqa: F401
    ASSOCIATE,
    READY,
    TICKET,
    app,
    as_agent,
    client,
    count,
    desk,
    key,
    make_app,
)
from tests.sidebar_auth import FIRST_LEVEL, LICENSE_AND_RENEWALS, mock_agent

GROUPS_ONLY = 9050  # First Level Support, ticket_restriction "groups"
MINE, OTHERS = 1, 2  # tickets of First Level Support (3432) and of another group


@pytest.fixture
def restricted(desk):
    mock_agent(desk.http, GROUPS_ONLY, groups=(FIRST_LEVEL,), ticket_restriction="groups")
    desk.zendesk.serve_ticket(MINE, group_id=FIRST_LEVEL[1])
    desk.zendesk.serve_ticket(OTHERS, group_id=LICENSE_AND_RENEWALS[1])
    return desk


def test_an_agent_restricted_to_groups_sees_their_groups_tickets_only(client, app, restricted, world):
    headers = as_agent(app, GROUPS_ONLY, **key())
    assert client.get(f"/api/v1/tickets/{MINE}", headers=headers).status_code == 200
    calls = [
        client.get(f"/api/v1/tickets/{OTHERS}", headers=headers),
        client.post("/api/v1/plans", json={**ASSOCIATE, "ticket_id": OTHERS}, headers=headers),
        client.post("/api/v1/runs", json={**READY, "ticket_id": OTHERS}, headers=headers),
        client.post("/api/v1/escalations", json={"ticket_id": OTHERS, "summary": "x"}, headers=headers),
    ]
    for response in calls:
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["error"]["code"] == "ticket_forbidden"
    assert count(app, Run) == 0 and count(app, Escalation) == 0 and world.mutations() == []
    assert restricted.issue_requests() == []


def test_a_run_is_read_through_its_ticket(client, app, restricted):
    started = client.post("/api/v1/runs", json={**READY, "ticket_id": OTHERS}, headers=as_agent(app, **key()))
    assert started.status_code == 202
    run_url = f"/api/v1/runs/{started.get_json()['id']}"
    assert client.get(run_url, headers=as_agent(app)).status_code == 200
    refused = client.get(run_url, headers=as_agent(app, GROUPS_ONLY))
    assert refused.status_code == 403 and "customer" not in refused.get_data(as_text=True)


def test_a_run_or_escalation_for_a_ticket_zendesk_does_not_know_is_404(client, app, desk, world):
    headers = as_agent(app, **key())
    for path, body in (("/api/v1/runs", {**READY, "ticket_id": 77}),
                       ("/api/v1/escalations", {"ticket_id": 77, "summary": "help"}),
                       ("/api/v1/plans", {**ASSOCIATE, "ticket_id": 77})):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "ticket_not_found"
    assert count(app, Run) == 0 and count(app, Escalation) == 0
    assert world.mutations() == [] and desk.issue_requests() == []


def agent(restriction, **fields):
    return Agent(id=50, name="A", email=None, role="agent", ticket_restriction=restriction,
                 group_ids=frozenset({7}), organization_id=fields.get("org"))


@pytest.mark.parametrize("restriction, ticket, seen", [
    (None, {"group_id": 1}, True),
    ("groups", {"group_id": 7}, True), ("groups", {"group_id": 8}, False), ("groups", {"group_id": None}, False),
    ("assigned", {"assignee_id": 50}, True), ("assigned", {"assignee_id": 51}, False),
    ("requested", {"requester_id": 50}, True), ("requested", {"requester_id": 9}, False),
    ("organization", {"organization_id": 3}, False),
    ("a_rule_zendesk_adds_later", {"group_id": 7, "assignee_id": 50}, False),
])
def test_zendesk_ticket_restrictions(restriction, ticket, seen):
    assert may_see(agent(restriction), ticket) is seen


def test_organization_restriction_needs_the_agents_organization():
    assert may_see(agent("organization", org=3), {"organization_id": 3}) is True
    assert may_see(agent("organization"), {"organization_id": None}) is False


@pytest.fixture
def impatient_app(migrated_url, world):
    app = make_app(migrated_url, world, UPSTREAM_MAX_ATTEMPTS="1")
    yield app
    services_of(app).db.kw["bind"].dispose()


def test_an_escalation_is_audited_with_its_issue_and_a_retry_adds_no_comment(impatient_app, desk):
    app, client = impatient_app, impatient_app.test_client()
    body = {"ticket_id": TICKET, "summary": "The customer cannot see the plan"}
    desk.zendesk.note_failures.append((503, {"error": "ServiceUnavailable"}))
    failed = client.post("/api/v1/escalations", json=body, headers=as_agent(app))
    assert failed.status_code in (502, 503)  # the note failed; the issue was opened
    with services_of(app).db() as session:
        (record,) = session.scalars(select(AuditRecord).where(AuditRecord.kind == "escalation")).all()
        assert record.outcome["issue_iid"] == desk.gitlab.issues[0]["iid"]

    retried = client.post("/api/v1/escalations", json=body, headers=as_agent(app))
    assert retried.status_code == 201
    assert len(desk.issue_requests()) == 1 and desk.gitlab.notes == {}  # no second comment
    assert len(desk.zendesk.notes(TICKET)) == 1
    assert count(app, AuditRecord) == 1
