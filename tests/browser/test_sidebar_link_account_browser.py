"""The sidebar in Chromium for issue 15's additions: link_account with its GitLab.com user
field, run to the end, and an override only another workflow's agents may confirm, shown
explained and with no confirm."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browser_support import (  # noqa: F401 (fixtures)
    RUN_MS,
    agent_page,
    browser,
    check_rows,
    open_ticket,
    service,
    show_plan,
)

FIRST_LEVEL_AGENT = 9002  # demo.json: Finn, First Level Support only


def plan(app, workflow: str, decision: str, **values: str) -> None:
    show_plan(app, workflow, decision=decision, **values)  # whatever triage prefilled


def test_link_account_for_a_reseller_customer_runs_from_the_sidebar(agent_page, service):
    app = open_ticket(agent_page, 120)
    app.get_by_test_id("workflow-select").select_option("link_account")
    user = app.get_by_test_id("gitlab-user-input")
    expect(user).to_be_editable()  # shown for link_account only
    plan(app, "link_account", "ready", subscription="A-S00000020", namespace="papa-partners")
    assert sorted(c for c, _ in check_rows(app)) == [
        "customer_exists", "customer_link_free", "gitlab_user_exists", "gitlab_user_not_admin",
        "gitlab_user_owns_namespace", "requester_is_customer", "requester_is_gitlab_user"]
    app.get_by_test_id("confirm-button").click()
    expect(app.get_by_test_id("run-status")).to_have_attribute("data-state", "succeeded", timeout=RUN_MS)
    assert service.sandbox.state.customer(20)["gitlab_user_id"] == 120
    app.get_by_test_id("workflow-select").select_option("associate")
    expect(user).to_be_hidden()


def test_an_agent_who_may_not_clear_sees_why_the_move_cannot_be_confirmed(agent_page, service):
    app = open_ticket(agent_page, 105, FIRST_LEVEL_AGENT)
    plan(app, "associate", "needs_override", subscription="A-S00000005", namespace="echo-media")
    refused = app.get_by_test_id("override-confirmer")
    expect(refused).to_have_attribute("data-allowed", "false")
    expect(refused).to_contain_text("'License and Renewals'")
    expect(app.get_by_test_id("confirm-refused")).to_be_visible()
    expect(app.get_by_test_id("confirm-button")).to_have_count(0)
    assert service.runs(105) == []
