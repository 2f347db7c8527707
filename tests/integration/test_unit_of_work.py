"""One unit of work: a use case that writes in several places writes all of it or none.

Each test drives a real case over HTTP (as `python -m bot` serves it, on SQLite and on
PostgreSQL), then kills the use case between its writes — an exception injected into the
second write inside the transaction — and reads the database back: nothing of the
interrupted change is there, and pressing again afterwards works.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.db.case_store import SqlCaseStore
from bot.adapters.db.deadline_store import SqlDeadlineStore
from bot.domain.case import CaseStatus
from cards import meeting_cards as M
from tests.integration.test_meeting_graph import OUTCOME, REF, decide, meeting_of, walk_to_outcome_card
from tests.support import activities as A
from tests.support.harness import BotHarness, find_action, texts


class Killed(RuntimeError):
    """Stands for the process dying part-way through a use case."""


@contextmanager
def killed_at(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> Iterator[list[str]]:
    """Make `cls.method` raise when called inside a unit of work (a store bound to a
    transaction's connection), after whatever the use case wrote before it."""
    original = getattr(cls, method)
    calls: list[str] = []

    async def dying(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.scope.conn is not None:
            calls.append(method)
            raise Killed(method)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, dying)
    yield calls
    monkeypatch.setattr(cls, method, original)


async def _outbox_kinds(h: BotHarness, case_id: str) -> list[str]:
    from sqlalchemy import select

    from bot.adapters.db import schema as t

    async with h.c.db.read() as conn:
        rows = await conn.execute(select(t.outbox.c.kind).where(t.outbox.c.case_id == case_id))
        return [r.kind for r in rows]


async def test_recording_the_outcome_is_all_or_nothing(tmp_path: Path, database_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await decide(h)
        save = find_action(await walk_to_outcome_card(h, case_id), M.OUTCOME)
        events_before = await h.c.stores.cases.events_for_case(case_id)
        outbox_before = await _outbox_kinds(h, case_id)

        # The meeting row is written first; the process dies at the next write (the anchor).
        with killed_at(monkeypatch, SqlDeadlineStore, "set_anchor") as calls:
            body = await h.press(A.CHRIS, M.OUTCOME, {**save, **OUTCOME})
        assert calls == ["set_anchor"], "the kill happened after the first write"
        assert body["statusCode"] == 500 and "Nothing was changed" in body["value"]["message"]

        assert (await meeting_of(h, case_id)).status == "booked"
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.MEETING_SCHEDULED
        assert await h.c.stores.cases.events_for_case(case_id) == events_before
        assert await _outbox_kinds(h, case_id) == outbox_before

        body = await h.press(A.CHRIS, M.OUTCOME, {**save, **OUTCOME})  # the chair presses again
        assert body["statusCode"] == 200 and "Rapid review meeting held" in texts(body["value"])
        assert (await meeting_of(h, case_id)).status == "held"
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.MEETING_HELD


async def test_marking_a_step_done_is_all_or_nothing(tmp_path: Path, database_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await decide(h)
        rows = await h.c.stores.deadlines.deadlines(case_id)
        step = next(r for r in rows if r.status == "open" and r.asks_for_date)
        events_before = await h.c.stores.cases.events_for_case(case_id)
        data = {"verb": "deadline.done", "action": "deadline.done", "ref": REF, "q": step.id,
                "done_on": h.clock.now().date().isoformat()}

        # The step is marked done first; the process dies while auditing it.
        with killed_at(monkeypatch, SqlCaseStore, "add_event") as calls:
            body = await h.press(A.PAT, "deadline.done", data)
        assert calls == ["add_event"]
        assert body["statusCode"] == 500 and "Nothing was changed" in body["value"]["message"]

        again = await h.c.stores.deadlines.deadline(step.id)
        assert again is not None and again.status == "open" and again.done_at is None
        assert await h.c.stores.cases.events_for_case(case_id) == events_before
        assert (await h.c.stores.deadlines.anchors(case_id)).get(step.records) is None if step.records else True

        body = await h.press(A.PAT, "deadline.done", data)
        assert body["statusCode"] == 200
        done = await h.c.stores.deadlines.deadline(step.id)
        assert done is not None and done.status == "done" and done.done_by_name == A.PAT.name
