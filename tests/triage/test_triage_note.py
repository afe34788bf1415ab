"""workflows.notes.triage_note: what triage found, the decision and the next step in a few
lines (no list of checks: the sidebar has them), no more customer text than the cues' own
words, and the marker last."""
from __future__ import annotations

import pytest

import workflows
from tests.scenario_edits import namespace, sub
from tests.world import World
from workflows import notes
from workflows.triage import Findings, TicketText, triage

MARKER = "[lnr:triage:35436:0123456789ab]"


def findings(category="associate_subscription", confidence=0.8, subscriptions=("A-S00000001",),
             namespaces=("acme",), emails=("jane@acme.com",), customer_ids=(), cues=("cue one", "cue two")):
    return Findings(category, confidence, tuple(subscriptions), tuple(namespaces), tuple(emails),
                    tuple(customer_ids), tuple(cues))


def diagnose(scenario, **inputs):
    return workflows.plan("diagnose", World(scenario).ports, inputs)


def note(f, diagnosis=None, *, min_confidence=0.5, mode="upstream"):
    return notes.triage_note(f, diagnosis, min_confidence=min_confidence, mode=mode, marker=MARKER)


def test_a_confident_note_with_a_ready_pair_in_a_few_lines(scenario):
    diagnosis = diagnose(scenario, subscription="A-S00000001", namespace="acme")
    text = note(findings(), diagnosis)
    assert text.startswith("Triage: a subscription to associate with a group (associate_subscription, confidence 0.80).\nWhy: cue one; cue two.\n"
                           "Found: subscriptions A-S00000001; namespaces acme; emails jane@acme.com.\n\n")
    assert "Diagnosis (read only, nothing was changed; every check is in the sidebar): ready to run.\n- A-S00000001 -> acme: Associate subscription: ready to run" in text
    assert "Next step (from the diagnosis):\n- A-S00000001 -> acme: Associate subscription. Every check passes: Associate subscription." in text
    assert text.endswith("\n\n" + MARKER) and text.count(MARKER) == 1
    assert len([line for line in text.splitlines() if line]) <= 8 and "SANDBOX" not in text


def test_the_checks_are_not_listed_only_those_that_did_not_pass_are_named(scenario):
    namespace(500, billable_members_count=25)(scenario)  # more users than the 20 seats
    diagnosis = diagnose(scenario, subscription="A-S00000001", namespace="acme")
    text = note(findings("namespace_taken", 0.9), diagnosis)
    pair = workflows.plan("associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    for check in pair.checks:
        assert check.message not in text  # the sidebar has every message
        assert f"[{check.verdict}]" not in text
    assert ("- A-S00000001 -> acme: Associate subscription: blocked: Seats bought cover the seats in use "
            "(seats_cover_usage); Force associate subscription: ready to run: Seats bought cover the seats "
            "in use (seats_cover_usage).") in text
    assert "skipped" not in text and "subscription_exists" not in text
    assert "- A-S00000001 -> acme: Force associate subscription." in text


def test_below_the_threshold_nothing_is_recommended_but_the_decision_is_shown(scenario):
    diagnosis = diagnose(scenario, subscription="A-S00000001", namespace="acme")
    text = note(findings(confidence=0.42), diagnosis)
    assert "uncertain" in text and "0.42 is below 0.50" in text
    assert "(associate)" not in text and "Next step (from" not in text
    assert "Diagnosis (read only, nothing was changed; every check is in the sidebar): ready to run." in text and text.endswith(MARKER)


def test_at_the_threshold_the_category_counts():
    assert "Next step: Force associate" in note(findings("namespace_taken", 0.5), min_confidence=0.5)


def test_without_a_diagnosis_the_category_recommends():
    text = note(findings("namespace_taken", 0.6))
    assert "Next step: Force associate subscription, after reviewing" in text
    assert "Diagnosis" not in text and "in the sidebar." in text


@pytest.mark.parametrize("category, words", [("compute_minutes", "L&R expert"),
                                             ("other", "not a provisioning request")])
def test_categories_without_a_workflow_recommend_nothing_to_run(category, words):
    text = note(findings(category, 0.9))
    assert "Next step: nothing to run" in text and words in text


def test_a_diagnosis_without_a_workflow_falls_back_to_the_category_with_its_reason(world):
    diagnosis = workflows.plan("diagnose", world.ports, {})
    text = note(findings("account_link", 0.7, subscriptions=(), namespaces=()), diagnosis)
    assert "Next step: Unlink GitLab.com account, after reviewing" in text
    assert "\n- the ticket: no workflow. The ticket names no subscription" in text
    assert "Diagnosis (read only, nothing was changed; every check is in the sidebar): blocked." in text


def test_the_portal_side_names_its_checks_that_did_not_pass(scenario):
    sub("A-S00000001", namespace_id=600)(scenario)
    diagnosis = diagnose(scenario, subscription="A-S00000001")
    text = note(findings(namespaces=()), diagnosis)
    flagged = [c.id for c in diagnosis.checks if c.verdict not in ("pass", "skipped")]
    assert f"Diagnosis (read only, nothing was changed; every check is in the sidebar): {diagnosis.decision}" in text
    for check in diagnosis.checks:
        assert (check.id in text) == (check.id in flagged)


def test_every_finding_is_listed_and_nothing_when_none():
    text = note(findings(subscriptions=("A-S00000001", "A-S00000002"), namespaces=("acme", "acme/dev"),
                         emails=("a@acme.com", "b@acme.com"), customer_ids=(12, 34)))
    assert ("Found: subscriptions A-S00000001, A-S00000002; namespaces acme, acme/dev; "
            "emails a@acme.com, b@acme.com; portal customer ids 12, 34.") in text
    empty = note(findings(subscriptions=(), namespaces=(), emails=()))
    assert "Found: no subscription, namespace, email or customer id." in empty


def test_no_cues_no_why_line():
    assert "Why:" not in note(findings(cues=()))


def test_sandbox_mode_says_so_first():
    assert note(findings(), mode="sandbox").startswith(notes.SANDBOX_LINE + "\n\n")


def test_the_note_quotes_only_the_words_of_each_cue():
    # A cue whose pattern spans a window ("bought ... not applied") shows its first and
    # last words; the customer's sentence between them is not copied into the note.
    secret = "our internal project codename bluebird for the merger with initech"
    description = (f"We purchased Premium, {secret}, and the subscription A-S00000001 for "
                   f"gitlab.com/acme is still not showing after two days.")
    found = triage(TicketText("Subscription", description))
    text = note(found)
    assert "bluebird" not in text and "merger" not in text and "initech" not in text
    assert "A-S00000001" in text and "acme" in text
    for cue in found.cues:
        quoted = cue.split('"')[1] if '"' in cue else ""
        assert len(quoted.replace(" ... ", " ").split()) <= 4
