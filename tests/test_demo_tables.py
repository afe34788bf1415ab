"""The demo tables say what the demo does (issue 20, item 9): for every case of demo.json,
README.md's row for its ticket names the workflow, what to type and the decision, and every
check that decides it by label; docs/demo.md's row names each deciding check's verdict,
label and id. The decisions and deciding checks are the plans the demo world makes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import workflows
from sandbox import DEMO_SCENARIO
from tests.world import World
from workflows.labels import check_label, decision_label, verdict_label, workflow_name
from workflows.notes.summary import deciding

ROOT = Path(__file__).resolve().parent.parent
DEMO = json.loads(Path(DEMO_SCENARIO).read_text(encoding="utf-8"))


def table_rows(path: Path) -> dict[int, list[str]]:
    rows: dict[int, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^\| (\d+) \|", line)
        if found:
            rows.setdefault(int(found.group(1)), []).append(line)
    return rows


README_ROWS = table_rows(ROOT / "README.md")
DEMO_ROWS = table_rows(ROOT / "docs" / "demo.md")


def plan_of(case):
    return workflows.plan(case["workflow"], World(DEMO).ports, {**case["inputs"], "ticket": case["ticket"]})


def typed(case) -> list[str]:
    return [f"`{value}`" for value in case["inputs"].values()]


@pytest.mark.parametrize("case", DEMO["demo_cases"], ids=lambda c: f"{c['ticket']}-{c['workflow']}")
def test_the_readme_row_says_what_to_type_and_every_check_that_decides(case):
    plan = plan_of(case)
    (row,) = README_ROWS[case["ticket"]]
    part = next(p for p in row.split("<br>") if f"**{workflow_name(case['workflow'])}**" in p
                and all(t in p for t in typed(case)))
    assert decision_label(str(plan.decision)) in part
    for check_id in deciding(plan):
        assert f"“{check_label(check_id)}”" in part, check_id


@pytest.mark.parametrize("case", DEMO["demo_cases"], ids=lambda c: f"{c['ticket']}-{c['workflow']}")
def test_the_demo_page_row_names_each_deciding_checks_verdict_label_and_id(case):
    plan = plan_of(case)
    (row,) = [r for r in DEMO_ROWS[case["ticket"]]
              if f"| {workflow_name(case['workflow'])} |" in r and all(t in r for t in typed(case))]
    assert f"| {decision_label(str(plan.decision))} |" in row
    for check_id in deciding(plan):
        check = plan.check(check_id)
        assert f"{verdict_label(str(check.verdict))}: {check.label} (`{check_id}`)" in row


def test_every_row_is_a_demo_case():
    tickets = {c["ticket"] for c in DEMO["demo_cases"]}
    assert set(README_ROWS) == tickets and set(DEMO_ROWS) == tickets
    assert sum(len(r) for r in DEMO_ROWS.values()) == len(DEMO["demo_cases"])
