"""A run in the sidebar, in Chromium (issue 20, items 2, 5 and 6): its timeline to the second
with human event names, before -> after in words, honest waiting while a failing upstream
is retried (the attempt, the next try and the longest wait left, counted down), a business
failure shown at once in its words, and an escalation link that opens the issue in a new
tab."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    QUICK_RETRIES,
    RUN_MS,
    browser,
    open_agent_page,
    open_ticket,
    serve,
    service,
    show_plan,
    sidebar_frame,
)
from tests.browser.test_sidebar_decision_browser import VISIBLE_TEXT, assert_no_raw_words

CLOCK = re.compile(r"^\d{1,2}:\d\d:\d\d")  # a moment to the second, in the agent's locale
WAITING = re.compile(r"attempt (\d+) of (\d+), next in (\d+) s\. At most (\d+) s more")
# Retries a person can watch: three attempts of the run, four seconds apart.
WATCHABLE_RETRIES = {**QUICK_RETRIES, "RUN_MAX_ATTEMPTS": "3", "RUN_RETRY_BASE_S": "4",
                     "RUN_RETRY_CAP_S": "4"}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def test_a_run_reads_as_a_timeline_to_the_second_and_before_after_in_words(browser, service):
    with open_agent_page(browser, service) as (page, _watch):
        app = open_ticket(page, 101)
        expect(app.get_by_test_id("decision")).to_have_attribute("data-decision", "ready")
        app.get_by_test_id("confirm-button").click()
        expect(app.get_by_test_id("note-status")).to_contain_text("Posted", timeout=RUN_MS)

        events = app.get_by_test_id("run-event")
        assert events.count() >= 2
        for event in events.all():
            expect(event.locator("time")).to_have_text(CLOCK)
        # Before -> after: the group by its path, plans by name; no keys, no ids.
        changes = app.get_by_test_id("before-after")
        expect(changes).to_be_visible()
        expect(changes).to_contain_text("acme")
        expect(changes).to_contain_text(re.compile("premium", re.I))
        result = app.get_by_test_id("result").inner_text()
        said = sentences(result)
        assert len(said) == len(set(said)), f"a phrase is repeated: {said}"
        assert_no_raw_words(sidebar_frame(page).evaluate(VISIBLE_TEXT), "101 run")


@pytest.fixture
def watchable(tmp_path):
    with serve(tmp_path, **WATCHABLE_RETRIES) as served:
        yield served


def test_retries_are_counted_down_then_the_escalation_opens_in_a_new_tab(browser, watchable):
    with open_agent_page(browser, watchable) as (page, _watch):
        app = open_ticket(page, 111)
        show_plan(app, "associate", decision="ready", subscription="A-S00000011", namespace="kilo-group")
        app.get_by_test_id("confirm-button").click()

        waiting = app.get_by_test_id("waiting")
        expect(waiting).to_have_text(WAITING, timeout=RUN_MS)
        first = waiting.inner_text()
        attempt, of, _next_in, _longest = map(int, WAITING.search(first).groups())
        assert 2 <= attempt <= of == 3
        expect(waiting).not_to_have_text(first)  # it counts down
        failure = app.get_by_test_id("failure")
        expect(failure).to_have_attribute("data-kind", "transient", timeout=RUN_MS)
        expect(waiting).to_be_hidden()
        # Said once: the headline holds what failed, the failure line only which kind it was.
        said = sentences(app.get_by_test_id("result").inner_text())
        assert len(said) == len(set(said)), f"a phrase is repeated: {said}"

        link = app.get_by_test_id("escalation-link")
        expect(link).to_be_visible(timeout=RUN_MS)
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        (issue,) = watchable.sandbox.issues()
        with page.context.expect_page() as opened:
            link.click()
        tab = opened.value
        tab.wait_for_load_state()
        assert tab.url == link.get_attribute("href")
        # A page a person reads (no token asked for): the issue, its Markdown rendered.
        expect(tab.get_by_test_id("issue-view")).to_contain_text(issue["title"])
        expect(tab.get_by_test_id("issue-description").locator("h3").first).to_be_visible()
        answer = page.context.request.get(tab.url)
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
        tab.close()


def test_a_business_failure_shows_at_once_in_its_words(browser, service):
    # The portal refuses the link as a business rule would: trying again cannot help.
    service.sandbox.add_fault({"upstream": "portal", "method": "PUT", "status": 409,
                               "path": "^/api/v1/subscriptions/A-S00000001/namespace$",
                               "body": {"error": {"code": "read_only",
                                                  "message": "The portal has locked this subscription."}}})
    with open_agent_page(browser, service) as (page, _watch):
        app = open_ticket(page, 101)
        expect(app.get_by_test_id("decision")).to_have_attribute("data-decision", "ready")
        app.get_by_test_id("confirm-button").click()
        failure = app.get_by_test_id("failure")
        expect(failure).to_have_attribute("data-kind", "business", timeout=RUN_MS)
        expect(failure).to_have_text("A refusal: trying again would not help.")
        expect(app.get_by_test_id("outcome")).to_contain_text("locked")  # the portal's words
        expect(app.get_by_test_id("waiting")).to_be_hidden()
        (run,) = service.runs(101)
        assert run.attempts == 1  # failed at once, not retried
