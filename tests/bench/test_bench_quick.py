"""Each benchmark runs with --quick and ends with one JSON line holding its named figures.

No timing is asserted: these only keep the scripts working as the service changes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240

EXPECTED = {
    "triage_storm.py": ("tickets", "acked", "processed", "notes_per_ticket_min", "notes_per_ticket_max",
                        "lost", "intake_s", "triage_done_s", "peak_updates_per_min",
                        "update_budget_per_min", "peak_requests_per_min", "request_budget_per_min"),
    "webhook_intake.py": ("acked_per_s", "bare_per_s", "ratio", "p50_ms", "p99_ms", "database",
                          "by_concurrency", "web_rss_mb", "worker_rss_mb", "cpu_ms_per_ack",
                          "load_average"),
    "workflow_runs.py": ("runs_per_s", "overhead_ms_p50", "overhead_ms_p99", "upstream_calls_10_groups",
                         "upstream_calls_10000_groups"),
    "triage.py": ("pure_per_s", "end_to_end_per_s"),
    "cli_timing.py": ("plan_scenario_ms_p50", "mode_check_ms_p50", "plan_imports_ms", "load_average"),
    "intake_while_plans_wait.py": ("delay_s", "plans", "plans_answered", "webhooks", "webhook_p50_ms",
                                   "webhook_p99_ms", "statuses"),
    "plan_latency.py": ("delay_ms", "workflows", "worst_ratio"),
}


def run_quick(script: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY",)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing"
    assert len(lines) > 1, "a human-readable table comes before the JSON line"
    return json.loads(lines[-1])


@pytest.mark.bench
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_quick_run_ends_with_the_named_figures(script):
    result = run_quick(script)
    missing = [key for key in EXPECTED[script] if key not in result]
    assert not missing, f"{script}: missing {missing} in {result}"


@pytest.mark.bench
def test_the_storm_loses_and_doubles_nothing():
    # Correctness, not speed: every delivery acknowledged, one note per ticket.
    result = run_quick("triage_storm.py")
    assert result["acked"] == result["tickets"] == result["processed"]
    assert result["notes_per_ticket_min"] == result["notes_per_ticket_max"] == 1
    assert result["lost"] == 0
    assert result["peak_updates_per_min"] <= result["update_budget_per_min"]


def test_webhooks_are_all_accepted_while_plans_wait():
    result = run_quick("intake_while_plans_wait.py")
    assert result["webhooks"] > 0 and result["statuses"] == {"202": result["webhooks"]}
    assert result["plans_answered"] > 0  # the plans did wait on GitLab, and were answered
