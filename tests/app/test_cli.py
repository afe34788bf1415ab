"""`python -m helpdesk_app audit-export`: JSON lines to a file, one JSON document on stdout."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from helpdesk_app.cli.commands import main
from helpdesk_app.storage.audit_chain import append_audit
from helpdesk_app.storage.database import make_engine, make_session_factory
from helpdesk_app.storage.migrate import upgrade

KEY = "audit-key-for-the-cli-tests-32-bytes-or-more"


def run_cli(monkeypatch, url, *argv):
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUDIT_KEY", KEY)
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def trail(engine):
    with make_session_factory(engine, audit_key=KEY.encode())() as session:
        for ticket in (10, 11, 10):
            append_audit(session, kind="plan", ticket_id=ticket, workflow="associate",
                         agent={"id": 9000}, inputs={"subscriptions": ["A-S00000001"]})
        session.commit()


def test_export_writes_json_lines_and_prints_one_document(monkeypatch, migrated_url, trail, tmp_path):
    output = tmp_path / "audit.jsonl"
    code, out, err = run_cli(monkeypatch, migrated_url, "audit-export", "--output", str(output))
    assert code == 0 and err == ""
    *lines, last = [json.loads(line) for line in output.read_text().splitlines()]
    assert json.loads(out) == {"exported": 3, "output": str(output), "ticket_id": None,
                               "chain_intact": True, "first_broken_record": None,
                               "chain_head": lines[-1]["hash"]}
    assert [r["ticket_id"] for r in lines] == [10, 11, 10]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert last == {"chain_head": lines[-1]["hash"]}  # every export ends with the head


def test_export_of_one_ticket(monkeypatch, migrated_url, trail, tmp_path):
    output = tmp_path / "t10.jsonl"
    code, out, _ = run_cli(monkeypatch, migrated_url, "audit-export", "--output", str(output),
                           "--ticket-id", "10")
    assert code == 0 and json.loads(out)["exported"] == 2
    *records, last = [json.loads(line) for line in output.read_text().splitlines()]
    assert {r["ticket_id"] for r in records} == {10}
    assert last == {"chain_head": json.loads(out)["chain_head"]}  # the whole chain's head


@pytest.mark.parametrize("argv", [["audit-export"], ["audit-export", "--output", "x", "--ticket-id", "-1"],
                                  ["nope"]])
def test_bad_arguments_exit_2_with_one_line(monkeypatch, tmp_path, argv):
    code, out, err = run_cli(monkeypatch, f"sqlite:///{tmp_path}/h.db", *argv)
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1


def test_an_existing_file_is_never_overwritten(monkeypatch, migrated_url, trail, tmp_path):
    output = tmp_path / "audit.jsonl"
    output.write_text("keep me")
    code, _, err = run_cli(monkeypatch, migrated_url, "audit-export", "--output", str(output))
    assert code == 2 and "cannot create" in err and output.read_text() == "keep me"


def test_an_unreadable_database_exits_2_and_leaves_no_file(monkeypatch, tmp_path):
    output = tmp_path / "audit.jsonl"
    code, _, err = run_cli(monkeypatch, f"sqlite:///{tmp_path}/empty.db", "audit-export",
                           "--output", str(output))
    assert code == 2 and "cannot read the audit trail" in err and not output.exists()


def test_a_tampered_trail_is_reported(monkeypatch, tmp_path):
    # SQLite only: on PostgreSQL the trigger refuses the UPDATE itself (tests/db).
    url = f"sqlite:///{tmp_path}/tampered.db"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        for ticket in (10, 11):
            append_audit(session, kind="plan", ticket_id=ticket)
        session.commit()
        session.execute(text("UPDATE audit_records SET ticket_id = 99 WHERE id = 2"))
        session.commit()
    engine.dispose()
    code, out, _ = run_cli(monkeypatch, url, "audit-export", "--output", str(tmp_path / "a.jsonl"))
    assert code == 0 and json.loads(out)["chain_intact"] is False
    assert json.loads(out)["first_broken_record"] == 2


def keyed_trail(url: str, key: bytes = KEY.encode(), tickets=(10, 11, 12, 13)) -> None:
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine, audit_key=key)() as session:
        for ticket in tickets:
            append_audit(session, kind="plan", ticket_id=ticket)
        session.commit()
    engine.dispose()


def sqlite_exec(url: str, statement: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_rows_removed_after_an_exported_head_show(monkeypatch, tmp_path):
    # Issue 16, item 8: deleting the newest rows leaves a chain that holds; the head kept
    # from an export says they were there. SQLite only (PostgreSQL's trigger refuses DELETE).
    url = f"sqlite:///{tmp_path}/trail.db"
    keyed_trail(url)
    code, out, _ = run_cli(monkeypatch, url, "audit-export", "--output", str(tmp_path / "a.jsonl"))
    head = json.loads(out)["chain_head"]
    code, out, _ = run_cli(monkeypatch, url, "audit-verify", "--head", head)
    assert code == 0 and json.loads(out)["head_found"] is True
    sqlite_exec(url, "DELETE FROM audit_records WHERE id >= 3")
    code, out, err = run_cli(monkeypatch, url, "audit-verify", "--head", head)
    assert code == 1 and out == ""
    reported = json.loads(err.removeprefix("error: "))
    assert reported["head_found"] is False and reported["chain_intact"] is False
    assert reported["first_broken_record"] is None  # what is left still holds


def test_a_record_rewritten_without_the_key_breaks_the_chain(monkeypatch, tmp_path):
    # The unkeyed chain could be rewritten by anyone with the database: change a record,
    # recompute its SHA-256. Keyed, the rewrite shows.
    from helpdesk_app.storage.audit_chain import audit_hash
    from helpdesk_app.storage.models import AuditRecord

    url = f"sqlite:///{tmp_path}/trail.db"
    keyed_trail(url, tickets=(10, 11))
    engine = make_engine(url)
    with engine.begin() as connection:
        row = dict(connection.execute(AuditRecord.__table__.select().where(AuditRecord.id == 2)).mappings().one())
        row["ticket_id"] = 99
        connection.execute(text("UPDATE audit_records SET ticket_id = 99, hash = :h WHERE id = 2"),
                           {"h": audit_hash(row["prev_hash"], row)})
    engine.dispose()
    code, _, err = run_cli(monkeypatch, url, "audit-verify")
    assert code == 1 and json.loads(err.removeprefix("error: "))["first_broken_record"] == 2


def test_no_command_at_all_prints_the_usage_and_exits_2(monkeypatch, tmp_path):
    code, out, err = run_cli(monkeypatch, f"sqlite:///{tmp_path}/h.db")
    assert code == 2 and out == ""
    assert err.startswith("usage: python -m helpdesk_app")
    for command in ("audit-export", "audit-verify", "triage", "requeue", "plan", "run"):
        assert command in err


def test_the_module_alone_prints_its_usage(tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpdesk_app"], capture_output=True, text=True,
                            env={"DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}, timeout=60)
    assert result.returncode == 2 and result.stdout == "" and "plan" in result.stderr
    assert result.stderr.startswith("usage: ")


def test_the_module_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpdesk_app", "audit-export"],
                            capture_output=True, text=True, env={"DATABASE_URL": f"sqlite:///{tmp_path}/h.db"})
    assert result.returncode == 2 and result.stdout == "" and "--output" in result.stderr


def test_the_worker_refuses_to_start_without_its_settings(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/h.db", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "helpdesk_app.worker"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
