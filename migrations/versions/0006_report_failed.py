"""A run whose post-back can never land: state `report_failed`.

The CHECK on runs.state gains one value. On PostgreSQL that is a drop and an add. On SQLite
a CHECK cannot be altered, and recreating `runs` is no option: with foreign keys on, its
drop would cascade to every run event. Widening a CHECK changes nothing stored, which is
the case SQLite documents for editing the schema text in place
(https://www.sqlite.org/lang_altertable.html#otheralter).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = ("queued", "running", "succeeded", "failed", "superseded", "escalated")
NEW = (*OLD, "report_failed")
# The name the model's naming convention gave it (ck_<table>_ + the name 0001 chose).
NAME = "ck_runs_ck_runs_state"


def _check(states: tuple[str, ...]) -> str:
    return f"state IN ({', '.join(repr(s) for s in states)})"


def _sqlite_rewrite(old: str, new: str) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type='table' AND name='runs'")).scalar_one()
    if old not in sql:
        raise RuntimeError("runs.state's CHECK is not the one this migration expects")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema=ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type='table' AND name='runs'"),
                 {"sql": sql.replace(old, new)})
    bind.execute(sa.text(f"PRAGMA schema_version={int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema=OFF"))


def _replace(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rewrite(_check(old), _check(new))
        return
    op.execute(f"ALTER TABLE runs DROP CONSTRAINT IF EXISTS {NAME}")
    op.execute("ALTER TABLE runs DROP CONSTRAINT IF EXISTS ck_runs_state")
    op.execute(f"ALTER TABLE runs ADD CONSTRAINT {NAME} CHECK ({_check(new)})")


def upgrade() -> None:
    _replace(OLD, NEW)


def downgrade() -> None:
    op.execute("UPDATE runs SET state = 'failed' WHERE state = 'report_failed'")
    _replace(NEW, OLD)
