"""A second referral of the same incident flagged as a likely duplicate, over HTTP on SQLite and
PostgreSQL (bot/services/duplicates.py): the same incident date and a child with the same name
and date of birth (typed differently) flags it to each partnership manager in personal chat,
naming both references and never the child; a manager links it (audited) or dismisses the flag;
anyone else is refused; a referral of another child is not flagged; the database holds keyed
hashes, never the plain name or date of birth in the fingerprint table."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from cards import duplicate_cards
from tests.support import activities as A
from tests.support.harness import VALID, BotHarness, fill_referral, find_action, texts

EVERYONE = (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.RILEY)


def same_child_typed_differently() -> dict[str, dict[str, str]]:
    answers = copy.deepcopy(VALID)
    answers["children"]["c1_name"] = "  zqxwv  CANARY "
    answers["referrer"]["agency"] = "Police"
    return answers


def another_child() -> dict[str, dict[str, str]]:
    answers = copy.deepcopy(VALID)
    answers["children"]["c1_name"] = "Another Child"
    return answers


@pytest.fixture
async def bot(tmp_path: Path, database_url: str):  # noqa: ANN201
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        for person in EVERYONE:
            await h.say(person, "hello")
        await fill_referral(h)  # RR-2026-0001
        await h.flush()
        yield h


def flags_to(h: BotHarness, person: A.Person) -> list[dict[str, Any]]:
    return [s.attachments[0]["content"] for s in h.connector.activities_to(person.chat)
            if s.attachments and "Likely duplicate" in json.dumps(s.attachments[0]["content"])]


async def kinds(h: BotHarness, reference: str) -> list[Any]:
    case = await h.c.stores.cases.get_case(reference)
    assert case is not None
    return [e for e in await h.c.stores.cases.events_for_case(case.id) if e.kind.startswith("duplicate_")]


async def test_a_second_referral_of_the_same_incident_is_flagged_and_linked(bot: BotHarness) -> None:
    h = bot
    await fill_referral(h, A.DAN, same_child_typed_differently())  # RR-2026-0002
    await h.flush()
    await h.flush()
    [flag] = flags_to(h, A.PAT)
    shown = texts(flag)
    assert "RR-2026-0002" in shown and "RR-2026-0001" in shown
    assert "Zqxwv" not in json.dumps(flag) and "2017" not in json.dumps(flag)  # never the child
    assert not flags_to(h, A.LAURA) and not flags_to(h, A.RILEY)  # managers only
    first = await h.c.stores.cases.get_case("RR-2026-0001")
    assert first is not None
    flagged = await kinds(h, "RR-2026-0002")
    assert [(e.kind, e.detail) for e in flagged] == [("duplicate_flagged", {"of": first.id})]
    # nothing in the fingerprint table reads as the child
    async with h.c.db.read() as conn:
        rows = (await conn.execute(select(t.referral_fingerprints))).all()
    assert rows and all(len(r.fingerprint) == 64 for r in rows)
    assert "zqxwv" not in json.dumps([list(r) for r in rows], default=str).lower()

    data = find_action(flag, duplicate_cards.LINK)
    refused = await h.press(A.LAURA, duplicate_cards.LINK, data)
    assert refused["statusCode"] == 403, refused
    body = await h.press(A.PAT, duplicate_cards.LINK, data)
    assert body["statusCode"] == 200, body
    assert "is linked to RR-2026-0001" in texts(body["value"])
    linked = await kinds(h, "RR-2026-0002")
    assert [(e.kind, e.detail, e.actor_aad_id) for e in linked][-1] == ("duplicate_linked", {"of": first.id},
                                                                        A.PAT.aad)
    # a second press (or the other window) changes nothing
    again = await h.press(A.PAT, duplicate_cards.DISMISS, find_action(flag, duplicate_cards.DISMISS))
    assert "is linked to RR-2026-0001" in texts(again["value"])
    assert len(await kinds(h, "RR-2026-0002")) == 2
    # delivering the check again flags nothing twice
    case = await h.c.stores.cases.get_case("RR-2026-0002")
    assert case is not None
    from bot.services import duplicates

    assert await duplicates.check(h.c.services, case.id) == []
    await h.flush()
    assert len(flags_to(h, A.PAT)) == 1


async def test_another_child_is_not_flagged_and_a_flag_can_be_dismissed(bot: BotHarness) -> None:
    h = bot
    await fill_referral(h, A.DAN, another_child())  # RR-2026-0002: same date, another child
    await h.flush()
    await h.flush()
    assert not flags_to(h, A.PAT)
    assert not await kinds(h, "RR-2026-0002")
    await fill_referral(h, A.NINA, same_child_typed_differently())  # RR-2026-0003
    await h.flush()
    await h.flush()
    [flag] = flags_to(h, A.PAT)
    assert "RR-2026-0003" in texts(flag) and "RR-2026-0001" in texts(flag)
    body = await h.press(A.PAT, duplicate_cards.DISMISS, find_action(flag, duplicate_cards.DISMISS))
    assert "not a duplicate of RR-2026-0001" in texts(body["value"])
    assert [e.kind for e in await kinds(h, "RR-2026-0003")] == ["duplicate_flagged", "duplicate_dismissed"]
