"""Dead letters: a delivery whose attempts reached DELIVERY_MAX_ATTEMPTS is `dead`, and a
delivery keeps its last error (a job's traceback included) for the operator's view.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_STATUSES = ("received", "processing", "processed", "ignored", "failed")
NEW_STATUSES = OLD_STATUSES + ("dead",)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a CHECK constraint in place (the table is rebuilt).
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("last_error", sa.JSON(), nullable=True))
        deliveries.drop_constraint("ck_deliveries_status", type_="check")
        deliveries.create_check_constraint("ck_deliveries_status", _one_of("status", NEW_STATUSES))


def downgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'failed' WHERE status = 'dead'")
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_constraint("ck_deliveries_status", type_="check")
        deliveries.create_check_constraint("ck_deliveries_status", _one_of("status", OLD_STATUSES))
        deliveries.drop_column("last_error")
