"""unreachable_people: people Teams would not deliver to, whose messages wait for them

Revision ID: 0009_t13delivery
Revises: 0008_t13indoubt
Create Date: 2026-12-06 04:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_t13delivery"
down_revision = "0008_t13indoubt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unreachable_people",
        sa.Column("aad_object_id", sa.String(length=36), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("aad_object_id", name=op.f("pk_unreachable_people")),
    )


def downgrade() -> None:
    op.drop_table("unreachable_people")
