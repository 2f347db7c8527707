"""events: correlation id and conversation (kind and id) of the turn that wrote them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: events written before this revision, and outside a turn (the outbox, the
    # scheduler), have none.
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("correlation", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("conversation_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("conversation_id", sa.String(length=400), nullable=True))
        batch.create_index(batch.f("ix_events_correlation"), ["correlation"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index(batch.f("ix_events_correlation"))
        batch.drop_column("conversation_id")
        batch.drop_column("conversation_kind")
        batch.drop_column("correlation")
