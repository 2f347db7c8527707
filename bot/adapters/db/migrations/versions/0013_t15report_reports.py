"""reports: the rapid review report after the meeting (sealed body)

Revision ID: 0013_t15report
Revises: 0014_t15pathways
Create Date: 2026-12-06 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0013_t15report"
down_revision = "0014_t15pathways"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_reports")),
    )


def downgrade() -> None:
    op.drop_table("reports")
