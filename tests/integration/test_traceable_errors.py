"""Every error can be traced: a turn's short correlation id is in the reply someone sees
("… (reference ab12cd34)"), in the failure's log line and in the audit rows written during
that turn, and every audit row says where it came from (docs/architecture.md,
"Confidentiality"; bot/domain/trace.py)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.services import deadlines
from bot.services.access import CASE_DENIED
from bot.services.audit import audit
from bot.services.context import ServiceContext
from cards import clock_cards
from tests.integration.test_clock_http import REF, refer
from tests.support import activities as A
from tests.support.harness import BotHarness

REFERENCE = re.compile(r"\(reference ([0-9a-f]{8})\)$")
TIMELINE = {"verb": clock_cards.TIMELINE, "action": clock_cards.TIMELINE, "ref": REF}
SECRET = "Zqxwv typed about the child"


class Broken(RuntimeError):
    """A use case that fails part-way, with text that must never reach the log."""


async def audit_rows(h: BotHarness, **where: Any) -> list[Any]:
    query = select(t.events).order_by(t.events.c.id)
    for column, value in where.items():
        query = query.where(t.events.c[column] == value)
    async with h.c.db.read() as conn:
        return list(await conn.execute(query))


def reference_in(message: str) -> str:
    found = REFERENCE.search(message)
    assert found, f"no reference at the end of {message!r}"
    return found.group(1)


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(tmp_path) as harness:
        await refer(harness)
        yield harness


async def test_a_failed_card_action_quotes_a_reference_found_in_the_log_and_the_audit_rows(
        bot: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    h = bot

    async def failing(ctx: ServiceContext, actor: Actor, reference: str) -> Any:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "timeline"})  # written, then it fails
        raise Broken(SECRET)

    monkeypatch.setattr(deadlines, "timeline", failing)
    with caplog.at_level(logging.ERROR, logger="bot.teams.edge"):
        body = await h.press(A.PAT, clock_cards.TIMELINE, TIMELINE, channel=True)

    assert body["statusCode"] == 500
    message = body["value"]["message"]
    assert message.startswith("Sorry, something went wrong. Nothing was changed; please try again. (reference ")
    correlation = reference_in(message)

    failed = [r for r in caplog.records if r.getMessage() == "turn failed"]
    assert len(failed) == 1
    record = failed[0]
    assert record.correlation == correlation  # type: ignore[attr-defined]
    assert record.error == "Broken"  # type: ignore[attr-defined]
    assert "failing" in record.where  # type: ignore[attr-defined]  # the frames, never the text
    assert all(SECRET not in str(value) for value in vars(record).values())

    rows = await audit_rows(h, correlation=correlation)
    assert [(r.kind, r.actor_aad_id) for r in rows] == [("access_denied", A.PAT.aad)]
    assert rows[0].conversation_kind == "channel"
    assert rows[0].conversation_id.startswith(A.PANEL_CHANNEL_ID)


@pytest.mark.parametrize("route", ["execute", "submit"])
async def test_a_refusal_quotes_the_reference_of_its_access_denied_row(bot: BotHarness, route: str) -> None:
    h = bot
    before = await audit_rows(h, kind="access_denied")
    if route == "execute":
        body = await h.press(A.MALLORY, clock_cards.TIMELINE, TIMELINE, channel=True)
        assert body["statusCode"] == 403
        message = body["value"]["message"]
    else:  # Action.Submit: the same refusal, as a message in the channel
        from tests.integration.test_clock_http import press_via

        _status, message = await press_via(h, "submit", A.MALLORY, TIMELINE)
    assert message.startswith(CASE_DENIED + " (reference ")
    correlation = reference_in(message)

    denied = (await audit_rows(h, kind="access_denied"))[len(before):]
    assert [(r.actor_aad_id, r.correlation, r.conversation_kind) for r in denied] == [
        (A.MALLORY.aad, correlation, "channel")]


async def test_an_audit_row_from_a_personal_chat_records_where_it_came_from(bot: BotHarness) -> None:
    submitted = await audit_rows(bot, kind="referral_submitted")
    assert len(submitted) == 1
    row = submitted[0]
    assert row.conversation_kind == "personal"
    assert row.conversation_id == A.RILEY.chat
    assert row.correlation is not None and re.fullmatch(r"[0-9a-f]{8}", row.correlation)
    # each turn its own id: the channel binding was another turn
    bound = await audit_rows(bot, kind="panel_channel_bound")
    assert bound and bound[0].correlation not in (None, row.correlation)
    assert bound[0].conversation_kind == "channel"


async def test_an_audit_row_outside_a_turn_has_no_reference(bot: BotHarness) -> None:
    """The outbox, the scheduler: no turn, so nothing is made up."""
    posted = await audit_rows(bot, kind="case_posted_to_panel")
    assert posted and posted[0].correlation is None and posted[0].conversation_kind is None
