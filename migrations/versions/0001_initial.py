"""Initial schema: deliveries, runs and their events, escalations, audit records, findings.

Hand-written, to match `helpdesk_app/storage/models.py` (a test compares the two). On PostgreSQL a
trigger makes audit_records append-only for every role, the service's included.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _one_of(column: str, *values: str) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "deliveries",
        _id(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("delivery_key", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("source", "delivery_key", name="uq_deliveries_source_delivery_key"),
        sa.CheckConstraint(_one_of("source", "zendesk", "gitlab"), name="ck_deliveries_source"),
        sa.CheckConstraint(_one_of("status", "received", "processing", "processed", "ignored", "failed"),
                           name="ck_deliveries_status"),
    )
    op.create_index("ix_deliveries_received_at", "deliveries", ["received_at"])
    op.create_index("ix_deliveries_status", "deliveries", ["status"])

    op.create_table(
        "runs",
        _id(),
        sa.Column("workflow", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("override_ids", sa.JSON(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint("idempotency_key", name="uq_runs_idempotency_key"),
        sa.CheckConstraint(
            _one_of("state", "queued", "running", "succeeded", "failed", "superseded", "escalated"),
            name="ck_runs_state"),
    )
    op.create_index("ix_runs_ticket_id_created_at", "runs", ["ticket_id", "created_at"])
    op.create_index("ix_runs_state_lease_expires_at", "runs", ["state", "lease_expires_at"])

    op.create_table(
        "run_events",
        _id(),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_events"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_events_run_id_runs",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_run_events_run_id_at", "run_events", ["run_id", "at"])

    op.create_table(
        "escalations",
        _id(),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("workflow", sa.String(64), nullable=False),
        sa.Column("gitlab_issue_iid", sa.BigInteger(), nullable=True),
        sa.Column("gitlab_issue_url", sa.String(2048), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("marker", sa.String(255), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
        sa.CheckConstraint(_one_of("state", "open", "closed"), name="ck_escalations_state"),
    )
    # At most one OPEN escalation per ticket and workflow; closed ones may pile up.
    op.create_index("uq_escalations_open_ticket_id_workflow", "escalations",
                    ["ticket_id", "workflow"], unique=True,
                    sqlite_where=sa.text("state = 'open'"),
                    postgresql_where=sa.text("state = 'open'"))
    op.create_index("ix_escalations_ticket_id", "escalations", ["ticket_id"])
    op.create_index("ix_escalations_gitlab_issue_iid", "escalations", ["gitlab_issue_iid"])

    op.create_table(
        "audit_records",
        _id(),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("agent", sa.JSON(), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("workflow", sa.String(64), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("upstream_request_ids", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_records"),
        sa.UniqueConstraint("hash", name="uq_audit_records_hash"),
        # Two appends that read the same head cannot both commit: the chain cannot fork.
        sa.UniqueConstraint("prev_hash", name="uq_audit_records_prev_hash"),
    )
    op.create_index("ix_audit_records_ticket_id_at", "audit_records", ["ticket_id", "at"])

    op.create_table(
        "ticket_findings",
        _id(),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("findings_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_findings"),
        sa.UniqueConstraint("ticket_id", name="uq_ticket_findings_ticket_id"),
    )

    if op.get_bind().dialect.name == "postgresql":
        _create_audit_trigger()


def _create_audit_trigger() -> None:
    # Row triggers do not fire on TRUNCATE, hence the statement-level one. The function
    # lives in the schema the table is created in (the first of the search_path).
    op.execute("""
        CREATE FUNCTION audit_records_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP;
        END;
        $$
    """)
    op.execute("""
        CREATE TRIGGER audit_records_append_only
        BEFORE UPDATE OR DELETE ON audit_records
        FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()
    """)
    op.execute("""
        CREATE TRIGGER audit_records_no_truncate
        BEFORE TRUNCATE ON audit_records
        FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records")
        op.execute("DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records")
        op.execute("DROP FUNCTION IF EXISTS audit_records_append_only()")
    op.drop_table("ticket_findings")
    op.drop_index("ix_audit_records_ticket_id_at", table_name="audit_records")
    op.drop_table("audit_records")
    op.drop_index("ix_escalations_gitlab_issue_iid", table_name="escalations")
    op.drop_index("ix_escalations_ticket_id", table_name="escalations")
    op.drop_index("uq_escalations_open_ticket_id_workflow", table_name="escalations")
    op.drop_table("escalations")
    op.drop_index("ix_run_events_run_id_at", table_name="run_events")
    op.drop_table("run_events")
    op.drop_index("ix_runs_state_lease_expires_at", table_name="runs")
    op.drop_index("ix_runs_ticket_id_created_at", table_name="runs")
    op.drop_table("runs")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_index("ix_deliveries_received_at", table_name="deliveries")
    op.drop_table("deliveries")
