"""The check cases of test_checks.py again, planned through the real adapters.

provisioning-rules.md ("Conformance") asks that every (workflow, check id, verdict) case
plans through the real adapters. Here `PortalClient`, `GitLabAdapter` and `ZendeskAdapter`
talk HTTP to `tests.http_world`, which serves the same scenario as the in-memory fakes, so a
difference between the two runs is a difference in the adapters (or in the double).
"""
from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlsplit

import pytest
import responses

import workflows
from helpdesk_app.upstreams import trace
from tests.http_world import GITLAB_URL, PORTAL_URL, http_ports
from tests.scenario_edits import customer, namespace, sub
from tests.workflows.test_checks import CASES, case_id
from tests.world import FakeClock, World
from workflows import Confirmation, Decision, OutcomeStatus


@pytest.fixture
def mock():
    # Not every route is used by every case.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_check_verdict_and_decision_through_the_adapters(scenario, mock, case):
    workflow, check_id, verdict, decision, edits, inputs = case
    for edit in edits:
        edit(scenario)
    inputs = {k: v for k, v in inputs.items() if v is not None}

    plan = workflows.plan(workflow, http_ports(World(scenario), mock), inputs)

    assert plan.check(check_id).verdict == verdict, plan.check(check_id).message
    assert plan.decision == decision, [c.to_dict() for c in plan.checks]
    # Every other check agrees with the in-memory run too.
    fake = workflows.plan(workflow, World(scenario).ports, inputs)
    assert [(c.id, c.verdict) for c in plan.checks] == [(c.id, c.verdict) for c in fake.checks]
    assert plan.change == fake.change


def portal_mutations(mock) -> list:
    return [c.request for c in mock.calls
            if c.request.url.startswith(PORTAL_URL) and c.request.method != "GET"]


def gitlab_plans_read(mock, namespace_id: int) -> list[str]:
    """The `plan` of each GitLab answer for the namespace, in order."""
    return [json.loads(c.response.text)["plan"] for c in mock.calls
            if c.request.url == f"{GITLAB_URL}/api/v4/namespaces/{namespace_id}"]


def execute(world, mock, workflow, inputs, confirmation=Confirmation(decision=Decision.READY)):
    clock = FakeClock()
    with trace.capture() as ids:
        outcome = workflows.execute(workflow, http_ports(world, mock), inputs,
                                    confirmation=confirmation,
                                    idempotency_key="run-1:change", clock=clock, sleep=clock.sleep)
    return outcome, ids


def test_associate_executes_through_the_adapters(scenario, mock):
    world = World(scenario)

    outcome, ids = execute(world, mock, "associate",
                           {"subscription": "A-S00000001", "namespace": "acme", "ticket": 1})

    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.changed and outcome.verified
    (put,) = portal_mutations(mock)
    assert put.method == "PUT"
    assert urlsplit(put.url).path == "/api/v1/subscriptions/A-S00000001/namespace"
    assert put.headers["Idempotency-Key"] == "run-1:change"
    assert json.loads(put.body) == {"namespace_id": 500, "force": False}
    assert gitlab_plans_read(mock, 500)[-1] == "premium"  # verified on GitLab's side
    assert outcome.before["namespace_plan"] == "free"
    assert outcome.after["namespace_plan"] == "premium"
    assert outcome.after["subscription_namespace_id"] == 500
    # The portal's X-Request-Id of the change reached the run's trace (for the audit).
    change_id = next(c.response.headers["X-Request-Id"] for c in mock.calls if c.request is put)
    assert f"portal:{change_id}" in ids


def test_clear_subscription_executes_through_the_adapters(scenario, mock):
    sub("A-S00000001", namespace_id=500)(scenario)
    namespace(500, plan="premium")(scenario)
    world = World(scenario)

    # v2: clearing an active subscription is an override the agent confirms.
    confirmed = Confirmation(decision=Decision.NEEDS_OVERRIDE, override_ids=("subscription_lapsed",),
                             reason="The customer asked to clear it now")
    outcome, _ = execute(world, mock, "clear_subscription",
                         {"subscription": "A-S00000001", "ticket": 1}, confirmed)

    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.changed and outcome.verified
    (delete,) = portal_mutations(mock)
    assert delete.method == "DELETE"
    assert urlsplit(delete.url).path == "/api/v1/subscriptions/A-S00000001/namespace"
    assert delete.headers["Idempotency-Key"] == "run-1:change"
    plans = gitlab_plans_read(mock, 500)
    assert plans[0] == "premium" and plans[-1] == "free"
    assert outcome.after["namespace_plan"] == "free"


def test_a_plan_that_never_reached_the_group_is_repaired_through_the_adapters(scenario, mock):
    sub("A-S00000001", namespace_id=500)(scenario)  # linked in the portal; GitLab shows free
    world = World(scenario)

    outcome, _ = execute(world, mock, "associate",
                         {"subscription": "A-S00000001", "namespace": "acme", "ticket": 1})

    assert outcome.plan.check("already_linked_here").verdict == "warn"
    (put,) = portal_mutations(mock)
    assert put.method == "PUT" and json.loads(put.body) == {"namespace_id": 500, "force": False}
    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.verified
    # The before-state is the plan's own read of the group (by path), not a second read.
    assert outcome.before["namespace_plan"] == "free"
    assert gitlab_plans_read(mock, 500)[-1] == "premium"


def test_link_account_executes_through_the_adapters(scenario, mock):
    customer(1, gitlab_user_id=None)(scenario)
    world = World(scenario)

    outcome, _ = execute(world, mock, "link_account", {"customer": 1, "gitlab_user": "ada", "ticket": 1})

    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.changed and outcome.verified
    (put,) = portal_mutations(mock)
    assert put.method == "PUT" and urlsplit(put.url).path == "/api/v1/customers/1/gitlab_link"
    assert put.headers["Idempotency-Key"] == "run-1:change"
    assert json.loads(put.body) == {"gitlab_user_id": 100}
    assert (outcome.before, outcome.after) == ({"gitlab_user_id": None}, {"gitlab_user_id": 100})


def test_link_account_that_the_portal_refuses_fails_with_its_code(scenario, mock):
    customer(1, gitlab_user_id=None)(scenario)
    world = World(scenario)
    ports = http_ports(world, mock)
    plan = workflows.plan("link_account", ports, {"customer": 1, "gitlab_user": "ada", "ticket": 1})
    world.customers[1] = dataclasses.replace(world.customers[1], gitlab_user_id=200)

    with pytest.raises(workflows.UpstreamError) as caught:  # linked meanwhile: 409, never relinked
        ports.portal.link_customer(1, plan.change.gitlab_user_id, idempotency_key="k")

    assert (caught.value.status, caught.value.code) == (409, "already_linked")
    assert world.customers[1].gitlab_user_id == 200
