"""Upstream request budgets shared by every process, when there is no Redis.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_slots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket", sa.String(200), nullable=False),
        sa.Column("taken_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_slots"),
    )
    op.create_index("ix_rate_slots_bucket_taken_at", "rate_slots", ["bucket", "taken_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_slots_bucket_taken_at", "rate_slots")
    op.drop_table("rate_slots")
