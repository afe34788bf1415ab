"""The local agent page (/sandbox/, sandbox mode only): the demo's tickets, a ticket with
its notes, escalations and the sidebar, new tickets that triage notes, CSRF, and 404 in
upstream mode. Flask's test client; the webhook round trips run over a loopback server."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from helpdesk_app import create_app
from helpdesk_app.security.sidebar import verify_zendesk_app_jwt
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import Escalation
from sandbox import DEMO_SCENARIO
from tests.app.sandbox_app import csrf_token, sandbox_app, sandbox_of, served_sandbox_app, wait_for
from tests.app.test_settings import UPSTREAM_ENV
from workflows import notes

DEMO = json.loads(open(DEMO_SCENARIO, encoding="utf-8").read())
TOKEN = re.compile(r'<input type="hidden" name="token" value="([^"]+)">')
TICKET_ID = re.compile(r'<input type="hidden" name="ticket_id" value="(\d+)">')
SESSION_BLOCK = re.compile(r'<script type="application/json" id="lnr-session">(.*?)</script>', re.DOTALL)
ESCALATION_MARKER = "[lnr:escalation:101:associate:0123456789ab]"


@pytest.fixture
def app(tmp_path):
    with sandbox_app(tmp_path) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def page(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def post_note(app, ticket_id: int, body: str) -> None:
    """An internal note by the service's Zendesk account, as its adapter posts one."""
    services = app.extensions["helpdesk"]
    services.zendesk.add_internal_note(ticket_id, body, marker=body.rsplit(" ", 1)[-1])


def open_issue(app, ticket_id: int = 101) -> int:
    """An escalation issue in the sandbox's GitLab and its row, as postback.py files them."""
    issue = sandbox_of(app).state.create_issue(
        {"title": f"Console escalation: Associate subscription, Zendesk ticket {ticket_id}",
         "description": f"The run failed.\n\n{ESCALATION_MARKER}", "confidential": True},
        {"id": 990002, "username": "project_4_bot", "name": "Escalations project bot"})
    with app.extensions["helpdesk"].db() as session:
        session.add(Escalation(ticket_id=ticket_id, workflow="associate", state="open",
                               marker=ESCALATION_MARKER, gitlab_issue_iid=issue["iid"],
                               gitlab_issue_url=f"http://gitlab.test/-/issues/{issue['iid']}"))
        session.commit()
    return issue["iid"]


# --- the ticket list -----------------------------------------------------------------------

def test_the_list_shows_every_demo_ticket_with_its_demo_case(client):
    html = page(client.get("/sandbox/"))
    rows = re.findall(r'<tr id="ticket-row-(\d+)" data-testid="ticket-row"', html)
    assert [int(r) for r in rows] == [t["id"] for t in DEMO["zendesk"]["tickets"]]
    row_103 = html[html.index('id="ticket-row-103"'):html.index('id="ticket-row-104"')]
    assert "Cannot link subscription: more users than seats" in row_103
    assert "Cyd Chen" in row_103 and ">new<" in row_103
    # In words, the check's id after its label.
    assert ("Associate subscription: Blocked, by “Seats bought cover the seats in use” "
            "(seats_cover_usage)") in row_103
    assert "Force associate subscription: Ready to run" in row_103
    row_111 = html[html.index('id="ticket-row-111"'):html.index('id="ticket-row-112"')]
    assert "the portal keeps failing (transient): retried, then the run fails and escalates" in row_111
    assert 'data-testid="mode-banner" data-mode="sandbox"' in html


def test_pages_allow_no_inline_script_and_are_not_cached(client):
    response = client.get("/sandbox/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "frame-src 'self'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)
    script = client.get("/sandbox/static/agent/agent.js")
    assert script.status_code == 200 and script.headers["X-Content-Type-Options"] == "nosniff"


# --- a ticket -------------------------------------------------------------------------------

def test_a_ticket_shows_its_conversation_and_the_services_notes_escaped(app, client):
    post_note(app, 101, "Triage: <b>A-S00000001</b> & acme [lnr:test:1]")
    html = page(client.get("/sandbox/tickets/101"))
    assert 'id="ticket-101" class="ticket" data-testid="ticket-view"' in html
    (note,) = re.findall(r'data-testid="note">(.*?)</article>', html, re.DOTALL)
    assert "Triage: &lt;b&gt;A-S00000001&lt;/b&gt; &amp; acme [lnr:test:1]" in note
    (comment,) = re.findall(r'data-testid="comment">(.*?)</article>', html, re.DOTALL)
    assert "we bought GitLab Premium last week" in comment and "Ada Lovelace" in comment
    assert 'data-testid="ticket-status"><span class="status status-new">new<' in html


def test_an_unknown_ticket_is_a_404_page(client):
    response = client.get("/sandbox/tickets/999")
    assert response.status_code == 404 and "no such ticket" in response.get_data(as_text=True)


def test_the_live_part_changes_version_when_a_note_arrives(app, client):
    html = page(client.get("/sandbox/tickets/102"))
    version = re.search(r'data-version="([0-9a-f]+)"', html).group(1)
    assert client.get("/sandbox/tickets/102/live").headers["X-Live-Version"] == version
    post_note(app, 102, "A new finding [lnr:test:2]")
    live = client.get("/sandbox/tickets/102/live")
    assert live.headers["X-Live-Version"] != version
    assert "A new finding" in live.get_data(as_text=True)


def test_the_ticket_lists_its_escalation_issues_with_a_close_button(app, client):
    iid = open_issue(app)
    html = page(client.get("/sandbox/tickets/101"))
    assert f'id="issue-{iid}" class="issue" data-testid="escalation-issue"' in html
    assert f'id="close-issue-{iid}" data-testid="close-issue-button"' in html
    assert f'href="/sandbox/issues/{iid}"' in html
    assert 'data-testid="no-escalations"' in page(client.get("/sandbox/tickets/102"))
    issue_page = page(client.get(f"/sandbox/issues/{iid}"))
    assert 'data-testid="issue-view"' in issue_page and "The run failed." in issue_page


def test_an_issue_s_markdown_is_rendered_and_customer_html_stays_text(app, client):
    issue = sandbox_of(app).state.create_issue(
        {"title": "Console escalation", "confidential": True,
         "description": "### Request\n\n| field | value |\n|---|---|\n| run | 7 |\n\n"
                        "Customer wrote: <script>alert(1)</script> [click](javascript:alert(1))\n\n"
                        "```text\ninputs: {}\n```\n"},
        {"id": 990002, "username": "project_4_bot", "name": "Escalations project bot"})
    html = page(client.get(f"/sandbox/issues/{issue['iid']}"))
    assert "<h3>Request</h3>" in html and "<td>run</td>" in html
    assert '<pre><code class="language-text">inputs: {}' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert 'href="javascript:' not in html


def test_pages_name_a_favicon_that_is_served(client):
    html = page(client.get("/sandbox/"))
    (href,) = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    icon = client.get(href)
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data().startswith(b"<svg")


# --- the sidebar ----------------------------------------------------------------------------

def test_the_sidebar_form_signs_as_zendesk_for_the_demo_agent(app, client):
    html = page(client.get("/sandbox/tickets/105"))
    assert '<iframe id="sidebar-frame" name="sidebar-frame"' in html
    assert 'target="sidebar-frame"' in html
    token, ticket_id = TOKEN.search(html).group(1), TICKET_ID.search(html).group(1)
    settings = app.extensions["helpdesk"].settings
    claims = verify_zendesk_app_jwt(token, public_key_pem=settings.zendesk_app_public_key,
                                    subdomain=settings.zendesk_subdomain,
                                    installation_id=settings.zendesk_app_installation_id,
                                    now=datetime.now(timezone.utc))
    assert claims.user_id == 9000  # Alex Agent: the first agent of License and Renewals

    sidebar = client.post("/sidebar", data={"token": token, "ticket_id": ticket_id})
    session = json.loads(SESSION_BLOCK.search(page(sidebar)).group(1))
    assert session["agent"] == {"id": 9000, "name": "Alex Agent", "role": "agent"}
    assert session["ticket_id"] == 105 and session["token"]
    assert 'data-testid="mode"' in sidebar.get_data(as_text=True)
    context = client.get("/api/v1/tickets/105", headers={"Authorization": f"Bearer {session['token']}"})
    assert context.status_code == 200


def test_another_agent_can_be_chosen_but_not_a_customer(app, client):
    html = page(client.get("/sandbox/tickets/105?agent=9002"))
    assert '<option value="9002" selected>' in html
    sidebar = client.post("/sidebar", data={"token": TOKEN.search(html).group(1)})
    assert json.loads(SESSION_BLOCK.search(page(sidebar)).group(1))["agent"]["id"] == 9002
    assert client.get("/sandbox/tickets/105?agent=9101").status_code == 400
    assert client.get("/sandbox/tickets/105?agent=9999").status_code == 400  # the service itself


# --- forms and CSRF ---------------------------------------------------------------------------

def test_a_form_without_the_csrf_token_is_refused(app, client):
    iid = open_issue(app)
    csrf_token(client)  # the session has a token; the forms below do not send it
    ticket = {"subject": "Hi", "description": "Please help", "requester_id": "9101"}
    for data in (ticket, {**ticket, "csrf_token": "forged"}):
        assert client.post("/sandbox/tickets", data=data).status_code == 400
    assert client.post(f"/sandbox/issues/{iid}/close", data={}).status_code == 400
    assert len(sandbox_of(app).state.list_tickets()) == len(DEMO["zendesk"]["tickets"])
    assert sandbox_of(app).state.issue(iid)["state"] == "opened"


def test_another_browser_session_cannot_use_a_token(app):
    token = csrf_token(app.test_client())
    response = app.test_client().post("/sandbox/tickets", data={
        "subject": "Hi", "description": "x", "requester_id": "9101", "csrf_token": token})
    assert response.status_code == 400


def test_a_new_ticket_with_missing_fields_is_explained(client):
    response = client.post("/sandbox/tickets", data={
        "subject": " ", "description": "x", "requester_id": "9000", "csrf_token": csrf_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Subject: a subject of 1 to 200 characters" in html
    assert "Requester: one of the sandbox&#39;s customers" in html


def test_a_new_ticket_through_the_form_is_triaged(tmp_path):
    with served_sandbox_app(tmp_path) as app:
        client = app.test_client()
        response = client.post("/sandbox/tickets", data={
            "subject": "Subscription <not> showing",
            "description": "We bought A-S00000001 for https://gitlab.com/groups/acme",
            "requester_id": "9101", "csrf_token": csrf_token(client)})
        assert response.status_code == 303
        ticket_id = int(response.headers["Location"].rsplit("/", 1)[-1])
        (note,) = wait_for(lambda: sandbox_of(app).notes(ticket_id))
        assert f"[lnr:triage:{ticket_id}:" in note and notes.SANDBOX_LINE in note
        html = page(client.get(f"/sandbox/tickets/{ticket_id}"))
        assert "Subscription &lt;not&gt; showing" in html and 'data-testid="note"' in html


def test_closing_an_issue_as_engineer_comes_back_to_the_ticket(tmp_path):
    with served_sandbox_app(tmp_path) as app:
        client = app.test_client()
        iid = open_issue(app)
        response = client.post(f"/sandbox/issues/{iid}/close", data={"csrf_token": csrf_token(client)})
        assert response.status_code == 303 and response.headers["Location"] == "/sandbox/tickets/101"
        (note,) = wait_for(lambda: sandbox_of(app).notes(101))
        assert f"(GitLab issue #{iid}) was closed" in note and notes.SANDBOX_LINE in note
        # The ticket is reopened by the request after the note's.
        wait_for(lambda: sandbox_of(app).state.ticket(101)["status"] == "open")
        with app.extensions["helpdesk"].db() as session:
            assert session.scalar(select(Escalation.state)) == "closed"
        assert 'data-state="closed"' in page(client.get("/sandbox/tickets/101"))


# --- upstream mode ----------------------------------------------------------------------------

def test_there_is_no_agent_page_in_upstream_mode(tmp_path):
    app = create_app(Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}))
    for path in ("/sandbox/", "/sandbox/tickets/101", "/sandbox/issues/1"):
        assert app.test_client().get(path).status_code == 404
    assert app.test_client().post("/sandbox/tickets", data={}).status_code == 404


def test_the_demo_has_an_agent_restricted_to_their_groups_tickets(app, client):
    # Issue 16, item 2: Finn (First Level Support, ticket_restriction "groups") sees ticket
    # 105 (his group's) and is refused 107 (License and Renewals').
    html = page(client.get("/sandbox/tickets/105?agent=9002"))
    sidebar = client.post("/sidebar", data={"token": TOKEN.search(html).group(1), "ticket_id": "105"})
    bearer = {"Authorization": f"Bearer {json.loads(SESSION_BLOCK.search(page(sidebar)).group(1))['token']}"}
    assert client.get("/api/v1/tickets/105", headers=bearer).status_code == 200
    refused = client.get("/api/v1/tickets/107", headers=bearer)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "ticket_forbidden"


def test_only_the_agent_page_opens_flasks_session(app, client):
    from flask import session

    from helpdesk_app.app import SessionOnlyWhereUsed

    assert isinstance(app.session_interface, SessionOnlyWhereUsed)
    assert csrf_token(client)  # the agent page keeps its token in the signed cookie
    assert any(c.key == app.config["SESSION_COOKIE_NAME"] for c in client._cookies.values())
    for path in ("/webhooks/zendesk", "/api/v1/tickets/101", "/healthz"):
        with app.test_request_context(path):
            app.preprocess_request()
            assert app.session_interface.is_null_session(session)
    with app.test_request_context("/sandbox/"):
        assert not app.session_interface.is_null_session(session)
