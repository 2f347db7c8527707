"""file_links: one-time links to a file for one named person

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_links",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("issued_to", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=True),
    )
    op.create_index(op.f("ix_file_links_case_id"), "file_links", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_file_links_case_id"), table_name="file_links")
    op.drop_table("file_links")
