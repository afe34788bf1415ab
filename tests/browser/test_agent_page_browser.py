"""The demo's cases end to end in Chromium: the local agent page (/sandbox/) with the sidebar
in its iframe, against the service in sandbox mode over HTTP (tests/browser/browser_support.py).

Each test gets a new service and sandbox world (demo.json's `demo_cases`): 101 associate is
ready, 104 force associate needs an override, 103 associate is blocked, 111 associate is
ready but the portal fails the link, so the run fails and escalates. The screenshot of the
sidebar (docs/sidebar.png) is made here too.
"""
from __future__ import annotations

import re
import struct

import pytest
from playwright.sync_api import expect

from tests.app.sandbox_app import wait_for
from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    LIVE_MS,
    QUICK_RETRIES,
    ROOT,
    RUN_MS,
    VIEWPORT,
    agent_page,
    browser,
    check_rows,
    fill_plan_form,
    open_agent_page,
    open_ticket,
    serve,
    service,
    show_plan,
    sidebar,
    sidebar_frame,
)
from workflows.associate import CHECK_IDS

SCREENSHOT = ROOT / "docs" / "sidebar.png"
SCREENSHOT_MAX_BYTES = 300_000


def run_id_of(app) -> str:
    """The id of the run the sidebar follows, once it shows one."""
    run = app.get_by_test_id("run")
    expect(run).to_have_attribute("data-run-id", re.compile(r"^\d+$"))
    return run.get_attribute("data-run-id")


def test_the_ticket_list_leads_to_the_ticket(agent_page):
    agent_page.goto("/sandbox/")
    expect(agent_page.get_by_test_id("mode-banner")).to_have_attribute("data-mode", "sandbox")
    row = agent_page.locator("#ticket-row-101")
    expect(row).to_contain_text("Associate subscription: ready")
    row.get_by_test_id("ticket-link").click()
    expect(agent_page).to_have_url(re.compile(r"/sandbox/tickets/101$"))
    expect(agent_page.locator("#ticket-101")).to_be_visible()
    expect(agent_page.get_by_test_id("conversation")).to_contain_text("Premium")
    expect(sidebar(agent_page).get_by_test_id("ticket-label")).to_have_text("Ticket #101")


def test_associate_ready_runs_notes_the_ticket_and_changes_the_plan(agent_page, service):
    before = service.namespace_plan("acme")
    expected_plan = service.plan_code("A-S00000001")
    assert before != expected_plan  # else the run could not show anything

    app = open_ticket(agent_page, 101)
    decision = show_plan(app, "associate", decision="ready", subscription="A-S00000001", namespace="acme")
    # The plan comes into view in the agent page's fixed-height frame, its heading focused.
    expect(app.locator("#lnr-plan-title")).to_be_focused()
    expect(decision).to_be_in_viewport(ratio=1)

    # Every check of the workflow is listed, as the service planned them (its audit record).
    rows = check_rows(app)
    assert [check_id for check_id, _ in rows] == list(CHECK_IDS)
    assert not {verdict for _, verdict in rows} & {"block", "override"}
    (planned,) = service.audit(101, kind="plan")
    assert [(c["id"], c["verdict"]) for c in planned.checks] == rows
    expect(app.get_by_test_id("reason-input")).to_have_count(0)

    app.get_by_test_id("confirm-button").click()
    run_id = run_id_of(app)
    expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "succeeded", timeout=RUN_MS)
    expect(app.get_by_test_id("result")).to_have_attribute("data-outcome", "succeeded")
    # Once the note is posted the run is over: focus on its result, its state in view.
    expect(app.get_by_test_id("note-status")).to_contain_text("Posted an internal note")
    expect(app.locator("#lnr-result-title")).to_be_focused()
    expect(app.get_by_test_id("run-status")).to_be_in_viewport(ratio=1)

    # The note reaches the ticket on the agent page (its live part refreshes every 3 s).
    note = agent_page.get_by_test_id("note-body").filter(has_text=f"[lnr:run:{run_id}:")
    expect(note).to_have_count(1, timeout=LIVE_MS)
    expect(note).to_contain_text("A-S00000001")
    # And the group's plan follows the subscription in the sandbox's GitLab.
    assert service.namespace_plan("acme") == expected_plan
    assert [r.state for r in service.runs(101)] == ["succeeded"]


def test_force_associate_needs_a_reason_which_the_audit_trail_keeps(agent_page, service):
    reason = "Education programme: the university's seat count is confirmed by its contract."
    app = open_ticket(agent_page, 104)
    show_plan(app, "force_associate", decision="needs_override",
              subscription="A-S00000004", namespace="delta-university")
    assert ("seats_cover_usage", "override") in check_rows(app)

    runs_posted = []
    agent_page.on("request",
                  lambda r: runs_posted.append(r.url) if r.url.endswith("/api/v1/runs") else None)
    confirm = app.get_by_test_id("confirm-button")
    confirm.click()
    # Refused in the page: the error is shown, focus is on the reason, nothing was sent.
    expect(app.get_by_test_id("reason-error")).to_be_visible()
    expect(app.get_by_test_id("reason-error")).to_contain_text("required")
    expect(app.get_by_test_id("reason-input")).to_be_focused()
    expect(app.get_by_test_id("reason-input")).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_test_id("run")).to_be_hidden()
    assert runs_posted == [] and service.runs(104) == []

    app.get_by_test_id("reason-input").fill(reason)
    confirm.click()
    run_id = run_id_of(app)
    expect(app.get_by_test_id("reason-error")).to_have_count(0)  # the form gave way to the run
    expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "succeeded", timeout=RUN_MS)
    assert len(runs_posted) == 1

    (run,) = service.runs(104)
    assert (str(run.id), run.override_reason, run.override_ids) == (run_id, reason, ["seats_cover_usage"])
    (record,) = wait_for(lambda: service.audit(104, kind="run"))
    assert record.override_reason == reason and record.outcome["run_id"] == run.id
    assert service.namespace_plan("delta-university") == service.plan_code("A-S00000004")
    expect(agent_page.get_by_test_id("note-body").filter(has_text=f"[lnr:run:{run_id}:")).to_have_count(
        1, timeout=LIVE_MS)


def test_a_blocked_plan_says_why_and_offers_no_confirmation(agent_page, service):
    app = open_ticket(agent_page, 103)
    show_plan(app, "associate", decision="blocked", subscription="A-S00000003", namespace="cyan-data")

    expect(app.get_by_test_id("blocked-reason")).to_be_visible()
    expect(app.get_by_test_id("blocked-reason")).to_contain_text("seats_cover_usage")
    assert ("seats_cover_usage", "block") in check_rows(app)
    expect(app.get_by_test_id("confirm-button")).to_have_count(0)
    expect(app.get_by_test_id("confirm-form")).to_have_count(0)

    # The same ticket's demo case for force associate is ready: the plan is redone, and
    # only now is there something to confirm.
    fill_plan_form(app, "force_associate")
    expect(app.get_by_test_id("plan-stale")).to_be_visible()
    app.get_by_test_id("show-plan-button").click()
    expect(app.get_by_test_id("decision")).to_have_attribute("data-decision", "ready")
    expect(app.get_by_test_id("blocked-reason")).to_have_count(0)
    expect(app.get_by_test_id("confirm-button")).to_be_enabled()
    assert service.runs(103) == []


@pytest.fixture
def quick_retries(tmp_path):
    with serve(tmp_path, **QUICK_RETRIES) as served:
        yield served


def test_a_failing_upstream_escalates_and_closing_the_issue_notes_the_ticket(browser, quick_retries):
    with open_agent_page(browser, quick_retries) as (agent_page, _watch):
        failing_upstream_escalates(agent_page, quick_retries)


def failing_upstream_escalates(agent_page, service) -> None:
    app = open_ticket(agent_page, 111)
    show_plan(app, "associate", decision="ready", subscription="A-S00000011", namespace="kilo-group")
    app.get_by_test_id("confirm-button").click()
    run_id = run_id_of(app)

    link = app.get_by_test_id("escalation-link")
    expect(link).to_be_visible(timeout=RUN_MS)
    expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "escalated", timeout=RUN_MS)
    expect(app.get_by_test_id("result")).to_have_attribute("data-outcome", "failed")
    (issue,) = service.sandbox.issues()
    iid = issue["iid"]
    gitlab = re.escape(service.sandbox.gitlab_url)
    expect(link).to_have_attribute(
        "href", re.compile(rf"^{gitlab}/support/escalations/-/issues/{iid}$"))
    expect(link).to_contain_text(f"#{iid}")
    assert issue["confidential"] and "A-S00000011" in issue["description"]
    assert service.namespace_plan("kilo-group") != service.plan_code("A-S00000011")
    (run,) = service.runs(111)
    assert (str(run.id), run.state, run.attempts) == (run_id, "escalated", 2)  # retried, then escalated

    # The agent page shows the issue (after a refresh of its live part), and its note.
    shown = agent_page.locator(f'[data-testid="escalation-issue"][data-iid="{iid}"]')
    expect(shown).to_have_attribute("data-state", "opened", timeout=LIVE_MS)
    expect(shown.get_by_test_id("issue-link")).to_have_attribute("href", f"/sandbox/issues/{iid}")
    expect(agent_page.get_by_test_id("note-body").filter(
        has_text=f"GitLab issue #{iid}")).to_have_count(1, timeout=LIVE_MS)

    # An engineer closes it: the Issue Hook comes back and the ticket gets the closed note.
    shown.get_by_test_id("close-issue-button").click()
    expect(agent_page).to_have_url(re.compile(r"/sandbox/tickets/111$"))
    reloaded = agent_page.locator(f'[data-testid="escalation-issue"][data-iid="{iid}"]')
    expect(reloaded).to_have_attribute("data-state", "closed")
    expect(reloaded.get_by_test_id("close-issue-button")).to_have_count(0)
    closed = agent_page.get_by_test_id("note-body").filter(has_text="[lnr:escalation-closed:")
    expect(closed).to_have_count(1, timeout=LIVE_MS)
    expect(closed).to_contain_text(f"GitLab issue #{iid}) was closed")
    assert service.sandbox.state.issue(iid)["state"] == "closed"


def test_the_sidebar_screenshot_shows_an_override_plan(agent_page):
    app = open_ticket(agent_page, 104)
    show_plan(app, "force_associate", decision="needs_override",
              subscription="A-S00000004", namespace="delta-university")
    # The agent page as wide as the tests' default, tall enough for the whole sidebar: its
    # frame is the viewport's height less 8rem (static/agent/agent.css).
    frame = sidebar_frame(agent_page)
    needed = frame.evaluate("() => document.scrollingElement.scrollHeight")
    agent_page.set_viewport_size({"width": VIEWPORT["width"], "height": needed + 128 + 16})
    element = agent_page.locator("#sidebar-frame")
    app.get_by_test_id("reason-input").focus()  # where the agent goes next
    heights = frame.evaluate(
        "() => [document.scrollingElement.scrollHeight, document.scrollingElement.clientHeight]")
    assert heights[0] <= heights[1], f"the sidebar still scrolls: {heights}"
    for shown in ("decision", "check", "reason-input", "confirm-button"):
        expect(app.get_by_test_id(shown).first).to_be_in_viewport(ratio=1)

    png = element.screenshot(animations="disabled", caret="hide")

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    box = element.bounding_box()
    assert abs(width - box["width"]) <= 1 and abs(height - box["height"]) <= 1, (width, height, box)
    assert width >= 320 and height >= needed
    assert len(png) < SCREENSHOT_MAX_BYTES, f"{len(png)} bytes"
    if not SCREENSHOT.is_file() or SCREENSHOT.read_bytes() != png:
        SCREENSHOT.write_bytes(png)
