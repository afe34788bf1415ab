"""workflows.notes.triage_note: what triage found, the recommendation (or none when
uncertain), the diagnosis's checks, and the marker last."""
from __future__ import annotations

import pytest

import workflows
from tests.scenario_edits import namespace, sub
from tests.world import World
from workflows import notes
from workflows.triage import Findings

MARKER = "[lnr:triage:35436:0123456789ab]"


def findings(category="associate_subscription", confidence=0.8, subscriptions=("A-S00000001",),
             namespaces=("acme",), emails=("jane@acme.com",), customer_ids=(), cues=("cue one", "cue two")):
    return Findings(category, confidence, tuple(subscriptions), tuple(namespaces), tuple(emails),
                    tuple(customer_ids), tuple(cues))


def diagnose(scenario, **inputs):
    return workflows.plan("diagnose", World(scenario).ports, inputs)


def note(f, diagnosis=None, *, min_confidence=0.5, mode="upstream"):
    return notes.triage_note(f, diagnosis, min_confidence=min_confidence, mode=mode, marker=MARKER)


def test_a_confident_note_with_a_ready_pair(scenario):
    diagnosis = diagnose(scenario, subscription="A-S00000001", namespace="acme")
    text = note(findings(), diagnosis)
    assert text.startswith("Triage: associate_subscription (confidence 0.80).")
    assert "Why:\n- cue one\n- cue two" in text
    assert ("Found in the ticket:\n- Subscriptions: A-S00000001\n- Namespaces: acme\n"
            "- Emails: jane@acme.com\n- Portal customer ids: none") in text
    assert "Recommended (from the diagnosis):\n- A-S00000001 -> acme: Associate subscription (associate)." in text
    pair = workflows.plan("associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    for check in pair.checks:
        assert f"- [{check.verdict}] {check.id}: {check.message}" in text
    assert text.endswith("\n\n" + MARKER) and text.count(MARKER) == 1
    assert "SANDBOX" not in text


def test_below_the_threshold_nothing_is_recommended_but_the_checks_are_shown(scenario):
    diagnosis = diagnose(scenario, subscription="A-S00000001", namespace="acme")
    text = note(findings(confidence=0.42), diagnosis)
    assert "uncertain" in text and "0.42 is below 0.50" in text
    assert "Recommended" not in text and "(associate)" not in text
    assert "[pass] subscription_exists" in text and text.endswith(MARKER)


def test_at_the_threshold_the_category_counts():
    assert "Recommended for namespace_taken" in note(findings("namespace_taken", 0.5), min_confidence=0.5)


def test_without_a_diagnosis_the_category_recommends():
    text = note(findings("namespace_taken", 0.6))
    assert "Recommended for namespace_taken: Force associate subscription (force_associate)" in text
    assert "Diagnosis" not in text


@pytest.mark.parametrize("category, words", [("compute_minutes", "L&R expert"),
                                             ("other", "not a provisioning request")])
def test_categories_without_a_workflow_recommend_nothing_to_run(category, words):
    text = note(findings(category, 0.9))
    assert f"Recommended for {category}: nothing to run" in text and words in text


def test_a_diagnosis_without_a_workflow_falls_back_to_the_category_with_its_reason(world):
    diagnosis = workflows.plan("diagnose", world.ports, {})
    text = note(findings("account_link", 0.7, subscriptions=(), namespaces=()), diagnosis)
    assert "Recommended for account_link: Unlink GitLab.com account (unlink_account)" in text
    assert "The diagnosis says:\n- the ticket: no workflow. The ticket names no subscription" in text
    assert "decision: blocked. No check ran." in text


def test_a_force_recommendation_shows_what_the_forced_plan_flags(scenario):
    namespace(500, billable_members_count=25)(scenario)  # more users than the 20 seats
    diagnosis = diagnose(scenario, subscription="A-S00000001", namespace="acme")
    text = note(findings("namespace_taken", 0.9), diagnosis)
    assert "- A-S00000001 -> acme: Force associate subscription (force_associate)." in text
    assert "[block] seats_cover_usage" in text
    assert "A-S00000001 -> acme (force associate: ready):\n- [warn] seats_cover_usage" in text


def test_the_portal_side_checks_when_no_namespace_is_named(scenario):
    sub("A-S00000001", namespace_id=600)(scenario)
    diagnosis = diagnose(scenario, subscription="A-S00000001")
    text = note(findings(namespaces=()), diagnosis)
    for check in diagnosis.checks:
        assert f"- [{check.verdict}] {check.id}: {check.message}" in text


def test_every_finding_is_listed():
    text = note(findings(subscriptions=("A-S00000001", "A-S00000002"), namespaces=("acme", "acme/dev"),
                         emails=("a@acme.com", "b@acme.com"), customer_ids=(12, 34)))
    assert "- Subscriptions: A-S00000001, A-S00000002" in text
    assert "- Namespaces: acme, acme/dev" in text
    assert "- Emails: a@acme.com, b@acme.com" in text
    assert "- Portal customer ids: 12, 34" in text


def test_no_cues_no_why_block():
    assert "Why:" not in note(findings(cues=()))


def test_sandbox_mode_says_so_first():
    assert note(findings(), mode="sandbox").startswith(notes.SANDBOX_LINE + "\n\n")
