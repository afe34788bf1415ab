"""`python -m helpdesk_app triage [FILE]`: one JSON document on stdout, or one line on stderr
and exit 2; no environment variable, database or upstream needed."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_app.cli.commands import MAX_TRIAGE_INPUT, main

REPO = Path(__file__).resolve().parents[2]
TICKET = {"subject": "Subscription not showing",
          "description": "We bought A-S00771204 but https://gitlab.com/groups/acme/-/billings still shows Free.",
          "comments": ["Reply from jane@acme.com: customer ID 123456"]}
FIELDS = {"category", "confidence", "subscriptions", "namespaces", "emails", "customer_ids", "cues",
          "recommended"}


def run(argv, stdin: bytes = b""):
    out, err = io.StringIO(), io.StringIO()
    code = main(["triage", *argv], stdout=out, stderr=err, stdin=io.BytesIO(stdin))
    return code, out.getvalue(), err.getvalue()


def ok(code, out, err):
    assert code == 0 and err == "" and out.endswith("\n") and out.count("\n") == 1
    return json.loads(out)


def test_stdin_by_default_and_with_a_dash():
    for argv in ([], ["-"]):
        result = ok(*run(argv, json.dumps(TICKET).encode()))
        assert set(result) == FIELDS
        assert result["category"] == "associate_subscription" and result["recommended"] == "associate"
        assert result["subscriptions"] == ["A-S00771204"] and result["namespaces"] == ["acme"]
        assert result["emails"] == ["jane@acme.com"] and result["customer_ids"] == [123456]


def test_a_file(tmp_path):
    path = tmp_path / "ticket.json"
    path.write_text(json.dumps(TICKET), encoding="utf-8")
    assert ok(*run([str(path)]))["subscriptions"] == ["A-S00771204"]


def test_a_utf8_bom_and_non_ascii_text_are_fine(tmp_path):
    ticket = {"subject": "Abonnement", "description": "Gruppe: acme — Zeitüberschreitung im Kundenportal 502"}
    result = ok(*run([], b"\xef\xbb\xbf" + json.dumps(ticket, ensure_ascii=False).encode("utf-8")))
    assert result["category"] == "portal_502"


def test_uncertain_recommends_nothing_and_the_threshold_is_an_option():
    weak = json.dumps({"description": "A-S00012345"}).encode()
    result = ok(*run([], weak))
    assert result["confidence"] < 0.5 and result["recommended"] is None
    assert ok(*run(["--min-confidence", "0.1"], weak))["recommended"] == "associate"
    assert ok(*run(["--min-confidence", "1"], json.dumps(TICKET).encode()))["recommended"] is None


def test_a_1_mb_description():
    ticket = {"subject": "x", "description": "our group is grayed out " * 42_000}
    data = json.dumps(ticket).encode()
    assert len(data) > 1_000_000
    assert ok(*run([], data))["category"] == "namespace_taken"


@pytest.mark.parametrize("data, words", [
    (b"", "empty input"),
    (b"  \n\t", "empty input"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary input"),
    (b'{"subject": "caf\xe9"}', "not UTF-8"),
    (b"{subject: x}", "not JSON"),
    (b'{"subject": "x"', "not JSON"),
    (b"[" * 100_000, "not usable JSON"),
    (b"[]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (b'{"subject": 1}', "subject must be a string"),
    (b'{"description": null}', "description must be a string"),
    (b'{"comments": "one"}', "comments must be a list"),
    (b'{"comments": ["one", {"body": "two"}]}', "comments[1] must be a string"),
    (b" " * (MAX_TRIAGE_INPUT + 1), "larger than 5 MB"),
])
def test_bad_input_exits_2_with_one_line_and_nothing_on_stdout(data, words):
    code, out, err = run([], data)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err


@pytest.mark.parametrize("argv, words", [
    (["{missing}"], "cannot read"),
    (["{dir}"], "cannot read"),
    (["--min-confidence", "2"], "from 0 to 1"),
    (["--min-confidence", "nan"], "from 0 to 1"),
    (["a.json", "b.json"], "unrecognized arguments"),
])
def test_bad_arguments_exit_2(tmp_path, argv, words):
    argv = [a.format(missing=tmp_path / "nope.json", dir=tmp_path) for a in argv]
    code, out, err = run(argv, json.dumps(TICKET).encode())
    assert code == 2 and out == "" and err.startswith("error: ") and words in err


def test_the_module_entry_point_needs_no_environment():
    result = subprocess.run([sys.executable, "-m", "helpdesk_app", "triage", "-"], input=json.dumps(TICKET).encode(),
                            capture_output=True, env={}, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["subscriptions"] == ["A-S00771204"]
    bad = subprocess.run([sys.executable, "-m", "helpdesk_app", "triage", "-"], input=b"\xff",
                         capture_output=True, env={}, cwd=REPO, timeout=60)
    assert bad.returncode == 2 and bad.stdout == b"" and bad.stderr.startswith(b"error: ")
    assert b"Traceback" not in bad.stderr
