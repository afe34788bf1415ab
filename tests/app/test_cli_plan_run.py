"""`python -m helpdesk_app plan|run`: a workflow from the command line (cli_workflows.py).

With `--scenario` every call runs against an ephemeral sandbox: each call here is made from
an empty working directory and must leave it empty, and must leave no thread running.
"""
from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpdesk_app.cli.commands import main
from helpdesk_app.settings import REQUIRED_UPSTREAM, UPSTREAM_SWITCHES
from helpdesk_app.storage.audit import records
from helpdesk_app.storage.audit_chain import find_audit_break
from helpdesk_app.storage.database import make_engine, make_session_factory
from sandbox import DEMO_SCENARIO, Sandbox
from tests.sandbox.sandbox_support import FAST_RETRIES, start

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads(Path(DEMO_SCENARIO).read_text(encoding="utf-8"))
CASES = DEMO["demo_cases"]
DECIDING = {"blocked": "block", "needs_override": "override", "noop": "info"}
PLAN_KEYS = {"workflow", "decision", "inputs", "checks", "facts", "change"}
OUTCOME_KEYS = {"workflow", "status", "decision", "checks", "facts", "plan", "changed", "verified",
                "message", "before", "after", "error", "request_ids"}


def case_id(case) -> str:
    return f"{case['workflow']}-{case['decision']}-ticket{case['ticket']}"


def case_args(case) -> list[str]:
    args = [case["workflow"], "--ticket", str(case["ticket"])]
    for name, value in case["inputs"].items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def cases(**where) -> list:
    chosen = [c for c in CASES if all(c.get(k) == v for k, v in where.items())]
    return [pytest.param(c, id=case_id(c)) for c in chosen]


@pytest.fixture(autouse=True)
def empty_cwd(tmp_path, monkeypatch):
    """Every call runs in an empty directory, which must stay empty."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert sorted(os.listdir(cwd)) == []


@pytest.fixture
def stopped(monkeypatch):
    """The counters of each sandbox the CLI stops, read just before it stops."""
    seen: list[dict] = []
    stop = Sandbox.stop

    def counting_stop(self):
        seen.append(self.counters())
        stop(self)

    monkeypatch.setattr(Sandbox, "stop", counting_stop)
    return seen


@pytest.fixture
def no_upstream_env(monkeypatch):
    for name in {*UPSTREAM_SWITCHES, *REQUIRED_UPSTREAM, "DATABASE_URL", "REDIS_URL"}:
        monkeypatch.delenv(name, raising=False)


def cli(*argv: str, own_threads: bool = True) -> tuple[int, str, str]:
    """main() in-process; it must leave no thread of its own running (`own_threads=False`
    when the test runs the upstreams itself, whose server threads end on their own time)."""
    before = set(threading.enumerate())
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    if own_threads:
        left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
        assert left == [], f"threads left running: {left}"
    return code, out.getvalue(), err.getvalue()


def scenario_cli(command: str, *argv: str) -> tuple[int, dict | None, str]:
    code, out, err = cli(command, "--scenario", DEMO_SCENARIO, *argv)
    return code, (json.loads(out) if out else None), err


def assert_bad_input(code: int, out, err: str) -> None:
    assert code == 2 and not out, out
    assert err.startswith("error: ") and err.count("\n") == 1, err


# --- plan ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", cases())
def test_plan_decides_every_demo_case_as_the_rules_say(case):
    code, plan, err = scenario_cli("plan", *case_args(case))
    assert code == 0, err
    assert plan["decision"] == case["decision"], plan["checks"]
    assert PLAN_KEYS <= set(plan) and plan["workflow"] == case["workflow"]
    assert all(set(c) == {"id", "label", "verdict", "message"} for c in plan["checks"])
    if "check" in case:
        (deciding,) = [c for c in plan["checks"] if c["id"] == case["check"]]
        assert deciding["verdict"] == case.get("verdict", DECIDING.get(case["decision"]))
    assert plan["mode"] == "sandbox"
    (record,) = plan["audit"]
    assert record["kind"] == "plan" and record["ticket_id"] == case["ticket"]
    assert record["outcome"]["decision"] == case["decision"]
    assert record["agent"]["id"] is None and record["agent"]["name"].startswith("cli:")


def test_plan_diagnose_takes_several_subscriptions_and_namespaces():
    code, plan, err = scenario_cli("plan", "diagnose", "--ticket", "103",
                                   "--subscription", "A-S00000003", "--subscription", "A-S00000001",
                                   "--namespace", "cyan-data", "--namespace", "acme")
    assert code == 0, err
    assert plan["workflow"] == "diagnose" and len(plan["recommendations"]) == 4
    cyan = next(r for r in plan["recommendations"]
                if (r["subscription"], r["namespace"]) == ("A-S00000003", "cyan-data"))
    assert cyan["recommended"] == "force_associate"


def test_plan_of_something_unknown_is_a_blocked_plan_not_bad_input():
    code, plan, _ = scenario_cli("plan", "associate", "--subscription", "A-S99999999",
                                 "--namespace", "no-such-group")
    assert code == 0 and plan["decision"] == "blocked"


# --- run ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", cases(decision="ready", run=None))
def test_run_of_a_ready_plan_changes_the_world_and_says_how(case, stopped):
    code, outcome, err = scenario_cli("run", *case_args(case))
    assert code == 0, err
    assert OUTCOME_KEYS <= set(outcome) and outcome["decision"] == "ready"
    assert (outcome["status"], outcome["changed"], outcome["verified"]) == ("succeeded", True, True)
    assert outcome["before"] != outcome["after"]
    plan_record, run_record = outcome["audit"]
    assert (plan_record["kind"], run_record["kind"]) == ("plan", "run")
    assert run_record["prev_hash"] == plan_record["hash"]
    assert run_record["outcome"]["state"] == "succeeded" and run_record["override_reason"] is None
    assert stopped[-1]["portal_changes"] == 1


def test_run_associate_links_the_subscription(stopped):
    code, outcome, _ = scenario_cli("run", "associate", "--subscription", "A-S00000001",
                                    "--namespace", "acme", "--ticket", "101",
                                    "--idempotency-key", "cli-test-0001")
    assert code == 0
    assert outcome["before"]["subscription_namespace_id"] is None
    assert outcome["after"]["subscription_namespace_id"] == outcome["facts"]["namespace"]["id"]
    assert outcome["after"]["namespace_plan"] == "premium"
    assert outcome["idempotency_key"] == "cli-test-0001"
    assert stopped[-1]["portal_mutations_per_key"] == {"cli-test-0001:apply": 1}


def test_each_run_has_a_fresh_idempotency_key():
    args = ("run", "associate", "--subscription", "A-S00000001", "--namespace", "acme")
    keys = {scenario_cli(*args)[1]["idempotency_key"] for _ in range(2)}
    assert len(keys) == 2


@pytest.mark.parametrize("case", cases(decision="needs_override"))
def test_an_override_needs_a_reason(case, stopped):
    code, outcome, err = scenario_cli("run", *case_args(case))
    assert_bad_input(code, outcome, err)
    assert "reason" in err and case["check"] in err
    assert stopped[-1]["portal_changes"] == 0


@pytest.mark.parametrize("case", cases(decision="needs_override"))
def test_with_a_reason_the_override_runs_and_the_reason_is_audited(case, stopped):
    reason = "Confirmed with the customer on a call, see ticket comments."
    code, outcome, err = scenario_cli("run", *case_args(case), "--reason", reason)
    assert code == 0, err
    assert (outcome["status"], outcome["changed"]) == ("succeeded", True)
    run_record = outcome["audit"][-1]
    assert run_record["kind"] == "run" and run_record["override_reason"] == reason
    assert stopped[-1]["portal_changes"] == 1


@pytest.mark.parametrize("case", cases(decision="blocked"))
def test_a_blocked_plan_is_printed_and_nothing_is_done(case, stopped):
    code, outcome, err = scenario_cli("run", *case_args(case), "--reason", "I insist")
    assert code == 0, err
    assert (outcome["status"], outcome["decision"]) == ("refused", "blocked")
    assert outcome["changed"] is False
    assert outcome["plan"]["decision"] == "blocked" and "Nothing was done" in outcome["message"]
    assert outcome["after"] == {} and [r["kind"] for r in outcome["audit"]] == ["plan"]
    assert stopped[-1]["portal_mutations"] == 0


@pytest.mark.parametrize("case", cases(decision="noop"))
def test_a_noop_run_succeeds_without_a_change(case, stopped):
    code, outcome, _ = scenario_cli("run", *case_args(case))
    assert code == 0
    assert (outcome["status"], outcome["decision"]) == ("succeeded", "noop")
    assert outcome["changed"] is False
    assert stopped[-1]["portal_mutations"] == 0


def test_a_failed_change_is_an_outcome_not_an_error(stopped):
    (case,) = [c for c in CASES if c.get("run") == "escalates"]
    code, outcome, _ = scenario_cli("run", *case_args(case))
    assert code == 0
    assert (outcome["status"], outcome["changed"]) == ("failed", False)
    assert outcome["error"]["status"] == 500
    assert outcome["audit"][-1]["outcome"]["state"] == "failed"
    assert stopped[-1]["portal_changes"] == 0


# --- bad input and failures ----------------------------------------------------------------

ACME = ("--subscription", "A-S00000001", "--namespace", "acme")
BAD_INPUT = {
    "unknown-workflow": ["plan", "provision", "--subscription", "A-S00000001"],
    "bad-subscription": ["plan", "associate", "--subscription", "A-S 1", "--namespace", "acme"],
    "dot-dot-namespace": ["plan", "associate", "--subscription", "A-S00000001",
                          "--namespace", "acme/../x"],
    "bad-namespace": ["plan", "associate", "--subscription", "A-S00000001", "--namespace", "a b"],
    "bad-ticket": ["plan", "associate", *ACME, "--ticket", "twelve"],
    "bad-customer": ["plan", "unlink_account", "--customer", "0"],
    "missing-subscription": ["plan", "associate", "--namespace", "acme"],
    "two-subscriptions": ["plan", "associate", *ACME, "--subscription", "A-S00000002"],
    "customer-disagrees": ["plan", "unlink_account", "--customer", "1",
                           "--subscription", "A-S00000005"],
    "reason-on-plan": ["plan", "associate", *ACME, "--reason", "x"],
    "bad-gitlab-user": ["plan", "link_account", "--customer", "20", "--gitlab-user", "pat park"],
    "link-without-customer": ["plan", "link_account", "--gitlab-user", "pat"],
    "no-workflow": ["plan"],
    "run-diagnose": ["run", "diagnose", "--subscription", "A-S00000001"],
    "blank-reason": ["run", "associate", *ACME, "--reason", "   "],
    "bad-key": ["run", "associate", *ACME, "--idempotency-key", "no spaces please"],
}


@pytest.mark.parametrize("argv", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_line(argv, stopped):
    code, out, err = cli(argv[0], "--scenario", DEMO_SCENARIO, *argv[1:])
    assert_bad_input(code, out, err)
    if "unlink_account" not in argv:  # judged before any sandbox starts
        assert stopped == []


def test_run_diagnose_says_why():
    code, out, err = cli("run", "--scenario", DEMO_SCENARIO, *BAD_INPUT["run-diagnose"][1:])
    assert code == 2 and "diagnose only plans" in err


MALFORMED = {"not-json": "{not json", "not-an-object": "[]",
             "bad-field": json.dumps({"portal": {"subscriptions": [{"name": 7}]}})}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_scenario_exits_2(tmp_path, content):
    scenario = tmp_path / "bad.json"
    scenario.write_text(content, encoding="utf-8")
    code, out, err = cli("plan", "--scenario", str(scenario), "associate",
                         "--subscription", "A-S00000001", "--namespace", "acme")
    assert_bad_input(code, out, err)
    assert "scenario" in err or "subscriptions" in err


def test_an_unreadable_scenario_exits_2(tmp_path):
    code, out, err = cli("plan", "--scenario", str(tmp_path / "missing.json"), "associate",
                         "--subscription", "A-S00000001", "--namespace", "acme")
    assert_bad_input(code, out, err)
    assert "cannot read" in err


def test_an_upstream_failure_exits_1_with_one_line(tmp_path):
    scenario = copy.deepcopy(DEMO)
    scenario["faults"] = [{"upstream": "portal", "method": "GET", "path": "^/api/v1/subscriptions/",
                           "status": 403, "times": None}]
    path = tmp_path / "forbidden.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    code, out, err = cli("plan", "--scenario", str(path), "associate",
                         "--subscription", "A-S00000001", "--namespace", "acme")
    assert code == 1 and out == ""
    (line,) = [e for e in err.splitlines() if e.startswith("error: ")]
    assert "portal failed" in line and "nothing was done" in line


# --- no environment, no database ------------------------------------------------------------

def test_the_module_plans_a_scenario_with_an_empty_environment(tmp_path):
    # Another process reads the real clock, which no fixture pins: give the subscription a
    # term that holds on any day this test may run.
    scenario = copy.deepcopy(DEMO)
    (first,) = [s for s in scenario["portal"]["subscriptions"] if s["name"] == "A-S00000001"]
    first.update(start_date="2000-01-01", end_date="9999-12-31")
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "helpdesk_app", "plan", "--scenario", str(path), "associate",
         "--subscription", "a-s00000001", "--namespace", "acme", "--ticket", "101"],
        capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["decision"] == "ready" and plan["inputs"]["subscriptions"] == ["A-S00000001"]
    assert result.stdout.count("\n") == 1


def test_without_a_scenario_and_without_settings_exits_2(no_upstream_env):
    code, out, err = cli("plan", "associate", *ACME)
    assert_bad_input(code, out, err)
    assert "--scenario" in err


def test_incomplete_upstream_settings_exit_2(no_upstream_env, monkeypatch):
    monkeypatch.setenv("PORTAL_API_URL", "https://portal.example.test")
    code, out, err = cli("plan", "associate", *ACME)
    assert_bad_input(code, out, err)
    assert "missing settings" in err and "GITLAB_URL" in err


# --- against configured upstreams (here: a sandbox the test starts) ----------------------

@pytest.fixture
def upstream(no_upstream_env, monkeypatch, migrated_url):
    with start(DEMO_SCENARIO) as sandbox:
        for name, value in {**sandbox.env(), **FAST_RETRIES, "DATABASE_URL": migrated_url}.items():
            monkeypatch.setenv(name, value)
        yield sandbox


def stored_records(url: str) -> list:
    engine = make_engine(url)
    try:
        # The chain is keyed with the sandbox's AUDIT_KEY (the `upstream` fixture's env).
        with make_session_factory(engine, audit_key=os.environ["AUDIT_KEY"].encode())() as session:
            assert find_audit_break(session) is None
            return [(r.kind, r.agent, r.override_reason, r.outcome) for r in records(session)]
    finally:
        engine.dispose()


def test_plan_against_upstreams_records_the_plan_in_the_database(upstream, migrated_url):
    code, out, err = cli("plan", "associate", *ACME,
                         "--ticket", "101", own_threads=False)
    assert code == 0, err
    assert json.loads(out)["mode"] == "upstream"
    ((kind, agent, _, outcome),) = stored_records(migrated_url)
    assert kind == "plan" and outcome["decision"] == "ready" and agent["name"].startswith("cli:")


def test_run_against_upstreams_warns_then_acts_and_records_it(upstream, migrated_url):
    reason = "The customer confirmed by phone."
    code, out, err = cli("run", "associate", "--subscription", "A-S00000005",
                         "--namespace", "echo-media", "--ticket", "105", "--reason", reason,
                         own_threads=False)
    assert code == 0, err
    assert err.startswith("warning: upstream mode: associate")
    outcome = json.loads(out)
    assert outcome["status"] == "succeeded" and outcome["mode"] == "upstream"
    assert upstream.counters()["portal_changes"] == 1
    stored = stored_records(migrated_url)
    assert [s[0] for s in stored] == ["plan", "run"]
    assert stored[1][2] == reason and stored[1][3]["state"] == "succeeded"
    assert [r["kind"] for r in outcome["audit"]] == ["plan", "run"]


def test_an_unusable_database_stops_the_run_before_any_change(upstream, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'not-migrated.db'}")
    code, out, err = cli("run", "associate", *ACME, own_threads=False)
    assert_bad_input(code, out, err)
    assert "cannot write the audit trail" in err
    assert upstream.counters()["portal_mutations"] == 0

