"""Every code an agent could see has words: each check, workflow, verdict and decision."""
from __future__ import annotations

from workflows import labels
from workflows.checks import CHECKS
from workflows.model import Check, Decision, Verdict


def test_every_check_has_a_label_and_no_label_is_left_over():
    assert set(labels.CHECK_LABELS) == set(CHECKS)


def test_labels_are_distinct_so_two_checks_never_read_the_same():
    names = list(labels.CHECK_LABELS.values())
    assert len(set(names)) == len(names)


def test_every_verdict_and_decision_has_words():
    assert set(labels.VERDICT_LABELS) == {str(v) for v in Verdict}
    assert set(labels.DECISION_LABELS) == {str(d) for d in Decision}


def test_a_workflow_has_one_name():
    assert labels.workflow_name("force_associate") == "Force associate subscription"


def test_a_checks_json_carries_its_label_beside_its_id():
    data = Check("seats_cover_usage", Verdict.BLOCK, "40 in use, 10 bought").to_dict()
    assert data["id"] == "seats_cover_usage"
    assert data["label"] == "Seats bought cover the seats in use"


def test_an_unknown_code_is_spelled_out_and_an_odd_one_never_echoed():
    assert labels.check_label("some_new_check") == "some new check"
    assert labels.check_label("<script>") == "unnamed check"
    assert labels.workflow_name("x`y") == "unnamed workflow"


def test_every_triage_category_has_words():
    from workflows.triage import CATEGORIES
    assert set(labels.CATEGORY_LABELS) == set(CATEGORIES)
