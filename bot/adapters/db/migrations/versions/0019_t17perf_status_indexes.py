"""ix_cases_open and ix_deadlines_open_due: partial indexes holding what `status` reads of the
open cases and of their open dated steps, so it reads neither table's rows

Revision ID: 0019_t17perf
Revises: 0018_t15expect
Create Date: 2026-12-06 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_t17perf"
down_revision = "0018_t15expect"
branch_labels = None
depends_on = None

# As bot/adapters/db/schema.py has them at this revision.
OPEN_CASE = "closed_at IS NULL AND erased_at IS NULL"
OPEN_CASES_COLUMNS = ["reference", "id", "pseudonym", "status", "closed_at", "erased_at"]
OPEN_STEP = "status = 'open' AND due_at IS NOT NULL"
OPEN_STEPS_COLUMNS = ["status", "due_at", "case_id", "records", "position", "label"]


# name -> (table, columns, condition)
INDEXES = {
    "ix_cases_open": ("cases", OPEN_CASES_COLUMNS, OPEN_CASE),
    "ix_deadlines_open_due": ("deadlines", OPEN_STEPS_COLUMNS, OPEN_STEP),
}


def upgrade() -> None:
    for name, (table, columns, where) in INDEXES.items():
        op.create_index(name, table, columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, (table, _columns, _where) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)
