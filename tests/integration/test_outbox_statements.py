"""How many different SQL texts a digest's gathering prepares. The SQLite driver keeps up to 128
prepared statements per connection, each about 200 bytes per value of an `IN (…)` list: a text
per count of "rows this process holds" filled the write connection's cache with some 20 MiB of
near-identical statements when 1,000 reminders fell due at once (README, Performance)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import event

from bot.adapters.db.database import Database
from bot.adapters.db.in_lists import padded_ids
from bot.app import sql_stores
from bot.services.ports import OutboxMessage

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_padded_ids_keep_the_set_and_come_in_powers_of_two() -> None:
    for count in range(0, 70):
        ids = random.Random(count).sample(range(1, 10_000), count)
        padded = padded_ids(ids)
        assert set(padded) == set(ids)
        assert len(padded) == 0 if count == 0 else (len(padded) & (len(padded) - 1)) == 0  # a power of two
        assert len(padded) < 2 * max(count, 1)


async def test_gathering_with_every_count_of_held_rows_prepares_a_handful_of_texts(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    texts: set[str] = set()

    def seen(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001 - SQLAlchemy's event signature
        if "outbox" in statement and " IN (" in statement:
            texts.add(statement)

    for engine in {db.engine, db._write_engine}:
        event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        stores = sql_stores(db, rng=random.Random(7))
        await stores.outbox.enqueue(
            [
                OutboxMessage(key=f"reminder:{n}:due>p{n}", kind="reminder", payload={"deadline_id": n, "to": f"p{n}"})
                for n in range(64)
            ],
            NOW,
        )
        leads = await stores.outbox.claim(NOW, 60, 64)
        assert len(leads) == 64
        texts.clear()  # the digests' statements only
        held = {lead.id for lead in leads}
        for lead in leads:  # one digest after another, each leaving the batch this process holds
            held.discard(lead.id)
            gathered = await stores.outbox.gather(lead, lead.payload["to"], NOW, 14, mine=held)
            assert [i.id for i in gathered] == [lead.id]  # nobody else's rows, and no one's twice
        assert 0 < len(texts) <= 8  # 63 counts of held rows, powers of two: 7 texts (and the empty list's)
    finally:
        await db.dispose()
