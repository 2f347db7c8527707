"""retention: legal holds, the erasure register, cases.erased_at

Revision ID: 0011_t14retention
Revises: 0010_t14crypt
Create Date: 2026-12-06 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0011_t14retention"
down_revision = "0010_t14crypt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("erased_at", UtcDateTime(), nullable=True))
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("placed_at", UtcDateTime(), nullable=False),
        sa.Column("placed_by_aad_id", sa.String(length=64), nullable=False),
        sa.Column("placed_by_name", sa.String(length=100), nullable=False),
        sa.Column("lifted_at", UtcDateTime(), nullable=True),
        sa.Column("lifted_by_aad_id", sa.String(length=64), nullable=True),
        sa.Column("lifted_by_name", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_case_id"), "legal_holds", ["case_id"], unique=False)
    op.create_table(
        "erasures",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("confirmed_by_aad_id", sa.String(length=64), nullable=False),
        sa.Column("confirmed_by_name", sa.String(length=100), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("reference", name=op.f("uq_erasures_reference")),
    )


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_index(op.f("ix_legal_holds_case_id"), table_name="legal_holds")
    op.drop_table("legal_holds")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("erased_at")
