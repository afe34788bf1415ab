"""The sidebar and the agent page look at home in Zendesk (issue 20, item 8), in Chromium:
Zendesk Garden's type, colours, tags, buttons and focus ring as the browser computes them
(the tokens and their source: helpdesk_app/static/sidebar/sidebar.css); the agent page's
ticket view with the sidebar in a 320 px apps panel, and a favicon instead of a 404. Nothing
inline and nothing from another origin: the pages' CSP would refuse it, and the fixtures
fail a test on any console error or request elsewhere (browser_support.py).

The README's screenshots are made here: the sidebar at 320 x 600 px for a ready, a
needs-override and a blocked plan (docs/sidebar-*.png).
"""
from __future__ import annotations

import struct

import pytest
from playwright.sync_api import expect

from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    PANEL,
    PANEL_VIEWPORT,
    ROOT,
    browser,
    open_agent_page,
    open_ticket,
    service,
    show_plan,
    sidebar_frame,
)

GREY_800, BLUE_600, RED_600, YELLOW_700, KALE_700 = (
    "rgb(47, 57, 65)", "rgb(31, 115, 183)", "rgb(204, 51, 64)", "rgb(173, 89, 24)", "rgb(3, 54, 61)")
WHITE = "rgb(255, 255, 255)"
STYLE = """([selector, names]) => {
  const element = document.querySelector(selector);
  const style = getComputedStyle(element);
  return Object.fromEntries(names.map((name) => [name, style.getPropertyValue(name)]));
}"""
SCREENSHOTS = {  # file: (ticket, workflow, decision, inputs)
    "sidebar-ready.png": (101, "associate", "ready", {"subscription": "A-S00000001", "namespace": "acme"}),
    "sidebar-override.png": (104, "force_associate", "needs_override",
                             {"subscription": "A-S00000004", "namespace": "delta-university"}),
    "sidebar-blocked.png": (103, "associate", "blocked", {"subscription": "A-S00000003", "namespace": "cyan-data"}),
}
SCREENSHOT_MAX_BYTES = 200_000


def style(frame, selector: str, *names: str) -> dict[str, str]:
    return frame.evaluate(STYLE, [selector, list(names)])


def test_the_sidebar_has_garden_s_type_colours_tags_buttons_and_focus_ring(agent_page_panel):
    page = agent_page_panel
    app = open_ticket(page, 103)
    frame = sidebar_frame(page)
    show_plan(app, "associate", decision="blocked", subscription="A-S00000003", namespace="cyan-data")
    text = style(frame, "html", "font-size", "line-height", "color", "font-family")
    assert (text["font-size"], text["line-height"], text["color"]) == ("14px", "20px", GREY_800)
    assert text["font-family"].startswith("system-ui, -apple-system, BlinkMacSystemFont")
    tag = style(frame, '[data-verdict="block"] .lnr-tag', "background-color", "color", "border-radius",
                "font-size", "font-weight")
    assert tag == {"background-color": RED_600, "color": WHITE, "border-radius": "4px",
                   "font-size": "12px", "font-weight": "600"}
    # A secondary id is small, grey and monospace.
    secondary = style(frame, ".lnr-id", "font-size", "color", "font-family")
    assert secondary["font-size"] == "12px" and secondary["color"] == "rgb(104, 115, 125)"
    assert secondary["font-family"].startswith("SFMono-Regular")

    show_plan(app, "force_associate", decision="ready", subscription="A-S00000003", namespace="cyan-data")
    primary = style(frame, "#lnr-confirm", "background-color", "color", "height", "border-radius", "font-weight")
    assert primary == {"background-color": BLUE_600, "color": WHITE, "height": "40px",
                       "border-radius": "4px", "font-weight": "400"}
    default = style(frame, "#lnr-show-plan", "border-top-color", "color", "height", "background-color")
    assert default == {"border-top-color": BLUE_600, "color": BLUE_600, "height": "40px",
                       "background-color": "rgba(0, 0, 0, 0)"}

    # Garden's focus ring when the keyboard gets there: 3px of blue-600 over a 1px spacer.
    confirm = app.get_by_test_id("confirm-button")
    confirm.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    ring = style(frame, "#lnr-confirm", "box-shadow")["box-shadow"]
    assert ring == f"{WHITE} 0px 0px 0px 1px, {BLUE_600} 0px 0px 0px 3px", ring
    field = app.get_by_test_id("subscription-input")
    field.focus()
    assert style(frame, "#lnr-subscription", "border-top-color")["border-top-color"] == BLUE_600
    assert BLUE_600 in style(frame, "#lnr-subscription", "box-shadow")["box-shadow"]


def test_the_agent_page_shows_the_ticket_beside_a_320_px_apps_panel_and_has_a_favicon(agent_page_panel):
    page = agent_page_panel
    open_ticket(page, 104)
    size = page.locator("#sidebar-frame").evaluate(
        "(frame) => [frame.contentWindow.innerWidth, frame.contentWindow.innerHeight]")
    assert size == [PANEL["width"], PANEL["height"]]
    top = page.locator("header.top").evaluate("(e) => getComputedStyle(e).backgroundColor")
    body = page.locator("body").evaluate("(e) => [getComputedStyle(e).fontSize, getComputedStyle(e).lineHeight]")
    assert top == KALE_700 and body == ["14px", "20px"]
    href = page.locator('link[rel="icon"]').get_attribute("href")
    icon = page.request.get(href)
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")


@pytest.fixture
def agent_page_panel(browser, service):
    """The agent page at the size that makes its sidebar 320 x 600 px."""
    with open_agent_page(browser, service, viewport=PANEL_VIEWPORT) as (page, _watch):
        yield page


@pytest.mark.parametrize("name", sorted(SCREENSHOTS))
def test_the_readme_s_screenshots_show_the_sidebar_at_320_px(agent_page_panel, name):
    page = agent_page_panel
    ticket, workflow, decision, inputs = SCREENSHOTS[name]
    app = open_ticket(page, ticket)
    show_plan(app, workflow, decision=decision, exact=True, **inputs)
    expect(app.get_by_test_id("decision")).to_be_in_viewport(ratio=1)
    if decision != "ready":
        expect(app.get_by_test_id("deciding-checks")).to_be_in_viewport()
    control = {"ready": "confirm-button", "needs_override": "confirm-button", "blocked": "blocked-reason"}
    expect(app.get_by_test_id(control[decision])).to_be_in_viewport(ratio=1)
    if decision == "needs_override":
        app.get_by_test_id("reason-input").focus()  # where the agent goes next

    png = page.locator("#sidebar-frame").screenshot(animations="disabled", caret="hide")

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (PANEL["width"], PANEL["height"])
    assert len(png) < SCREENSHOT_MAX_BYTES, f"{len(png)} bytes"
    path = ROOT / "docs" / name
    if not path.is_file() or path.read_bytes() != png:
        path.write_bytes(png)
