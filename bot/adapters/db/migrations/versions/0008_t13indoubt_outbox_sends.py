"""outbox_sends: each message the outbox sends, recorded as in doubt before it leaves

Revision ID: 0008_t13indoubt
Revises: 0007
Create Date: 2026-12-06 04:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_t13indoubt"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_sends",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("send_key", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=400), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("activity_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("send_key", name="uq_outbox_sends_send_key"),
    )


def downgrade() -> None:
    op.drop_table("outbox_sends")
