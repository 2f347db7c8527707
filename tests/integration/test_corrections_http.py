"""A referral corrected or withdrawn after submission, over HTTP on SQLite and PostgreSQL
(bot/services/corrections.py): a partnership manager corrects the date the local authority
became aware, every deadline is recomputed, the change is audited by field name and the panel
channel told status-only; a referral is withdrawn with a required reason (identifier-refused,
sealed, audited without its text) and its deadlines stop; anyone else is refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.domain.lifecycle import CaseStatus
from tests.support import activities as A
from tests.support.harness import BotHarness, fill_referral, texts, without_reference

LONDON = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
EVERYONE = (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.RILEY)
REASON = "Referred to the wrong partnership by mistake"


@pytest.fixture
async def bot(tmp_path: Path, database_url: str):  # noqa: ANN201
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        for person in EVERYONE:
            await h.say(person, "hello")
        await fill_referral(h)
        await h.flush()
        yield h


async def decide(h: BotHarness) -> None:
    vote = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
            "rationale": "The partners agree on this pathway for the case.",
            "serious_harm_basis": "Long-term impairment of the child's health is likely."}
    for who in (A.LAURA, A.DAN, A.NINA):
        body = await h.press(who, "panel.vote", vote, channel=True)
        assert body["statusCode"] == 200, body
    await h.flush()


async def case_of(h: BotHarness) -> Any:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case


async def events(h: BotHarness, kind: str) -> list[Any]:
    return [e for e in await h.c.stores.cases.events_for_case((await case_of(h)).id) if e.kind == kind]


def channel_text(h: BotHarness) -> str:
    return "\n".join(texts(a.activity["attachments"][0]["content"]) for a in h.connector.activities_to(
        A.PANEL_CHANNEL_ID) if a.activity.get("attachments"))


async def test_manager_corrects_awareness_date_and_every_deadline_moves(bot: BotHarness) -> None:
    h = bot
    await decide(h)
    case = await case_of(h)
    before = {r.step_id: r for r in await h.c.stores.deadlines.deadlines(case.id)}
    aware_steps = [s for s, r in before.items() if r.anchor == "aware" and r.due_at is not None]
    assert aware_steps, "the profile counts something from the awareness date"

    assert "is now 10 November 2026" in await h.say(A.PAT, "correct RR-2026-0001 incident 2026-11-10")
    answer = await h.say(A.PAT, "correct RR-2026-0001 aware 2026-11-12")
    assert "is now 12 November 2026" in answer and "recomputed" in answer, answer
    await h.flush()

    after_case = await case_of(h)
    assert after_case.aware_date == date(2026, 11, 12)
    assert after_case.referral.incident.la_aware_date == date(2026, 11, 12)
    assert after_case.summary.incident_date == date(2026, 11, 10)
    after = {r.step_id: r for r in await h.c.stores.deadlines.deadlines(case.id)}
    for step in aware_steps:
        assert after[step].due_at < before[step].due_at, step  # counted from nine days earlier
        assert after[step].anchor_at.astimezone(LONDON).date() == date(2026, 11, 12)
    corrected = await events(h, "referral_corrected")
    assert [e.detail for e in corrected] == [{"fields": ["incident_date"]}, {"fields": ["la_aware_date"]}]
    assert corrected[0].actor_aad_id == A.PAT.aad
    assert "2026-11-12" not in json.dumps([e.detail for e in await h.c.stores.cases.events_for_case(case.id)])
    posted = channel_text(h)
    assert "The referral's dates were corrected; deadlines recomputed." in posted
    assert "12 November" not in posted and "2026-11-12" not in posted

    # the same date again changes nothing; the incident date cannot follow the awareness date
    assert "Nothing was changed" in await h.say(A.PAT, "correct RR-2026-0001 aware 2026-11-12")
    refused = await h.say(A.PAT, "correct RR-2026-0001 incident 2026-11-13")
    assert "cannot have become aware before the incident" in refused, refused
    assert (await case_of(h)).summary.incident_date == date(2026, 11, 10)
    assert len(await events(h, "referral_corrected")) == 2


async def test_correct_refuses_everyone_but_a_manager_and_bad_input(bot: BotHarness) -> None:
    h = bot
    for who in (A.RILEY, A.LAURA, A.CHRIS, A.MALLORY):
        answer = await h.say(who, "correct RR-2026-0001 incident 2026-11-19")
        assert without_reference(str(answer)) == "Only a partnership manager can correct or withdraw a referral.", who
    assert (await case_of(h)).summary.incident_date == date(2026, 11, 20)
    assert not await events(h, "referral_corrected")
    assert "for example" in await h.say(A.PAT, "correct RR-2026-0001 incident yesterday")
    assert "future" in (await h.say(A.PAT, "correct RR-2026-0001 incident 2027-01-01")).lower()
    assert "There is no case RR-2026-0099" in await h.say(A.PAT, "correct RR-2026-0099 incident 2026-11-19")
    # the incident date moves: the referral keeps its other answers, sealed as before
    assert "is now 19 November 2026" in await h.say(A.PAT, "correct RR-2026-0001 incident 2026-11-19")
    case = await case_of(h)
    assert case.summary.incident_date == date(2026, 11, 19)
    assert case.referral.incident.summary == "Admitted to hospital with unexplained injuries."


async def test_withdraw_with_a_reason_closes_and_stops_deadlines(bot: BotHarness) -> None:
    h = bot
    for who in (A.RILEY, A.LAURA):
        answer = await h.say(who, f"withdraw RR-2026-0001 {REASON}")
        assert "Only a partnership manager" in str(answer)
    assert "Give the reason" in await h.say(A.PAT, "withdraw RR-2026-0001")
    refused = await h.say(A.PAT, "withdraw RR-2026-0001 the mother asked, ring riley.referrer@example.org")
    assert "withdrawing" in refused and (await case_of(h)).summary.status is CaseStatus.REFERRED, refused

    answer = await h.say(A.PAT, f"withdraw RR-2026-0001 {REASON}")
    assert "withdrawn and closed" in answer, answer
    await h.flush()
    case = await case_of(h)
    assert case.summary.status is CaseStatus.CLOSED
    rows = await h.c.stores.deadlines.deadlines(case.id)
    assert rows and all(r.status != "open" or r.next_reminder_at is None for r in rows)
    withdrawn = await events(h, "referral_withdrawn")
    assert [e.detail for e in withdrawn] == [{"reason_given": True}]
    moved = await events(h, "case_moved")
    assert moved[-1].detail.get("to") == "closed" or "closed" in json.dumps(moved[-1].detail)
    assert REASON.lower() not in json.dumps([e.detail for e in await h.c.stores.cases.events_for_case(case.id)]).lower()
    # the reason is kept, as typed, sealed at rest
    kept = await h.c.stores.deadlines.case_records(case.id, "withdrawal")
    assert kept["reason"]["reason"] == REASON
    db = h.c.stores.deadlines.scope.db  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:
        raw = (await conn.execute(select(t.case_records.c.data).where(t.case_records.c.case_id == case.id))).all()
    assert raw and REASON not in json.dumps([r.data for r in raw], default=str)
    assert "withdrawn by a partnership manager" in channel_text(h)
    assert REASON not in channel_text(h)
    # closed: no second withdrawal, no correction
    assert "is closed" in await h.say(A.PAT, f"withdraw RR-2026-0001 {REASON}")
    assert "is closed" in await h.say(A.PAT, "correct RR-2026-0001 incident 2026-11-19")


async def test_withdraw_refused_once_the_panel_decided(bot: BotHarness) -> None:
    h = bot
    await decide(h)
    answer = await h.say(A.PAT, f"withdraw RR-2026-0001 {REASON}")
    assert "can no longer be withdrawn" in answer, answer
    assert (await case_of(h)).summary.status is CaseStatus.MEETING_SCHEDULED  # booked after the decision
    assert not await events(h, "referral_withdrawn")
