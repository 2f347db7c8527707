"""case_records: the hand-over, challenge, family step, agency returns and meeting guests

Revision ID: 0014_t15pathways
Revises: 0012_t14files
Create Date: 2026-12-06 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0014_t15pathways"
down_revision = "0012_t14files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_records",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "kind", "key", name=op.f("pk_case_records")),
    )


def downgrade() -> None:
    op.drop_table("case_records")
