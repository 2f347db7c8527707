"""Two windows, one referral form: when another window saves the form while this press is
being handled, this press is told who changed what and when, is shown the form as it is
now and what it typed, and nothing says "saved" that was not — for Action.Execute (the
invoke response) and Action.Submit (the reply message, sent only after the state is saved).

Two harnesses on one database stand for two bot processes, on either Teams edge (the
optimistic concurrency is the shared `bot_state` rows', dialogs/state_rows.py) and either
database; the race is made certain by holding the second process's state write until the first
process has saved.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.db.turn_store import STATE_FIELD, state_owner
from tests.support import activities as A
from tests.support.harness import VALID, BotHarness, find_action, inputs, reply_of, texts

WHERE = "Where it happened (confidential)"
REFERENCE = re.compile(r"\(reference [0-9a-f]{8}\)")


@pytest.fixture
async def windows(tmp_path, database_url, edge):
    env = {"teams_edge": edge}
    async with (BotHarness(tmp_path, database_url=database_url, env=env) as first,
                BotHarness(tmp_path, database_url=database_url, env=env) as second):
        second.connector.add_user(A.RILEY.mri, A.RILEY.name, aad_object_id=A.RILEY.aad)
        yield first, second


async def incident_card(h: BotHarness) -> dict[str, Any]:
    card = await h.say(A.RILEY, "refer")
    assert isinstance(card, dict)
    for section in ("referrer", "pathway"):
        card = (await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **VALID[section]}))["value"]
    assert "The incident" in texts(card)
    saved = await h.press(A.RILEY, "form.save", {**find_action(card, "form.save"), **VALID["incident"]})
    card = (await h.press(A.RILEY, "form.resume", find_action(saved["value"], "form.resume")))["value"]
    assert "The incident" in texts(card)
    return card


def hold_state_writes(h: BotHarness) -> tuple[asyncio.Event, asyncio.Event]:
    """Make `h` wait, just before it writes its dialog state, until released."""
    rows = h.c.stores.turns  # the `bot_state` rows under either edge's storage
    reached, release = asyncio.Event(), asyncio.Event()
    write = rows.write_state

    async def held(*args: Any) -> bool:
        reached.set()
        await release.wait()
        return await write(*args)

    rows.write_state = held  # type: ignore[method-assign]
    return reached, release


async def stored_location(h: BotHarness) -> str:
    """The draft's incident location as the database holds it."""
    async with h.c.db.read() as conn:
        rows = list(await conn.execute(select(t.bot_state.c.key, t.bot_state.c.data)
                                       .where(t.bot_state.c.key.like("%conversations%"))))
        assert len(rows) == 1
        data = await h.c.db.keyring.open_json(conn, state_owner(rows[0].key), STATE_FIELD, rows[0].data)  # sealed
    state = data["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]
    return str(state["raw"]["incident"]["incident_location"])


async def test_a_press_whose_form_was_saved_from_another_window_meanwhile_is_told_and_keeps_what_it_typed(windows):
    first, second = windows
    card = await incident_card(first)
    save = find_action(card, "form.save")
    reached, release = hold_state_writes(second)

    late = asyncio.create_task(second.press(A.RILEY, "form.save", {**save, **VALID["incident"],
                                                                     "incident_location": "School gate"}))
    await asyncio.wait_for(reached.wait(), 10)  # the second window has read the form and made its change
    won = await first.press(A.RILEY, "form.save", {**save, **VALID["incident"], "incident_location": "Park"})
    release.set()
    lost = await late

    assert "Referral saved" in texts(won["value"])
    assert lost["statusCode"] == 200
    told = texts(lost["value"])
    assert "Referral saved" not in told
    assert (f"Riley Referrer changed '{WHERE}' at 10:00 from another window; your answer was not saved — here is "
            "the form as it is now.") in told
    assert inputs(lost["value"])["incident_location"]["value"] == "Park"  # the form as it is now
    assert "What you typed (not saved)" in told and "School gate" in told  # and what this window typed
    assert await stored_location(first) == "Park"

    # The card the loser was shown is current: typing it again there saves.
    again = await second.press(A.RILEY, "form.save", {**find_action(lost["value"], "form.save"),
                                                      **VALID["incident"], "incident_location": "School gate"})
    assert "Referral saved" in texts(again["value"])
    assert await stored_location(first) == "School gate"


async def test_an_action_submit_is_answered_only_after_its_state_is_saved(windows):
    first, second = windows
    card = await incident_card(first)
    save = find_action(card, "form.save")
    reached, release = hold_state_writes(second)
    before = len(second.connector.sent_activities())

    late = asyncio.create_task(second.post(A.submit(second.url, A.RILEY, {**save, **VALID["incident"],
                                                                          "incident_location": "School gate"})))
    await asyncio.wait_for(reached.wait(), 10)
    assert len(second.connector.sent_activities()) == before  # nothing said before the state is saved
    await first.press(A.RILEY, "form.save", {**save, **VALID["incident"], "incident_location": "Park"})
    release.set()
    status, _ = await late

    assert status in (200, 201)
    sent = [reply_of(s.activity) for s in second.connector.sent_activities()[before:]]
    assert len(sent) == 1, sent
    told = texts(sent[0]) if isinstance(sent[0], dict) else sent[0]
    assert "Referral saved" not in told
    assert f"Riley Referrer changed '{WHERE}'" in told and "from another window" in told
    assert "School gate" in told
    assert await stored_location(first) == "Park"


async def test_refer_typed_in_two_windows_at_once_starts_one_form_and_tells_the_other_with_a_reference(windows):
    """Nothing stored yet, so neither turn has a version to check: the second must still not
    replace the first's new form. No card press to show back: one line with the turn's reference."""
    first, second = windows
    reached, release = hold_state_writes(second)
    before = len(second.connector.sent_activities())
    late = asyncio.create_task(second.post(A.message(second.url, A.RILEY, "refer")))
    await asyncio.wait_for(reached.wait(), 10)
    started = await first.say(A.RILEY, "refer")
    release.set()
    status, _ = await late

    assert isinstance(started, dict) and "About you" in texts(started)
    assert status in (200, 201)
    sent = [reply_of(s.activity) for s in second.connector.sent_activities()[before:]]
    assert len(sent) == 1 and isinstance(sent[0], str), sent
    assert "changed a moment ago from another window" in sent[0] and REFERENCE.search(sent[0]), sent[0]
    # the first window's form is the one kept: its card still works
    body = await first.press(A.RILEY, "form.next", {**find_action(started, "form.next"), **VALID["referrer"]})
    assert "The pathway you are seeking" in texts(body["value"])


async def test_an_unsupported_action_type_is_refused_with_the_turns_reference(windows):
    first, _ = windows
    activity = A.invoke(first.url, A.RILEY, "form.save", {})
    activity["value"]["action"]["type"] = "Action.Submit"
    status, body = await first.post(activity)
    assert status == 200
    assert body["statusCode"] == 400
    assert REFERENCE.search(body["value"]["message"]), body
