"""The sidebar puts the decision first, in words (issue 20, items 1 to 4), on every demo case
of sandbox/scenarios/demo.json, in Chromium, in Zendesk's smallest apps panel (320 x 600):

- the decision and what to do, then the checks that decide, then the reason and the confirm
  button, then the passes folded under "N checks passed"; the decision, the case's deciding
  check and the confirm control (or what stands for it) lie inside the panel unscrolled by
  the agent;
- no check id or raw key reaches the agent's eyes except as a check's secondary id;
- a ticket triage never read is read when the sidebar opens, and the plan it recommends is
  already shown, one click from its run;
- workflows the agent may not run are shown disabled, with the group that may.
"""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    PANEL,
    PANEL_VIEWPORT,
    ROOT,
    RUN_MS,
    browser,
    check_rows,
    open_agent_page,
    open_ticket,
    serve,
    service,
    show_plan,
    sidebar_frame,
)
from workflows.labels import CHECK_LABELS, WORKFLOW_NAMES

DEMO = json.loads((ROOT / "sandbox" / "scenarios" / "demo.json").read_text())
CASES = DEMO["demo_cases"]
FIRST_LEVEL_AGENT = 9002  # demo.json: Finn, First Level Support only
DECIDING = ("block", "override", "warn", "info")
# A code as the service writes it: snake_case (check ids, workflow names, JSON keys).
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")

# Where each thing lies in the sidebar's viewport, and the visible text without the
# secondary ids (`.lnr-id`), every fold opened first.
MEASURE = """(check) => {
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height};
  };
  const q = (s) => document.querySelector(s);
  const deciding = check ? q(`[data-testid="deciding-checks"] [data-check-id="${check}"]`) : null;
  const control = q('[data-testid="confirm-button"]') || q('[data-testid="confirm-refused"]')
    || q('[data-testid="blocked-reason"]') || q('[data-testid="noop-message"]');
  return {decision: box(q('[data-testid="decision"]')), check: box(deciding), control: box(control),
          viewport: {width: innerWidth, height: innerHeight}};
}"""
VISIBLE_TEXT = """() => {
  for (const fold of document.querySelectorAll("details")) fold.open = true;
  const ids = [...document.querySelectorAll(".lnr-id")];
  for (const id of ids) id.style.display = "none";
  const text = document.body.innerText;
  for (const id of ids) id.style.display = "";
  return text;
}"""


def case_id(case: dict) -> str:
    return f"{case['ticket']}-{case['workflow']}-{case['decision']}"


def inputs_of(case: dict) -> dict[str, str]:
    return {name: str(value) for name, value in case["inputs"].items()}


def assert_no_raw_words(text: str, where: str) -> None:
    # Every code of more than one word is snake_case: check ids, workflow keys such as
    # force_associate, JSON keys such as namespace_id, error codes.
    raw = sorted(set(RAW_KEY.findall(text)))
    assert not raw, f"{where}: codes reach the agent's eyes: {raw}"


def assert_in_panel(box: dict | None, what: str, where: str) -> None:
    assert box is not None, f"{where}: no {what} shown"
    assert box["height"] > 0, f"{where}: {what} has no size"
    assert 0 <= box["top"] and box["bottom"] <= PANEL["height"], f"{where}: {what} at {box}"


@pytest.fixture
def unhurried(tmp_path):
    """The demo agent may plan every case in a minute (AGENT_REQUESTS_PER_MIN is 30)."""
    with serve(tmp_path, AGENT_REQUESTS_PER_MIN="1000") as served:
        yield served


def test_every_demo_decision_fits_the_panel_decision_first_in_words(browser, unhurried):
    with open_agent_page(browser, unhurried, viewport=PANEL_VIEWPORT) as (page, _watch):
        frame = None
        for case in CASES:
            where = case_id(case)
            app = open_ticket(page, case["ticket"])
            frame = sidebar_frame(page)
            if app.get_by_test_id("plan").get_attribute("data-suggested") == "true":  # shown on opening
                opened = frame.evaluate(MEASURE, None)
                assert_in_panel(opened["decision"], "decision on opening", where)
                assert_in_panel(opened["control"], "confirm control on opening", where)
            show_plan(app, case["workflow"], decision=case["decision"], exact=True, **inputs_of(case))
            shown = frame.evaluate(MEASURE, case.get("check"))
            assert shown["viewport"] == PANEL, shown["viewport"]  # the panel is 320 x 600
            assert_in_panel(shown["decision"], "decision", where)
            if case.get("check"):
                assert_in_panel(shown["check"], f"deciding check {case['check']}", where)
            assert_in_panel(shown["control"], "confirm control", where)

            # The order: those that decide (block, override, warn, info), then the rest.
            rows = check_rows(app)
            verdicts = [verdict for _, verdict in rows]
            deciding = [v for v in verdicts if v in DECIDING]
            assert verdicts[:len(deciding)] == sorted(deciding, key=DECIDING.index), (where, rows)
            passed = verdicts.count("pass")
            if passed:
                fold = app.get_by_test_id("passed-checks")
                expect(fold).not_to_have_attribute("open", "")
                expect(fold.locator("summary")).to_contain_text(
                    f"{passed} check{'s' if passed > 1 else ''} passed")
            # Each check by its label, its id beside it as secondary text.
            for check_id, _ in rows:
                row = app.get_by_test_id("plan").locator(f'[data-check-id="{check_id}"]')
                expect(row.locator(".lnr-check-label")).to_have_text(CHECK_LABELS[check_id])
                expect(row.get_by_test_id("check-id")).to_have_text(check_id)
            assert_no_raw_words(frame.evaluate(VISIBLE_TEXT), where)


def test_a_ticket_never_triaged_is_read_and_its_recommended_plan_shown_on_opening(browser, service):
    before = service.sandbox.state.snapshot()["zendesk"]["tickets"]
    findings_posts = []
    with open_agent_page(browser, service, viewport=PANEL_VIEWPORT) as (page, _watch):
        page.on("request", lambda r: findings_posts.append(r.method) if r.url.endswith("/findings") else None)
        app = open_ticket(page, 101)
        # No click yet: the findings are read and the plan triage recommends is on screen.
        expect(app.get_by_test_id("triage-named")).to_contain_text("A-S00000001")
        expect(app.get_by_test_id("plan")).to_have_attribute("data-suggested", "true")
        expect(app.get_by_test_id("triage-recommended")).to_have_text(
            "Suggests: Associate subscription, planned below")
        expect(app.get_by_test_id("decision")).to_have_attribute("data-decision", "ready")
        expect(app.get_by_test_id("workflow-select")).to_have_value("associate")
        assert findings_posts == ["POST"]
        shown = sidebar_frame(page).evaluate(MEASURE, None)
        assert_in_panel(shown["decision"], "decision", "101 on opening")
        assert_in_panel(shown["control"], "confirm control", "101 on opening")
        # Reading it wrote nothing to the ticket: no note, no tag.
        after = service.sandbox.state.snapshot()["zendesk"]["tickets"]
        assert [(t["id"], t["tags"], len(t["comments"])) for t in after] == [
            (t["id"], t["tags"], len(t["comments"])) for t in before]

        # One click from its run.
        app.get_by_test_id("confirm-button").click()
        expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "succeeded", timeout=RUN_MS)
        assert service.namespace_plan("acme") == service.plan_code("A-S00000001")

        # Opened again, the stored findings serve: the ticket is not read twice.
        open_ticket(page, 101)
        assert findings_posts == ["POST"]


def test_workflows_the_agent_may_not_run_are_disabled_with_the_group_that_may(browser, service):
    with open_agent_page(browser, service) as (page, _watch):
        app = open_ticket(page, 105, FIRST_LEVEL_AGENT)
        select = app.get_by_test_id("workflow-select")
        states = select.locator("option").evaluate_all(
            "(options) => options.map((o) => [o.value, o.disabled, o.textContent])")
        refused = {value: text for value, disabled, text in states if disabled}
        assert refused, states  # Finn may not run some of them
        assert "associate" not in refused
        for value, text in refused.items():
            assert text.startswith(WORKFLOW_NAMES[value]) and "License and Renewals" in text, (value, text)
        hint = app.get_by_test_id("workflow-hint")
        expect(hint).to_be_visible()
        expect(hint).to_contain_text("License and Renewals")
        assert select.input_value() not in refused
        assert_no_raw_words(sidebar_frame(page).evaluate(VISIBLE_TEXT), "Finn on 105")
