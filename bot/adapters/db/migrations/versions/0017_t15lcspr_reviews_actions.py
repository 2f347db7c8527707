"""reviews, review_entries, case_actions: the local review, its agency reports and progress
checks, and the actions from the meeting and the review

Revision ID: 0017_t15lcspr
Revises: 0013_t15report (re-chained after main merged 0012)
Create Date: 2026-12-06 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0017_t15lcspr"
down_revision = "0013_t15report"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("case_id", sa.String(length=36), primary_key=True),
        sa.Column("setup", sa.JSON(), nullable=True),
        sa.Column("agencies_asked", sa.JSON(), nullable=False),
        sa.Column("learning", sa.Text(), nullable=True),
        sa.Column("report_sent_on", sa.Date(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("late_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by_name", sa.String(length=100), nullable=True),
    )
    op.create_table(
        "review_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_by_name", sa.String(length=100), nullable=False),
    )
    op.create_index(op.f("ix_review_entries_case_id"), "review_entries", ["case_id"], unique=False)
    op.create_table(
        "case_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_agency", sa.String(length=100), nullable=False),
        sa.Column("owner_aad_id", sa.String(length=64), nullable=False),
        sa.Column("owner_name", sa.String(length=100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by_name", sa.String(length=100), nullable=False),
        sa.Column("done_at", UtcDateTime(), nullable=True),
        sa.Column("done_by_name", sa.String(length=100), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
    )
    op.create_index(op.f("ix_case_actions_case_id"), "case_actions", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_actions_case_id"), table_name="case_actions")
    op.drop_table("case_actions")
    op.drop_index(op.f("ix_review_entries_case_id"), table_name="review_entries")
    op.drop_table("review_entries")
    op.drop_table("reviews")
