"""Durable execution: leases and schedules for runs and deliveries, and the sweeper's lease.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        # When the next attempt may start (a transient failure's backoff); NULL: now.
        runs.add_column(sa.Column("next_attempt_at", UTC, nullable=True))
        # When a queue last took the run's id; NULL: never dispatched (the sweeper will).
        runs.add_column(sa.Column("dispatched_at", UTC, nullable=True))
        # When the result reached the ticket; NULL on a finished run: post-back still due.
        runs.add_column(sa.Column("reported_at", UTC, nullable=True))
        runs.add_column(sa.Column("last_error", sa.JSON(), nullable=True))
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("lease_owner", sa.String(255), nullable=True))
        deliveries.add_column(sa.Column("lease_expires_at", UTC, nullable=True))
        deliveries.add_column(sa.Column("next_attempt_at", UTC, nullable=True))
        deliveries.add_column(sa.Column("dispatched_at", UTC, nullable=True))
    op.create_index("ix_deliveries_status_lease_expires_at", "deliveries",
                    ["status", "lease_expires_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_deliveries_status_lease_expires_at", "deliveries")
    with op.batch_alter_table("deliveries") as deliveries:
        for column in ("dispatched_at", "next_attempt_at", "lease_expires_at", "lease_owner"):
            deliveries.drop_column(column)
    with op.batch_alter_table("runs") as runs:
        for column in ("last_error", "reported_at", "dispatched_at", "next_attempt_at"):
            runs.drop_column(column)
