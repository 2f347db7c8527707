"""A leaver's open work given to someone else, over HTTP on SQLite and PostgreSQL
(bot/services/owners.py): `remove @Dan` says what Dan still owns; `replace owner Dan Police
with Dee Deputy` moves his open action and his hand-over to Dee (audited by ids), and the
action's reminder then @mentions Dee; anyone but a partnership manager is refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.domain.pathways import HandOver
from bot.services import deadlines
from bot.services.reminder_view import reminder_view
from tests.support import activities as A
from tests.support.harness import BotHarness, fill_referral, reply_of, without_reference

REF = "RR-2026-0001"
EVERYONE = (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.RILEY, A.DEE)


@pytest.fixture
async def bot(tmp_path: Path, database_url: str):  # noqa: ANN201
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        for person in EVERYONE:
            await h.say(person, "hello")
        await fill_referral(h)
        await h.flush()
        yield h


async def dan_owns_work(h: BotHarness) -> tuple[str, int]:
    """An action agreed for Dan and a hand-over naming him (as the review card and the hand-over
    card record them)."""
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    now = h.clock.now()
    action_id = await h.c.stores.reviews.add_action(case.id, "meeting", "Police to review the contact logs",
                                                    "Police", A.DAN.aad, A.DAN.name, date(2026, 12, 4), now,
                                                    A.CHRIS.name)
    handover = HandOver(outcome="practice_review", process="learning_review", owner_aad_id=A.DAN.aad,
                        owner_name=A.DAN.name, recorded_by=A.PAT.name, recorded_at=now.isoformat())
    await h.c.stores.deadlines.put_case_record(case.id, "handover", "", handover.model_dump(mode="json"), now)
    await deadlines.refresh_deadlines(h.c.services, case.id)
    return case.id, action_id


async def say_in_channel(h: BotHarness, person: A.Person, text: str, mentioned: A.Person) -> Any:
    activity = A.channel_message(h.url, person, text)
    activity["entities"].append({"type": "mention", "text": f"<at>{mentioned.name}</at>",
                                 "mentioned": {"id": mentioned.mri, "name": mentioned.name}})
    before = len(h.connector.sent_activities())
    status, _ = await h.post(activity)
    assert status in (200, 201), status
    return reply_of(h.connector.sent_activities()[before:][-1].activity)


async def test_removed_member_open_work_moves_to_the_new_owner(bot: BotHarness) -> None:
    h = bot
    case_id, action_id = await dan_owns_work(h)
    removed = await say_in_channel(h, A.PAT, f"remove <at>{A.DAN.name}</at>", A.DAN)
    assert "Removed Dan Police" in removed and "1 open action, 1 hand-over" in removed, removed
    assert "replace owner Dan Police with" in removed

    for who in (A.LAURA, A.CHRIS, A.RILEY):
        refused = await h.say(who, "replace owner Dan Police with Dee Deputy")
        assert without_reference(str(refused)) == "Only a partnership manager can give a person's open work to " \
                                                  "someone else.", who
    assert "cannot find Nobody Here" in await h.say(A.PAT, "replace owner Nobody Here with Dee Deputy")
    assert "on the roster" in await h.say(A.PAT, "replace owner Dan Police with Mallory Outsider")

    answer = await h.say(A.PAT, "replace owner Dan Police with Dee Deputy")
    assert "Dee Deputy now has Dan Police's 1 open action, 1 hand-over (RR-2026-0001)" in answer, answer

    action = await h.c.stores.reviews.action(action_id)
    assert action is not None and (action.owner_aad_id, action.owner_name) == (A.DEE.aad, A.DEE.name)
    handover = (await h.c.stores.deadlines.case_records(case_id, "handover"))[""]
    assert (handover["owner_aad_id"], handover["owner_name"]) == (A.DEE.aad, A.DEE.name)
    events = [e for e in await h.c.stores.cases.events_for_case(case_id) if e.kind == "owner_replaced"]
    assert [e.detail for e in events] == [{"from": A.DAN.aad, "to": A.DEE.aad, "actions": [action_id],
                                           "records": ["handover"]}]
    # the action's reminder goes to Dee now
    case = await h.c.stores.cases.get_case_by_id(case_id)
    assert case is not None
    row = next(r for r in await h.c.stores.deadlines.deadlines(case_id) if r.step_id == f"action_{action_id}")
    view = await reminder_view(h.c.services, case, row, "due", False)
    assert [m.aad_object_id for m in view.mentions] == [A.DEE.aad]
    # nothing left for Dan
    assert "owns nothing open" in await h.say(A.PAT, "replace owner Nina Health with Dee Deputy")
    assert "same person" in await h.say(A.PAT, "replace owner Dee Deputy with Dee Deputy")
