"""case_keys: data keys per case, stored wrapped by the master key

Revision ID: 0010_t14crypt
Revises: 0009_t13delivery
Create Date: 2026-12-06 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0010_t14crypt"
down_revision = "0009_t13delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_keys",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=True),
        sa.Column("master_key_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("destroyed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_case_keys")),
        sa.UniqueConstraint("owner", name=op.f("uq_case_keys_owner")),
    )


def downgrade() -> None:
    op.drop_table("case_keys")
