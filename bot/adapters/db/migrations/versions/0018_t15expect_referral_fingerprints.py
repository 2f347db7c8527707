"""referral_fingerprints: keyed hashes of a referral's children (name and date of birth) with
its incident date, to flag a second referral of the same incident as a likely duplicate

Revision ID: 0018_t15expect
Revises: 0017_t15lcspr
Create Date: 2026-12-06 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime

revision = "0018_t15expect"
down_revision = "0017_t15lcspr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_fingerprints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("incident_date", sa.Date(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "key_id", "fingerprint", name="uq_referral_fingerprints_case"),
    )
    op.create_index("ix_referral_fingerprints_case_id", "referral_fingerprints", ["case_id"])
    op.create_index("ix_referral_fingerprints_match", "referral_fingerprints", ["incident_date", "fingerprint"])


def downgrade() -> None:
    op.drop_index("ix_referral_fingerprints_match", table_name="referral_fingerprints")
    op.drop_index("ix_referral_fingerprints_case_id", table_name="referral_fingerprints")
    op.drop_table("referral_fingerprints")
