"""No check id, raw key or code reaches an agent's eyes but as the secondary id (issue 20):
for every demo case, what the sidebar's JSON says in words (the plan's title, next step and
change; a run's headline, failure and change), every ticket note a run can leave (done,
nothing to do, superseded, refused, the escalation's), and what the CLI prints at a
terminal. A check id may appear only right after its label, in parentheses: `Label (id)`.
The triage note too: its checks by label, its workflows by name.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import workflows
from helpdesk_app.cli import human
from sandbox import DEMO_SCENARIO
from tests.world import World
from workflows import Confirmation, Decision, Outcome, OutcomeStatus, notes
from workflows.checks import CHECKS
from workflows.errors import UpstreamError

DEMO = json.loads(Path(DEMO_SCENARIO).read_text(encoding="utf-8"))
# What the code calls things and an agent never reads: the before/after snapshots' keys,
# the facts' fields, multi-word workflow and decision codes (one-word ones are words).
RAW_KEYS = ("subscription_namespace_id", "namespace_plan", "seats_in_use", "subscription_seats",
            "gitlab_user_id", "billable_members_count", "namespace_id", "customer_id", "plan_code")
CODES = ("force_associate", "clear_subscription", "unlink_account", "link_account",
         "needs_override", "retry_scheduled", "escalation.filed")


def case_id(case) -> str:
    return f"{case['ticket']}-{case['workflow']}-{case['decision']}"


def without_secondary_ids(text: str) -> str:
    """The text with every `(id)` / `(`id`)` an id is allowed to stand in removed."""
    names = "|".join(re.escape(n) for n in (*CHECKS, *CODES))
    return re.sub(rf"\(`?(?:{names})`?\)", "", text)


def codes_in(text: str) -> list[str]:
    left = without_secondary_ids(text)
    return sorted({name for name in (*CHECKS, *RAW_KEYS, *CODES)
                   if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", left)})


def _plan_and_outcomes(case):
    world = World(DEMO)
    inputs = {**case["inputs"], "ticket": case["ticket"]}
    plan = workflows.plan(case["workflow"], world.ports, inputs)
    outcomes = []
    confirmed = Confirmation(decision=plan.decision, override_ids=plan.override_ids,
                             reason="Confirmed with the customer" if plan.override_ids else None)
    if plan.decision is not Decision.BLOCKED:
        outcomes.append(workflows.execute(case["workflow"], World(DEMO).ports, inputs, confirmation=confirmed,
                                          idempotency_key="words-0001", clock=world.clock,
                                          sleep=world.clock.sleep))
    # Confirmed as ready, though the fresh plan says otherwise: superseded, with its checks.
    outcomes.append(workflows.execute(case["workflow"], World(DEMO).ports, inputs,
                                      confirmation=Confirmation(decision=Decision.READY),
                                      idempotency_key="words-0002", clock=world.clock,
                                      sleep=world.clock.sleep))
    if plan.change is not None:  # the portal fails the change: a failed run, escalated
        failing = World(DEMO)
        failing.failures[f"{plan.change.action}"] = UpstreamError(
            "portal", "portal putSubscriptionNamespace answered 500 internal_error: boom", status=500,
            code="internal_error", transient=True)
        outcomes.append(workflows.execute(case["workflow"], failing.ports, inputs, confirmation=confirmed,
                                          idempotency_key="words-0003", clock=failing.clock,
                                          sleep=failing.clock.sleep))
    refused = Outcome(case["workflow"], OutcomeStatus.REFUSED, plan,
                      message="Clear subscription needs membership of the Zendesk group 'License and Renewals'")
    return plan, [*outcomes, refused]


def _note(outcome: Outcome) -> str:
    mark = "[lnr:run:1]"
    if outcome.status is OutcomeStatus.SUCCEEDED:
        return (notes.success_note if outcome.changed else notes.noop_note)(outcome, mode="sandbox", marker=mark)
    if outcome.status is OutcomeStatus.FAILED:
        failed = notes.failure(outcome, attempts=3)
        return notes.escalation_ticket_note(url="http://127.0.0.1:8000/sandbox/issues/1", iid=1,
                                            workflow=outcome.workflow, repeated=False, manual=False,
                                            failure=failed["message"], mode="sandbox", marker=mark)
    return notes.superseded_note(outcome, mode="sandbox", marker=mark)


def _words(plan, outcomes) -> dict[str, str]:
    """Every text an agent reads of this case, by where they read it."""
    summary = notes.plan_summary(plan)
    texts = {"plan title": summary["title"], "next step": summary["next_step"],
             "plan changes": json.dumps(summary["changes"], ensure_ascii=False),
             "cli plan": human.render("plan", {**plan.to_dict(), "mode": "sandbox", "audit": []})}
    for n, outcome in enumerate(outcomes):
        result = notes.run_result(outcome, attempts=3, escalated=outcome.status is OutcomeStatus.FAILED)
        texts[f"run {n} headline"] = result["headline"]
        texts[f"run {n} changes"] = json.dumps(result["changes"], ensure_ascii=False)
        texts[f"run {n} failure"] = (notes.failure(outcome, attempts=3) or {}).get("message", "")
        texts[f"run {n} note ({outcome.status})"] = _note(outcome)
        texts[f"run {n} cli"] = human.render("run", {**outcome.to_dict(), "mode": "sandbox", "audit": [],
                                                     "idempotency_key": "words-0001"})
    return texts


@pytest.mark.parametrize("case", DEMO["demo_cases"], ids=case_id)
def test_no_code_reaches_an_agent_but_as_the_secondary_id(case):
    plan, outcomes = _plan_and_outcomes(case)
    found = {where: codes_in(text) for where, text in _words(plan, outcomes).items()}
    assert {where: codes for where, codes in found.items() if codes} == {}


def test_the_check_finds_a_bare_id_and_a_raw_key_and_allows_the_secondary_id():
    assert codes_in("Blocked: seats_cover_usage") == ["seats_cover_usage"]
    assert codes_in("subscription_namespace_id — → 500") == ["subscription_namespace_id"]
    assert codes_in("Seats bought cover the seats in use (seats_cover_usage): 30 in use") == []
    assert codes_in("| Seats bought cover the seats in use (`seats_cover_usage`) | Passed |") == []
    assert codes_in("[lnr:escalation-note:1:2]") == []


@pytest.mark.parametrize("case", [c for c in DEMO["demo_cases"] if c["workflow"] == "associate"],
                         ids=case_id)
def test_the_triage_note_names_checks_and_workflows_in_words(case):
    from workflows.triage import CATEGORIES, Findings

    inputs = {k: v for k, v in case["inputs"].items() if k in ("subscription", "namespace")}
    diagnosis = workflows.plan("diagnose", World(DEMO).ports, {**inputs, "ticket": case["ticket"]})
    for category in CATEGORIES:
        found = Findings(category, 0.9, (inputs["subscription"],), (inputs["namespace"],), (), (), ("cue",))
        note = notes.triage_note(found, diagnosis, min_confidence=0.5, mode="sandbox",
                                 marker="[lnr:triage:1:0123456789ab]")
        assert codes_in(note.replace(f"({category},", "(")) == [], note
