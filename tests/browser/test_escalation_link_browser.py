"""An escalation link opens the issue (issue 20, item 5), in Chromium on the demo: ticket
111's run fails (the portal answers 500) and escalates; the ticket's note links the issue,
and following that link in the agent's browser, with no API token, opens a readable page:
the issue's Markdown rendered (headings, the checks' table), no JSON, no 401.

The run is started through the API (the sidebar's own browser tests drive its form); the
rest is the browser's (tests/browser/browser_support.py).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sandbox import mode
from tests.app.sandbox_app import wait_for
from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    LIVE_MS,
    QUICK_RETRIES,
    browser,
    open_agent_page,
    serve,
)
from tests.sidebar_auth import session_header

ALEX = 9000
RUN_111 = {"workflow": "associate", "ticket_id": 111, "confirmation": {"decision": "ready"},
           "inputs": {"subscription": "A-S00000011", "namespace": "kilo-group"}}


@pytest.fixture
def service(tmp_path):
    with serve(tmp_path, **QUICK_RETRIES) as served:
        yield served


def escalated_run(service) -> dict:
    client = service.app.test_client()
    headers = {**session_header(service.app, ALEX, installation_id=mode.INSTALLATION_ID),
               "Idempotency-Key": "escalation-link-0001"}
    started = client.post("/api/v1/runs", json=RUN_111, headers=headers)
    assert started.status_code == 202, started.get_data(as_text=True)
    path = f"/api/v1/runs/{started.get_json()['id']}"

    def reported():
        run = client.get(path, headers=headers).get_json()
        return run if run["reported_at"] and run["escalation"] else None

    return wait_for(reported, timeout_s=60)


def test_the_notes_escalation_link_opens_a_readable_issue_page(browser, service):
    run = escalated_run(service)
    iid, url = run["escalation"]["issue_iid"], run["escalation"]["url"]
    assert url == f"{service.url}/sandbox/issues/{iid}"
    with open_agent_page(browser, service) as (page, _watch):
        page.goto("/sandbox/tickets/111")
        note = page.get_by_test_id("note-body").filter(has_text=f"GitLab issue #{iid}")
        expect(note).to_have_count(1, timeout=LIVE_MS)
        link = note.get_by_test_id("note-link")
        expect(link).to_have_attribute("href", url)
        with page.expect_navigation() as navigation:
            link.click()
        response = navigation.value
        assert response is not None and response.status == 200
        assert response.headers["content-type"].startswith("text/html")
        expect(page).to_have_url(re.compile(rf"/sandbox/issues/{iid}$"))
        description = page.get_by_test_id("issue-description")
        expect(description.locator("h3", has_text="Checks (decision: Ready to run)")).to_be_visible()
        expect(description.locator("table")).to_be_visible()
        expect(description.locator("td", has_text="Seats bought cover the seats in use")).to_be_visible()
        expect(description).not_to_contain_text("###")
        expect(page.locator("body")).not_to_contain_text("unauthorized")
