"""audit chain: each event carries its predecessor's hash; the table refuses UPDATE and DELETE

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:30:00.000000

Rows already written are chained here, in id order, before the triggers exist. From then on
the database itself refuses to change or remove an audit row, on both engines (a PostgreSQL
superuser's plain UPDATE included; TRUNCATE too). A later migration that has to rebuild the
events table (SQLite's batch mode copies and drops it) must create the triggers again.
"""

import sqlalchemy as sa
from alembic import op

from bot.adapters.db.schema import UtcDateTime
from bot.domain import audit_chain

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REFUSAL = "audit events are append-only"
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
    f"CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()",
    "CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()",
)


def _chain_existing_rows() -> None:
    bind = op.get_bind()
    # Typed as the bot reads them, so each row hashes exactly as the verifier will see it.
    typed = {"at": UtcDateTime(), "detail": sa.JSON()}
    events = sa.table("events", *(sa.column(name, typed.get(name)) for name in ("id", "prev_hash", "row_hash",
                                                                               *audit_chain.HASHED_FIELDS)))
    rows = bind.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    prev = audit_chain.GENESIS
    for row in rows:
        fields = dict(row)
        digest = audit_chain.row_hash(fields, prev)
        bind.execute(events.update().where(events.c.id == row["id"]).values(prev_hash=prev, row_hash=digest))
        prev = digest


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    _chain_existing_rows()
    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only_truncate ON events")
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
