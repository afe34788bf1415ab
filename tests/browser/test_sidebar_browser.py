"""The sidebar app in Chromium, for what only a browser shows: the keyboard alone completes
the plan form and the confirmation, buttons wait for requests in flight, the plan and the
run come into view, the app fits Zendesk's ~320 px panel, and in sandbox mode nothing is
fetched from another origin (tests/browser/browser_support.py aborts and records it)."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    RUN_MS,
    agent_page,
    browser,
    no_horizontal_scroll,
    open_agent_page,
    open_ticket,
    pump_until,
    service,
    show_plan,
    sidebar,
    sidebar_frame,
)

PLAN_DELAY_S = 2.0
NARROW_PX = 320


def active_id(frame) -> str:
    return frame.evaluate("() => document.activeElement && document.activeElement.id")


def test_the_keyboard_alone_plans_and_confirms_while_buttons_wait_for_requests(agent_page, service):
    # Ticket 112's A-S00000009 has ended: clearing it is ready (an active one needs an override).
    app = open_ticket(agent_page, 112)
    frame = sidebar_frame(agent_page)
    show_plan_button = app.get_by_test_id("show-plan-button")
    # The plan reads the subscription from the portal: slow that one request down.
    slow = service.sandbox.add_fault({"upstream": "portal", "method": "GET", "delay": PLAN_DELAY_S,
                                      "path": "^/api/v1/subscriptions/A-S00000009"})
    plans, runs = [], []
    agent_page.on("request", lambda r: (plans if r.url.endswith("/api/v1/plans") else
                                        runs if r.url.endswith("/api/v1/runs") else []).append(r.url))

    # From the top of the agent page, Tab reaches the sidebar's workflow choice (past the
    # plan triage suggested, if any).
    for _ in range(30):
        agent_page.keyboard.press("Tab")
        if active_id(frame) == "lnr-workflow":
            break
    assert active_id(frame) == "lnr-workflow", "Tab never reached the sidebar's workflow select"

    # Typing picks the workflow; Tab goes to the only field it takes; Enter submits.
    agent_page.keyboard.type("C")
    expect(app.get_by_test_id("workflow-select")).to_have_value("clear_subscription")
    expect(app.get_by_test_id("namespace-input")).to_be_hidden()
    agent_page.keyboard.press("Tab")
    expect(app.get_by_test_id("subscription-input")).to_be_focused()
    agent_page.keyboard.press("Control+A")  # over what triage prefilled
    agent_page.keyboard.type("A-S00000009")
    agent_page.keyboard.press("Enter")

    # While the plan is in flight the button is disabled and the app says it is busy;
    # Enter again submits nothing.
    expect(show_plan_button).to_be_disabled()
    expect(app.locator("#lnr-sidebar")).to_have_attribute("aria-busy", "true")
    agent_page.keyboard.press("Enter")
    decision = app.get_by_test_id("decision")
    expect(decision).to_have_attribute("data-decision", "ready", timeout=PLAN_DELAY_S * 1000 + 10_000)
    expect(show_plan_button).to_be_enabled()
    expect(app.locator("#lnr-sidebar")).to_have_attribute("aria-busy", "false")
    assert len(plans) == 1 and slow.hits == 1

    # Focus is on the plan, which is in view; Tab reaches its confirm button.
    expect(app.locator("#lnr-plan-title")).to_be_focused()
    expect(decision).to_be_in_viewport(ratio=1)
    confirm = app.get_by_test_id("confirm-button")
    for _ in range(3):
        agent_page.keyboard.press("Tab")
        if active_id(frame) == "lnr-confirm":
            break
    expect(confirm).to_be_focused()

    # The run's request is held by the test: meanwhile no button can be pressed again.
    held = []
    agent_page.route("**/api/v1/runs", lambda route: held.append(route))
    agent_page.keyboard.press("Enter")
    expect(confirm).to_be_disabled()
    expect(show_plan_button).to_be_disabled()
    pump_until(agent_page, lambda: held)
    agent_page.keyboard.press("Enter")  # on the disabled button: nothing
    assert len(held) == 1 and len(runs) == 1
    held[0].continue_()

    expect(app.get_by_test_id("confirmed")).to_be_visible()
    expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "succeeded", timeout=RUN_MS)
    expect(app.get_by_test_id("note-status")).to_contain_text("Posted an internal note")
    expect(app.locator("#lnr-result-title")).to_be_focused()
    expect(app.get_by_test_id("run-status")).to_be_in_viewport(ratio=1)
    expect(show_plan_button).to_be_enabled()
    assert len(runs) == 1 and [r.state for r in service.runs(112)] == ["succeeded"]
    assert service.sandbox.state.subscription("A-S00000009").get("namespace_id") is None


def test_the_sidebar_fits_a_320_px_panel(agent_page):
    app = open_ticket(agent_page, 104)
    agent_page.locator("#sidebar-frame").evaluate("(frame, px) => { frame.style.width = px + 'px'; }",
                                                  NARROW_PX)
    frame = sidebar_frame(agent_page)

    def assert_fits(when: str) -> None:
        widths = no_horizontal_scroll(frame)
        assert widths["innerWidth"] <= NARROW_PX, widths  # the frame did narrow
        assert widths["scrollWidth"] <= widths["clientWidth"], (when, widths)

    assert_fits("ready")
    show_plan(app, "force_associate", decision="needs_override",
              subscription="A-S00000004", namespace="delta-university")
    assert_fits("needs_override plan")
    app.get_by_test_id("confirm-button").click()
    expect(app.get_by_test_id("reason-error")).to_be_visible()
    assert_fits("reason refused")
    app.get_by_test_id("reason-input").fill("Education programme; seats agreed by contract " + "x" * 80)
    app.get_by_test_id("confirm-button").click()
    expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "succeeded", timeout=RUN_MS)
    expect(app.get_by_test_id("note-status")).to_contain_text("Posted")
    assert_fits("run result")


def test_in_sandbox_mode_the_sidebar_fetches_nothing_from_another_origin(browser, service):
    with open_agent_page(browser, service) as (page, watch):
        response = page.request.post("/sidebar", form={"token": "x"})
        assert "zdassets" not in response.headers["content-security-policy"]
        open_ticket(page, 101)
        expect(sidebar(page).get_by_test_id("mode")).to_be_visible()
        assert sidebar_frame(page).evaluate("() => typeof window.ZAFClient") == "undefined"
        assert watch.blocked == []
