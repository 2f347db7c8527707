"""file_links: how each file went to its person (one-time link or file consent) and what became of it

Revision ID: 0012_t14files
Revises: 0010_t14crypt
Create Date: 2026-12-06 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0012_t14files"
down_revision = "0010_t14crypt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("file_links") as batch:
        batch.add_column(sa.Column("via", sa.String(length=10), nullable=False, server_default="link"))
        batch.add_column(sa.Column("outcome", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("delivered_at", UtcDateTime(), nullable=True))
    # Links fetched before this revision reached their person when they were fetched.
    op.execute("UPDATE file_links SET outcome = 'fetched', delivered_at = fetched_at WHERE fetched_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("file_links") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("outcome")
        batch.drop_column("via")
