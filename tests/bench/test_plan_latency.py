"""bench/plan_latency.py: its levels as its graphs derive them, and the shape of its last
line after a tiny run. No timing is asserted (the figures are the benchmark's to print)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import plan_latency  # noqa: E402 - bench/ is not a package

FIGURES = {"calls", "levels", "measured_ms", "limit_ms", "ratio"}


@pytest.mark.parametrize("graph, levels, calls", [
    (plan_latency.ASSOCIATE, 3, 6),
    (plan_latency.LINKED_ELSEWHERE, 4, 12),  # the table: 12 calls, 4 levels
    (plan_latency.CLEAR, 4, 9),
    (plan_latency.UNLINK, 2, 7),  # 7 calls, 2 levels
    (plan_latency.diagnose_graph(2), 3, 14),  # 14 distinct reads, 3 levels
    (plan_latency.diagnose_graph(3), 3, 24),
])
def test_levels_are_the_longest_chain_of_reads_that_need_answers(graph, levels, calls):
    assert plan_latency.depth(graph) == levels and len(graph) == calls


def test_a_run_adds_the_change_its_verification_and_the_post_back():
    pairs = plan_latency.Pairs()
    runs = {c.name: c for c in plan_latency.cases(pairs, 1) if c.run}
    assert runs["associate run"].levels == 3 + 1 + 1 + 2  # the 7
    assert runs["clear_subscription run"].levels == 4 + 1 + 1 + 2


def test_a_tiny_run_ends_with_the_figures_of_every_workflow():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "plan_latency.py"), "--delay-ms", "5",
                           "--repeat", "1", "--runs", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1  # the table first
    result = json.loads(lines[-1])
    assert set(result) == {"delay_ms", "workflows", "worst_ratio"} and result["delay_ms"] == 5
    names = {c.name for c in plan_latency.cases(plan_latency.Pairs(), 1)}
    assert set(result["workflows"]) == names
    for name, figures in result["workflows"].items():
        assert set(figures) == FIGURES, name
        assert figures["calls"] > 0 and figures["limit_ms"] == figures["levels"] * 5
    assert result["worst_ratio"] == max(f["ratio"] for f in result["workflows"].values())
