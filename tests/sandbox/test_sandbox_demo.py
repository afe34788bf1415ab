"""The demo scenario (sandbox/scenarios/demo.json) does what it says.

Its `demo_cases` name, for each ticket, the workflow an agent would pick, the inputs the
ticket gives, and the plan's decision; each is planned here through the service's real
clients against the started sandbox. Every decision of every provisioning workflow is
covered, and the one failure (a fault on A-S00000011's link) really escalates.
"""
from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

import workflows
from helpdesk_app import create_app
from helpdesk_app.access.agents import AgentDirectory
from helpdesk_app.engine import runs
from helpdesk_app.engine.services import build_services
from helpdesk_app.web.api.bodies import run_request
from sandbox import DEMO_SCENARIO
from tests.sandbox.sandbox_support import clients_for, start
from workflows import Confirmation, Decision, OutcomeStatus, Verdict

CASES = json.loads(open(DEMO_SCENARIO, encoding="utf-8").read())["demo_cases"]
# The verdict a deciding check gives for each decision.
DECIDING = {"blocked": Verdict.BLOCK, "needs_override": Verdict.OVERRIDE, "noop": Verdict.INFO}


@pytest.fixture(scope="module")
def demo():
    sandbox = start(DEMO_SCENARIO)
    yield sandbox
    sandbox.stop()


def case_id(case) -> str:
    return f"{case['workflow']}-{case['decision']}-ticket{case['ticket']}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_each_ticket_plans_to_its_decision(demo, case):
    plan = workflows.plan(case["workflow"], clients_for(demo).ports,
                          {**case["inputs"], "ticket": case["ticket"]})
    assert plan.decision == case["decision"], [c.to_dict() for c in plan.checks]
    if "check" in case:
        # A ready plan's deciding check is the warning the agent must see ("verdict").
        assert plan.check(case["check"]).verdict == case.get("verdict", DECIDING.get(case["decision"]))


def test_every_decision_of_every_workflow_is_covered():
    covered = {(c["workflow"], c["decision"]) for c in CASES}
    assert covered == {(w, d) for w in workflows.MUTATING for d in Decision}
    assert [c["ticket"] for c in CASES if c.get("run") == "escalates"] == [111]


def test_each_case_names_the_subscription_and_group_its_ticket_mentions(demo):
    for case in CASES:
        text = demo.state.ticket(case["ticket"])["description"]
        assert case["inputs"].get("subscription", "") in text, case_id(case)
        assert f"/{case['inputs'].get('namespace', '')}" in text or "namespace" not in case["inputs"]


def test_the_failing_link_fails_the_run_without_a_change():
    with start(DEMO_SCENARIO) as sandbox:
        outcome = workflows.execute(
            "associate", clients_for(sandbox).ports,
            {"subscription": "A-S00000011", "namespace": "kilo-group", "ticket": 111},
            confirmation=Confirmation(decision=Decision.READY), idempotency_key="run-1:apply")
        assert outcome.status is OutcomeStatus.FAILED
        assert (outcome.error["status"], outcome.error["code"]) == (500, "internal_error")
        assert sandbox.counters()["portal_changes"] == 0


def test_the_failing_ticket_escalates_through_a_run(migrated_url):
    """The service's own run machinery, on the migrated database: the portal fails every
    attempt, the run escalates, GitLab gets one confidential issue, the ticket one note."""
    with start(DEMO_SCENARIO) as sandbox:
        clients = clients_for(sandbox, DATABASE_URL=migrated_url, JOB_EXECUTOR="inline",
                              RUN_MAX_ATTEMPTS="1")
        services = dataclasses.replace(
            build_services(clients.settings), portal=clients.portal, gitlab=clients.gitlab,
            zendesk=clients.zendesk, agents=AgentDirectory(clients.zendesk))
        create_app(clients.settings, services)
        agent = services.agents.get(9000)
        run, _ = runs.create_run(services.db, run_request({
            "workflow": "associate", "ticket_id": 111, "confirmation": {"decision": "ready"},
            "inputs": {"subscription": "A-S00000011", "namespace": "kilo-group"}}), agent, str(uuid.uuid4()))
        runs.perform_run(services, run.id)

        assert runs.load_run(services.db, run.id).state == "escalated"
        (issue,) = sandbox.issues()
        assert issue["confidential"] and issue["labels"] == ["Console Escalation - customers"]
        assert "A-S00000011" in issue["description"]
        (note,) = sandbox.notes(111)
        assert f"/support/escalations/-/issues/{issue['iid']}" in note
        counters = sandbox.counters()
        assert counters["portal_changes"] == 0 and counters["portal_idempotency_keys"] == 1


def test_the_reseller_ticket_is_linked_then_associated():
    """Seed 001's path for a customer who cannot use the portal: link the requester's
    GitLab.com account (found by their verified email), then the association is ready."""
    with start(DEMO_SCENARIO) as sandbox:
        ports = clients_for(sandbox).ports
        inputs = {"subscription": "A-S00000020", "namespace": "papa-partners", "ticket": 120}
        before = workflows.plan("associate", ports, inputs)
        assert before.decision == "blocked" and before.check("customer_linked").verdict is Verdict.BLOCK
        linked = workflows.execute("link_account", ports, inputs,
                                   confirmation=Confirmation(decision=Decision.READY),
                                   idempotency_key="run-120:apply")
        assert (linked.status, linked.changed, linked.verified) == (OutcomeStatus.SUCCEEDED, True, True)
        assert linked.before == {"gitlab_user_id": None} and linked.after == {"gitlab_user_id": 120}
        assert sandbox.state.customer(20)["gitlab_user_id"] == 120
        after = workflows.plan("associate", ports, inputs)
        assert after.decision == "ready"
        assert after.check("channel_read_only").verdict is Verdict.INFO  # bought through a reseller
