"""What the CLI prints for a person at a terminal, and for a program when piped or with
`--json` (issue 20, item 7): the decision first, the deciding checks by label with their
messages, the change in words, the rest in brief; JSON with the decision among its first
keys. The demo scenario in an ephemeral sandbox (as tests/app/test_cli_plan_run.py)."""
from __future__ import annotations

import io
import json

from helpdesk_app.cli.commands import main
from sandbox import DEMO_SCENARIO


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(*argv: str, stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


BLOCKED_103 = ("plan", "--scenario", DEMO_SCENARIO, "associate", "--subscription", "A-S00000003",
               "--namespace", "cyan-data", "--ticket", "103")


def test_at_a_terminal_a_plan_reads_decision_first_then_what_decides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*BLOCKED_103, stdout=Terminal())
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Associate subscription A-S00000003 with cyan-data"
    assert lines[1] == "Blocked: Only the normal path is closed: Force associate subscription after review."
    assert lines[3] == "What decides:"
    assert lines[4] == "  ✗ Blocked: No other subscription is on the group (namespace_not_taken)"
    assert "  ✗ Blocked: Seats bought cover the seats in use (seats_cover_usage)" in lines
    assert "cyan-data has 30 seats in use; A-S00000003 has 25 seats." in out
    assert "13 other checks passed. (--json shows every check.)" in lines
    assert "subscription_exists" not in out  # passes are counted, not listed
    assert not out.lstrip().startswith("{")


def test_at_a_terminal_a_needs_override_plan_shows_the_change_in_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("plan", "--scenario", DEMO_SCENARIO, "associate", "--subscription", "A-S00000005",
                       "--namespace", "echo-media", "--ticket", "105", stdout=Terminal())
    assert code == 0
    assert out.splitlines()[1] == "Needs an override: Write why the override is right, then confirm."
    assert ("The change (before → after):\n  Group of A-S00000005: echo-media-old → echo-media\n"
            "  Plan of echo-media: Free → Premium") in out


def test_at_a_terminal_a_run_says_its_result_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("run", "--scenario", DEMO_SCENARIO, "associate", "--subscription", "A-S00000001",
                         "--namespace", "acme", "--ticket", "101", stdout=Terminal())
    assert code == 0, err
    assert out.splitlines()[0] == "Associate subscription A-S00000001 with acme: done and verified."
    assert "  Plan of acme: Free → Premium" in out and "15 checks passed." in out
    assert out.count("verified") == 1  # said once


def test_json_when_asked_at_a_terminal_or_when_piped_with_the_decision_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, asked, _ = cli(*BLOCKED_103, "--json", stdout=Terminal())
    assert code == 0
    code, piped, _ = cli(*BLOCKED_103)
    for out in (asked, piped):
        assert out.count("\n") == 1
        document = json.loads(out)
        assert list(document)[:2] == ["workflow", "decision"] and document["decision"] == "blocked"
        assert {"checks", "facts", "audit", "mode"} <= set(document)


def test_a_name_of_another_shape_goes_to_the_portal_and_its_miss_says_what_a_name_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("plan", "--scenario", DEMO_SCENARIO, "clear_subscription", "--subscription",
                         "A-S0000000X", "--ticket", "112")
    assert code == 0, err  # a plan, not bad input: the portal judges other names
    plan = json.loads(out)
    (exists,) = [c for c in plan["checks"] if c["id"] == "subscription_exists"]
    assert exists["verdict"] == "block"
    assert "A subscription name is A-S and 8 digits, like A-S00012345, and A-S0000000X is not" in exists["message"]
    code, out, err = cli("plan", "--scenario", DEMO_SCENARIO, "clear_subscription", "--subscription", "A-S 1")
    assert code == 2 and out == "" and "not a subscription name" in err


def test_other_commands_print_their_fields_at_a_terminal(tmp_path):
    ticket = tmp_path / "ticket.json"
    ticket.write_text(json.dumps({"subject": "Premium not showing", "description":
                                  "We bought A-S00000001 for https://gitlab.com/acme, it shows Free."}))
    code, out, _ = cli("triage", str(ticket), stdout=Terminal())
    assert code == 0 and "subscriptions: A-S00000001" in out and "recommended: associate" in out
