"""The schema, as the migration makes it, on SQLite and PostgreSQL: uniqueness that makes
retries harmless, one open escalation per ticket and workflow, and an append-only audit
trail whose hash chain shows tampering."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from helpdesk_app.storage.audit_chain import GENESIS_HASH, append_audit, find_audit_break, verify_audit_chain
from helpdesk_app.storage.database import make_engine, make_session_factory, normalise_url
from helpdesk_app.storage.migrate import alembic_config, upgrade
from helpdesk_app.storage.models import (
    AppendOnlyError,
    AuditRecord,
    Base,
    Delivery,
    Escalation,
    Run,
    RunEvent,
    TicketFindings,
    utcnow,
)

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"deliveries", "runs", "run_events", "escalations", "audit_records", "ticket_findings",
          "leases", "rate_slots"}


def delivery(**overrides) -> Delivery:
    values = dict(source="zendesk", delivery_key="evt-1", body=b'{"id":"evt-1"}',
                  headers={"X-Zendesk-Webhook-Invocation-Id": "inv-1"})
    return Delivery(**{**values, **overrides})


def run(**overrides) -> Run:
    values = dict(workflow="associate", ticket_id=42, inputs={"subscription": "A-S00000001"},
                  plan={"decision": "ready", "checks": []}, decision="ready", agent_id=9000,
                  agent={"name": "Agent", "email": "agent@vendor.test"},
                  idempotency_key="key-1", request_hash="a" * 64)
    return Run(**{**values, **overrides})


def escalation(**overrides) -> Escalation:
    values = dict(ticket_id=42, workflow="associate", marker="[lnr:escalation:42:associate]")
    return Escalation(**{**values, **overrides})


def append_some(sessions, count: int, ticket_id: int = 42) -> None:
    for i in range(count):
        with sessions.begin() as session:
            append_audit(session, kind="run", ticket_id=ticket_id, workflow="associate",
                         agent={"id": 9000, "name": "Agent"}, inputs={"i": i, "note": "é ✓"},
                         checks=[{"id": "subscription_exists", "verdict": "pass"}],
                         outcome={"state": "succeeded"}, upstream_request_ids=("req-1", "req-2"))


# --- The migration --------------------------------------------------------------------


def test_upgrade_to_head_creates_every_table(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        inspector = inspect(engine)
        assert TABLES | {"alembic_version"} <= set(inspector.get_table_names())
        indexes = {i["name"]: i for i in inspector.get_indexes("escalations")}
        assert indexes["uq_escalations_open_ticket_id_workflow"]["unique"]
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0004"
            if engine.dialect.name == "postgresql":
                triggers = set(conn.scalars(text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_records'::regclass"
                    " AND NOT tgisinternal")))
                assert triggers == {"audit_records_append_only", "audit_records_no_truncate"}
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_removes_everything(database_url):
    upgrade(database_url)
    upgrade(database_url)  # the release phase runs on every deploy
    command.downgrade(alembic_config(database_url), "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(database_url)


def test_hand_written_migration_matches_the_models(engine):
    with engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert differences == []


def test_console_entry_migrates_the_database_of_the_environment(tmp_path):
    # Relative path and another working directory: the release phase's situation.
    env = {**os.environ, "DATABASE_URL": "sqlite:///var/data/helpdesk.db",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "helpdesk_app.storage.migrate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    engine = make_engine(f"sqlite:///{tmp_path / 'var/data/helpdesk.db'}")
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_console_entry_fails_with_exit_code_2_and_hides_the_password(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "DATABASE_URL": "postgresql://svc:hunter2-secret@127.0.0.1:1/nowhere"}
    done = subprocess.run([sys.executable, "-m", "helpdesk_app.storage.migrate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "migration failed" in done.stderr
    assert "hunter2-secret" not in done.stderr + done.stdout


# --- Engines --------------------------------------------------------------------------


def test_sqlite_engine_uses_wal_and_a_busy_timeout_and_creates_the_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite:///instance/helpdesk.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (tmp_path / "instance" / "helpdesk.db").is_file()
    finally:
        engine.dispose()


@pytest.mark.parametrize("given", ["postgres://u@db/app", "postgresql://u@db/app",
                                   "postgresql+psycopg://u@db/app"])
def test_postgres_urls_use_psycopg_3(given):
    assert normalise_url(given).drivername == "postgresql+psycopg"


def test_postgres_engine_pings_before_using_a_pooled_connection():
    engine = make_engine("postgresql://u@127.0.0.1:1/app")
    assert engine.pool._pre_ping
    engine.dispose()


# --- Uniqueness that makes retries harmless -----------------------------------------------


def test_delivery_key_is_unique_per_source(sessions):
    with sessions.begin() as session:
        session.add(delivery())
        session.add(delivery(source="gitlab"))  # same key, other source: a different delivery
    with pytest.raises(IntegrityError):
        with sessions.begin() as session:
            session.add(delivery(body=b"retry"))
    with sessions() as session:
        stored = session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [(d.source, d.status, d.attempts) for d in stored] == [
        ("zendesk", "received", 0), ("gitlab", "received", 0)]
    assert stored[0].body == b'{"id":"evt-1"}'
    assert stored[0].headers == {"X-Zendesk-Webhook-Invocation-Id": "inv-1"}


def test_delivery_status_and_source_are_constrained(sessions):
    for bad in (delivery(source="github"), delivery(status="done")):
        with pytest.raises(IntegrityError):
            with sessions.begin() as session:
                session.add(bad)


def test_run_idempotency_key_is_unique(sessions):
    with sessions.begin() as session:
        session.add(run())
    with pytest.raises(IntegrityError):
        with sessions.begin() as session:
            session.add(run(request_hash="b" * 64))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1


def test_run_keeps_its_timeline_and_timestamps_in_utc(sessions):
    with sessions.begin() as session:
        stored = run(lease_owner="worker-1",
                     lease_expires_at=datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
        stored.record("claimed", {"owner": "worker-1"})
        stored.record("step.done", {"step": "link"})
        session.add(stored)
    with sessions() as session:
        loaded = session.get(Run, stored.id)
        assert [e.kind for e in loaded.events] == ["claimed", "step.done"]
        assert loaded.lease_expires_at == datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
        assert loaded.lease_expires_at.utcoffset() == timedelta(0)
        assert loaded.created_at.tzinfo is not None and loaded.outcome is None
        assert loaded.state == "queued" and loaded.override_ids == []
        # The sweeper's question: which leases have expired?
        expired = session.scalars(select(Run.id).where(
            Run.lease_expires_at < datetime(2026, 3, 1, 10, 30, tzinfo=timezone.utc))).all()
        assert expired == [stored.id]
        session.delete(loaded)
        session.commit()
        assert session.scalar(select(func.count()).select_from(RunEvent)) == 0


def test_naive_datetimes_are_refused(sessions):
    with pytest.raises(StatementError, match="naive datetime"):
        with sessions.begin() as session:
            session.add(run(started_at=datetime(2026, 1, 1, 12, 0)))


def test_ticket_findings_are_one_row_per_ticket(sessions):
    with sessions.begin() as session:
        session.add(TicketFindings(ticket_id=7, findings={"subscriptions": []}, findings_hash="f" * 64))
    with pytest.raises(IntegrityError):
        with sessions.begin() as session:
            session.add(TicketFindings(ticket_id=7, findings={}, findings_hash="e" * 64))


# --- Escalations ------------------------------------------------------------------------


def test_at_most_one_open_escalation_per_ticket_and_workflow(sessions):
    with sessions.begin() as session:
        first = escalation()
        session.add(first)
        session.add(escalation(workflow="clear_subscription"))  # another workflow: allowed
        session.add(escalation(ticket_id=43))  # another ticket: allowed
    with pytest.raises(IntegrityError):
        with sessions.begin() as session:
            session.add(escalation())
    with sessions.begin() as session:
        session.get(Escalation, first.id).state = "closed"
    with sessions.begin() as session:
        session.add(escalation(gitlab_issue_iid=12, gitlab_issue_url="https://gitlab.test/e/-/issues/12"))
    with sessions() as session:
        states = session.scalars(select(Escalation.state).where(
            Escalation.ticket_id == 42, Escalation.workflow == "associate").order_by(Escalation.id)).all()
    assert states == ["closed", "open"]


# --- The audit trail -------------------------------------------------------------------


def test_audit_chain_links_every_record_to_the_one_before(sessions):
    append_some(sessions, 3)
    with sessions() as session:
        records = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
        assert verify_audit_chain(session)
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert records[0].upstream_request_ids == ["req-1", "req-2"]
    assert records[0].at.tzinfo is not None


def test_an_empty_audit_trail_verifies(sessions):
    with sessions() as session:
        assert verify_audit_chain(session)


def test_a_rolled_back_append_leaves_the_chain_intact(sessions):
    append_some(sessions, 1)
    with sessions() as session:
        append_audit(session, kind="plan", ticket_id=42)
        session.rollback()
    append_some(sessions, 1)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 2
        assert verify_audit_chain(session)


def test_append_audit_refuses_what_it_cannot_hash_faithfully(sessions):
    with sessions() as session:
        with pytest.raises(TypeError, match="unknown audit fields: colour"):
            append_audit(session, kind="plan", colour="red")
        with pytest.raises(TypeError, match="kind"):
            append_audit(session, ticket_id=1)
        with pytest.raises(TypeError, match="ticket_id"):
            append_audit(session, kind="plan", ticket_id="42")
        with pytest.raises(ValueError):
            append_audit(session, kind="plan", outcome={"ratio": float("nan")})


def test_the_chain_cannot_fork(sessions):
    append_some(sessions, 1)
    with pytest.raises(IntegrityError):
        with sessions.begin() as session:
            session.add(AuditRecord(at=utcnow(), kind="run", prev_hash=GENESIS_HASH, hash="f" * 64))


def test_orm_refuses_to_update_or_delete_an_audit_record(sessions):
    append_some(sessions, 2)
    with sessions() as session:
        record = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).first()
        record.override_reason = "nothing to see"
        with pytest.raises(AppendOnlyError, match="update"):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(AuditRecord)).first())
        with pytest.raises(AppendOnlyError, match="delete"):
            session.flush()
        session.rollback()
        with pytest.raises(AppendOnlyError):
            session.execute(update(AuditRecord).values(kind="x"))
        with pytest.raises(AppendOnlyError):
            session.execute(delete(AuditRecord))
        session.rollback()
        assert verify_audit_chain(session)


def test_tampering_shows_on_sqlite_and_is_refused_on_postgresql(sessions, engine):
    append_some(sessions, 3)
    with sessions() as session:
        second = session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)).all()[1]
    tamper = text("UPDATE audit_records SET override_reason = 'approved' WHERE id = :id")
    remove = text("DELETE FROM audit_records WHERE id = :id")
    if engine.dialect.name == "postgresql":
        for statement in (tamper, remove, text("TRUNCATE audit_records")):
            with pytest.raises(DBAPIError, match="append-only"):
                with engine.begin() as conn:
                    conn.execute(statement, {"id": second})
        with sessions() as session:
            assert verify_audit_chain(session)
        return
    with engine.begin() as conn:
        conn.execute(tamper, {"id": second})
    with sessions() as session:
        assert not verify_audit_chain(session)
        assert find_audit_break(session) == second
    # Removing the tampered record instead: the next one no longer links.
    with engine.begin() as conn:
        conn.execute(remove, {"id": second})
    with sessions() as session:
        assert find_audit_break(session) == second + 1


def test_concurrent_appends_keep_one_valid_chain(engine):
    sessions = make_session_factory(make_engine(engine.url, pool_size=4))
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def appender(worker: int) -> None:
        try:
            start.wait()
            append_some(sessions, 10, ticket_id=worker)
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    sessions.kw["bind"].dispose()
    assert errors == []
    with make_session_factory(engine)() as session:
        records = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
        assert verify_audit_chain(session)
    assert len(records) == 40
    assert sorted(r.ticket_id for r in records) == sorted([0, 1, 2, 3] * 10)
