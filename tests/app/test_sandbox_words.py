"""Sandbox mode for issue 20: the demo's tickets triaged at start, its Zendesk's transaction
type field set by runs, its failing ticket (111) honest about waiting, and escalation links
that open a readable page with the issue's Markdown rendered.

The service and the sandbox in this process (sandbox.mode.sandboxed_app), its job threads
and sweeper running; the API through Flask's test client with a session as POST /sidebar
issues it.
"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from helpdesk_app.settings import ConfigError
from helpdesk_app.storage.models import TicketFindings
from sandbox import DEMO_SCENARIO, mode
from sandbox.agent_page import linkified, markdown_html
from tests.app.sandbox_app import sandbox_app, sandbox_env, sandbox_of, wait_for
from tests.sidebar_auth import session_header

DEMO = json.loads(open(DEMO_SCENARIO, encoding="utf-8").read())
ALEX = 9000  # the demo's License and Renewals agent
TRANSACTION_FIELD = 360001234


def as_alex(app) -> dict[str, str]:
    return session_header(app, ALEX, installation_id=mode.INSTALLATION_ID)


def key(n: int) -> dict[str, str]:
    return {"Idempotency-Key": f"sandbox-words-{n:04d}"}


def run_to_end(client, app, body: dict, n: int, until=lambda run: run["reported_at"]) -> dict:
    started = client.post("/api/v1/runs", json=body, headers={**as_alex(app), **key(n)})
    assert started.status_code == 202, started.get_data(as_text=True)
    path = f"/api/v1/runs/{started.get_json()['id']}"
    return wait_for(lambda: (lambda run: run if until(run) else None)(
        client.get(path, headers=as_alex(app)).get_json()), timeout_s=60)


# --- the demo's settings ------------------------------------------------------------------------

def test_the_demo_keeps_its_retries_short_unless_the_environment_says_otherwise(tmp_path):
    with sandbox_app(tmp_path) as app:
        settings = app.extensions["helpdesk"].settings
        assert (settings.run_max_attempts, settings.run_retry_base_s, settings.run_retry_cap_s) == (3, 3.0, 6.0)
        assert settings.zendesk_transaction_type_field_id == TRANSACTION_FIELD
    with sandbox_app(tmp_path / "again", RUN_MAX_ATTEMPTS="5") as app:
        assert app.extensions["helpdesk"].settings.run_max_attempts == 5


@pytest.mark.parametrize("name", ["NOT_A_SETTING", "SANDBOXED"])
def test_a_scenario_setting_the_service_does_not_have_is_refused(tmp_path, name):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({**DEMO, "service_settings": {name: "1"}}))
    with pytest.raises(ConfigError, match=f"service_settings.{name}: is not a setting"):
        mode.sandboxed_app(sandbox_env(tmp_path, SANDBOX_SCENARIO=str(scenario)))


# --- triaged at start ----------------------------------------------------------------------------

def test_the_demo_tickets_are_triaged_at_start_once_each(tmp_path):
    tickets = [t["id"] for t in DEMO["zendesk"]["tickets"]]
    with sandbox_app(tmp_path, SANDBOX_TRIAGE_AT_START="1") as app:
        services = app.extensions["helpdesk"]

        def triaged() -> list[int]:
            with services.db() as session:
                return sorted(session.scalars(select(TicketFindings.ticket_id)))

        wait_for(lambda: triaged() == tickets, timeout_s=60)
        for ticket_id in tickets:  # one triage note each, and its tag
            notes = sandbox_of(app).notes(ticket_id)
            assert sum("[lnr:triage:" in n for n in notes) == 1, ticket_id
        context = app.test_client().get("/api/v1/tickets/101", headers=as_alex(app)).get_json()
        assert context["findings"]["recommendation"] == {
            "workflow": "associate", "inputs": {"subscription": "A-S00000001", "namespace": "acme"}}


# --- a run sets the transaction type ---------------------------------------------------------------

def test_a_run_sets_the_demos_transaction_type_and_the_ticket_shows_it(tmp_path):
    with sandbox_app(tmp_path) as app:
        client = app.test_client()
        body = {"workflow": "associate", "ticket_id": 101, "confirmation": {"decision": "ready"},
                "inputs": {"subscription": "A-S00000001", "namespace": "acme"}}
        run = run_to_end(client, app, body, 1)
        assert run["state"] == "succeeded"
        ticket = sandbox_of(app).state.ticket(101)
        assert {"id": TRANSACTION_FIELD, "value": "associate_namespace"} in ticket["custom_fields"]
        html = client.get("/sandbox/tickets/101/live").get_data(as_text=True)
        assert "Transaction type: Associate namespace" in html


# --- ticket 111: transient, waits shown, escalated, the link opens -----------------------------------

def test_ticket_111_retries_visibly_then_fails_as_transient_and_escalates(tmp_path):
    with sandbox_app(tmp_path) as app:
        client = app.test_client()
        body = {"workflow": "associate", "ticket_id": 111, "confirmation": {"decision": "ready"},
                "inputs": {"subscription": "A-S00000011", "namespace": "kilo-group"}}
        seen = []
        run = run_to_end(client, app, body, 2, until=lambda r: seen.append(r["waiting"]) or r["reported_at"])
        waits = [w for w in seen if w]
        assert waits and {(w["attempt"], w["of"]) for w in waits} <= {(2, 3), (3, 3)}
        assert all(w["longest_wait_left_s"] >= w["next_in_s"] for w in waits)
        assert run["state"] == "escalated" and run["attempts"] == 3 and run["waiting"] is None
        assert run["failure"]["kind"] == "transient"
        assert run["failure"]["message"] == ("The customers portal kept failing after 3 attempts "
                                             "(HTTP 500: The subscription service did not answer).")
        iid = run["escalation"]["issue_iid"]
        url = run["escalation"]["url"]
        assert url == f"{app.extensions['sandbox'].service_url}/sandbox/issues/{iid}"
        ticket = sandbox_of(app).state.ticket(111)
        assert "lnr_escalated" in ticket["tags"]
        (note,) = [n for n in sandbox_of(app).notes(111) if "[lnr:escalation-note:" in n]
        assert url in note and "What failed: The customers portal kept failing after 3 attempts" in note
        # The link opens without any token: the agent page's view, its Markdown rendered.
        page = client.get(url.removeprefix(app.extensions["sandbox"].service_url))
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert "<h3>Checks (decision: Ready to run)</h3>" in html and "<table>" in html
        assert "### " not in html


# --- the Markdown and the links, safely --------------------------------------------------------------

def test_issue_markdown_is_rendered_with_its_html_escaped():
    html = str(markdown_html("### Request\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n"
                             "| a | b |\n|---|---|\n| 1 | 2 |\n\n```text\n<b>kept</b>\n```"))
    assert "<h3>Request</h3>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # no link to it
    assert "&lt;b&gt;kept&lt;/b&gt;" in html


def test_a_notes_addresses_become_links_and_nothing_else_becomes_markup():
    html = str(linkified('See http://127.0.0.1:8000/sandbox/issues/3. <b>"x"</b>'))
    assert html == ('See <a href="http://127.0.0.1:8000/sandbox/issues/3" data-testid="note-link">'
                    'http://127.0.0.1:8000/sandbox/issues/3</a>. &lt;b&gt;&#34;x&#34;&lt;/b&gt;')
