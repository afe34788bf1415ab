"""Headless Chromium against the service in sandbox mode, for the browser tests.

Not a test module, and no conftest: test modules import the fixtures they use
(`from tests.browser.browser_support import browser, service, agent_page  # noqa: F401`).

- `browser` (per module): Debian's Chromium (/usr/bin/chromium) through Playwright. Skipped
  when it is missing, unless REQUIRE_SERVICES=1 (CI), when the test fails instead.
- `service` (per test): create_app in sandbox mode with its own SQLite file, served over a
  real loopback HTTP server whose URL is SANDBOX_SERVICE_URL, so the sandbox's webhooks
  (Issue Hook, ticket.created) reach it (tests/app/sandbox_app.py). It starts in a fraction
  of a second, so every test gets a new world.
- `agent_page` (per test; `open_agent_page` for a service of the test's own): a fresh browser
  context on that service. Every request to another origin is aborted and recorded, as are
  uncaught script errors and console errors; any of them fails the test when the page closes.

Timing claims are Playwright's auto-waiting `expect` assertions, never sleeps.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select

from helpdesk_app.storage.models import AuditRecord, Run
from tests.app.sandbox_app import served_sandbox_app

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox"]
# The agent page with its 320 px sidebar beside the ticket, as an agent sees it.
VIEWPORT = {"width": 1280, "height": 900}
# The sidebar's frame is the viewport's height less 8rem (static/agent/agent.css): a viewport
# of this size makes it Zendesk's apps panel at its smallest, 320 x 600 px.
PANEL = {"width": 320, "height": 600}
PANEL_VIEWPORT = {"width": 1280, "height": PANEL["height"] + 128}
ROOT = Path(__file__).resolve().parents[2]

# How long the page may take for what goes through the service and the sandbox. The agent
# page refreshes its live part every 3 s (static/agent/agent.js), so what shows there can
# take a refresh or two after it happened.
UI_MS = 10_000
RUN_MS = 30_000
LIVE_MS = 20_000


def require_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(reason + " (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# --- the service --------------------------------------------------------------------------

@dataclass
class Service:
    """The served app and what tests read of it: its URL, the sandbox, the database."""

    app: Any

    @property
    def url(self) -> str:
        return self.app.extensions["sandbox"].service_url

    @property
    def sandbox(self):
        return self.app.extensions["sandbox"].sandbox

    @property
    def services(self):
        return self.app.extensions["helpdesk"]

    def runs(self, ticket_id: int) -> list[Run]:
        with self.services.db() as session:
            return list(session.scalars(select(Run).where(Run.ticket_id == ticket_id).order_by(Run.id)))

    def audit(self, ticket_id: int, kind: str | None = None) -> list[AuditRecord]:
        query = select(AuditRecord).where(AuditRecord.ticket_id == ticket_id).order_by(AuditRecord.id)
        if kind is not None:
            query = query.where(AuditRecord.kind == kind)
        with self.services.db() as session:
            return list(session.scalars(query))

    def namespace_plan(self, full_path: str) -> str | None:
        return self.sandbox.state.namespace(full_path).get("plan")

    def plan_code(self, subscription: str) -> str:
        return self.sandbox.state.subscription(subscription)["plan_code"]


# A failing upstream is retried (per request, then per run attempt with a backoff the
# sweeper honours) before the run fails and escalates: seconds apart by default, which a
# test waiting for the escalation need not sit through. The same path, quicker.
QUICK_RETRIES = {"UPSTREAM_MAX_ATTEMPTS": "2", "UPSTREAM_BACKOFF_BASE_S": "0.05",
                 "UPSTREAM_BACKOFF_CAP_S": "0.05", "RUN_MAX_ATTEMPTS": "2",
                 "RUN_RETRY_BASE_S": "0.2", "RUN_RETRY_CAP_S": "0.2", "SWEEP_EVERY_S": "0.5"}


@contextlib.contextmanager
def serve(tmp_path, **env: str) -> Iterator[Service]:
    """The service in sandbox mode over HTTP, with these settings on top of the sandbox's."""
    with served_sandbox_app(tmp_path, **env) as app:
        yield Service(app)


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    with serve(tmp_path) as served:
        yield served


# --- the browser's side -------------------------------------------------------------------

@dataclass
class Watch:
    """What a page did that no test should see: other origins, script errors."""

    origin: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def page_error(self, error) -> None:
        self.errors.append(f"uncaught: {error}")


@contextlib.contextmanager
def open_agent_page(browser, service: Service, *, viewport: dict[str, int] = VIEWPORT):
    """A new context (its own cookies) and page on `service`; yields (page, watch)."""
    watch = Watch(service.url)
    context = browser.new_context(viewport=viewport, base_url=service.url)
    try:
        context.route("**/*", watch.route)
        page = context.new_page()
        page.on("console", watch.console)
        page.on("pageerror", watch.page_error)
        yield page, watch
    finally:
        context.close()  # before the server stops: agent.js polls it every 3 s
    assert not watch.blocked, f"the page asked for other origins: {watch.blocked}"
    assert not watch.errors, f"the page reported errors: {watch.errors}"


@pytest.fixture
def agent_page(browser, service):
    with open_agent_page(browser, service) as (page, _watch):
        yield page


# --- the sidebar, inside the agent page -------------------------------------------------------

def sidebar(page):
    """The sidebar app inside the agent page's iframe (a FrameLocator)."""
    return page.frame_locator("#sidebar-frame")


def sidebar_frame(page):
    """The iframe's Frame, to evaluate script in the sidebar's document."""
    frame = page.frame(name="sidebar-frame")
    assert frame is not None, "the agent page has no sidebar frame"
    return frame


def open_ticket(page, ticket_id: int, agent_id: int | None = None):
    """Open the ticket on the agent page (as `agent_id`, else the demo agent) and wait until
    the sidebar is ready: its context loaded, the ticket read if triage had not, and the
    plan triage recommends shown when it recommends one."""
    from playwright.sync_api import expect

    page.goto(f"/sandbox/tickets/{ticket_id}" + (f"?agent={agent_id}" if agent_id else ""))
    expect(page.locator(f"#ticket-{ticket_id}")).to_be_visible()
    app = sidebar(page)
    expect(app.get_by_test_id("ticket-label")).to_have_text(f"Ticket #{ticket_id}")
    expect(app.locator("#lnr-sidebar")).to_have_attribute("data-ready", "true")
    expect(app.get_by_test_id("show-plan-button")).to_be_enabled()
    return app


FIELDS = ("subscription", "namespace", "customer", "gitlab_user")


def fill_plan_form(app, workflow: str, *, exact: bool = False, **values: str) -> None:
    """Choose the workflow and give each input its value (whatever triage prefilled);
    `exact`: the inputs not given are emptied, as for a demo case's inputs."""
    from playwright.sync_api import expect

    app.get_by_test_id("workflow-select").select_option(workflow)
    if exact:
        values = {name: values.get(name, "") for name in FIELDS}
    for name, value in values.items():
        field_input = app.get_by_test_id(f"{name.replace('_', '-')}-input")
        if exact and not value and not field_input.is_editable():
            continue  # not an input of this workflow
        expect(field_input).to_be_editable()
        if field_input.input_value() != value:
            field_input.fill(value)


def show_plan(app, workflow: str, *, decision: str, exact: bool = False, **values: str):
    """Fill the form, press Show plan, and wait for the plan's decision; the decision."""
    from playwright.sync_api import expect

    fill_plan_form(app, workflow, exact=exact, **values)
    app.get_by_test_id("show-plan-button").click()
    # The click marks the app busy at once; a plan shown on opening is replaced after it.
    expect(app.locator("#lnr-sidebar")).to_have_attribute("aria-busy", "false")
    shown = app.get_by_test_id("decision")
    expect(shown).to_have_attribute("data-decision", decision)
    return shown


def check_rows(app) -> list[tuple[str, str]]:
    """The plan's checks as the sidebar lists them, those that decide first, then those
    folded under "N checks passed": (check id, verdict), in order."""
    rows = app.get_by_test_id("plan").get_by_test_id("check")
    return [(row.get_attribute("data-check-id"), row.get_attribute("data-verdict"))
            for row in rows.all()]


DECIDING = ("block", "override", "warn", "info")


def shown_order(checks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A plan's (check id, verdict) pairs, in its order, as the sidebar lists them: those that
    decide by verdict (block, override, warn, info), then the others, in the plan's order."""
    deciding = sorted((c for c in checks if c[1] in DECIDING), key=lambda c: DECIDING.index(c[1]))
    return deciding + [c for c in checks if c[1] not in DECIDING]


def no_horizontal_scroll(frame) -> dict[str, int]:
    """The sidebar document's widths; the caller asserts scrollWidth <= clientWidth."""
    return frame.evaluate("""() => {
        const root = document.scrollingElement;
        return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
                innerWidth: window.innerWidth};
    }""")


def pump_until(page, condition: Callable[[], Any], timeout_ms: int = UI_MS) -> Any:
    """Let Playwright deliver its events (route handlers run on this thread) until
    `condition()` holds; for state held in Python, not for timing claims."""
    waited = 0
    while not (value := condition()):
        if waited >= timeout_ms:
            raise AssertionError(f"not within {timeout_ms} ms")
        page.wait_for_timeout(50)
        waited += 50
    return value
