"""Training mode over HTTP: a rehearsal in Agents Playground, a one-user client.

Every command and press is a real Teams activity posted to `/api/messages`; what the bot
sends is captured by the fake Bot Connector. The keyboard user is Pat Manager unless a test
says otherwise: Riley, the referrer of the demo case, is nobody's keyboard, so what the bot
sends Riley waits in Riley's inbox. Each test runs on both Teams edges (botbuilder and the
Microsoft 365 Agents SDK) and both databases; a referral typed into the form is made on
botbuilder, whose form it is so far.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope
from bot.adapters.db.training_store import SqlTrainingStore
from bot.services.training import NOT_IN_TRAINING, Person
from bot.settings import ConfigError, Settings
from tests.integration.test_panel_http import BASIS, HEALTH_WHY, LA_WHY, POLICE_WHY, ballot, open_card, vote
from tests.support import activities as A
from tests.support import reminders as sent_reminders
from tests.support.harness import BotHarness, fill_referral, inputs, reply_of, texts

PANEL = A.PANEL_CHANNEL_ID
BANNER = "TRAINING — not a real case"
TRAINING = {"training_mode": True}
VOTE_LABEL = "Virtual panel decides the pathway (all three partners vote)"


def state(h: BotHarness) -> SqlTrainingStore:
    return SqlTrainingStore(Scope(h.c.db))


async def said_since(h: BotHarness, person: A.Person, text: str) -> list[Any]:
    """Everything the bot sent while answering one personal-chat message (texts and cards)."""
    before = len(h.connector.sent_activities())
    await h.say(person, text)
    return [reply_of(s.activity) for s in h.connector.sent_activities()[before:]]


def shown(replies: list[Any]) -> str:
    return "\n".join(r if isinstance(r, str) else texts(r) for r in replies)


async def bind_and_demo(h: BotHarness) -> None:
    status, _ = await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
    assert status in (200, 201)
    answer = await h.say(A.PAT, "demo case")
    assert isinstance(answer, str) and "RR-2026-0001" in answer and "Riley Referrer" in answer, answer


async def refused_start(h: BotHarness) -> str:
    with pytest.raises(ConfigError) as refused:
        await h.__aenter__()
    await h.__aexit__(None, None, None)
    return str(refused.value)


# ---- a separate rehearsal ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", [
    {"app_id": "11111111-1111-1111-1111-111111111111", "app_password": "secret", "app_tenant_id": A.TENANT},
    {"app_password": "secret"},
    {"environment": "production"},
])
def test_training_mode_refuses_bot_framework_credentials_and_production(env):
    with pytest.raises(ConfigError, match="TRAINING_MODE is on"):
        Settings.model_validate({**TRAINING, **env}).check()


async def test_training_mode_refuses_a_database_with_cases_that_is_not_a_training_database(tmp_path,
                                                                                           database_url, edge):
    # a real (local) bot with a real referral
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await fill_referral(h)
    message = await refused_start(BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge))
    assert "already holds cases and is not a training database" in message


async def test_a_training_database_is_stamped_and_a_real_bot_refuses_it(tmp_path, database_url, edge):
    async with BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge) as h:
        assert await h.c.stores.turns.database_mode() == "training"
        await bind_and_demo(h)
    # the stamp lets training start again, cases and all
    async with BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge) as again:
        assert await again.c.stores.turns.database_mode() == "training"
    message = await refused_start(BotHarness(tmp_path, database_url=database_url, edge=edge))
    assert "is a training database" in message


async def test_a_real_bot_refuses_training_commands_and_never_rewrites_identity(tmp_path, database_url, edge):
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        for command in ("act as Laura", "advance 2 working days", "inbox", "demo case", "act as me"):
            assert await h.say(A.RILEY, command) == NOT_IN_TRAINING
        assert await state(h).acting(A.RILEY.aad) is None
        assert await h.c.stores.turns.database_mode() is None
        # Even with an "acting" row in the database, Riley stays Riley: no voting controls for her.
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        await fill_referral(h)
        await h.flush()
        await state(h).set_acting(A.RILEY.aad, Person(A.LAURA.aad, A.LAURA.name, "local authority"), h.clock.now())
        card = await open_card(h, A.RILEY)
        assert not inputs(card)
        assert BANNER not in texts(card)
        assert BANNER not in h.connector.all_payload_text()


# ---- acting as anyone, the inbox, the banner -----------------------------------------------------------


async def test_act_as_the_panel_votes_as_them_and_the_referrers_decision_waits_in_her_inbox(tmp_path,
                                                                                            database_url, edge):
    async with BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge) as h:
        await bind_and_demo(h)
        posted = [reply_of(s.activity) for s in h.connector.activities_to(PANEL)]
        assert posted and all(BANNER in texts(c) for c in posted if isinstance(c, dict))

        intro = shown(await said_since(h, A.PAT, "act as Laura"))
        assert "acting as **Laura LocalAuthority (local authority)**" in intro
        card = await open_card(h, A.PAT)  # Pat's keyboard, Laura's identity
        assert "Acting as Laura LocalAuthority (local authority)" in texts(card)
        assert BANNER in texts(card)
        body = await vote(h, A.PAT, ballot("rapid_review", LA_WHY, BASIS))
        assert "Vote recorded." in texts(body["value"])
        async with h.c.db.read() as conn:
            votes = list(await conn.execute(select(t.votes)))
        assert [(v.partner, v.voter_aad_id, v.voter_name) for v in votes] == [
            ("local_authority", A.LAURA.aad, "Laura LocalAuthority")]

        assert "Dan Police (police)" in shown(await said_since(h, A.PAT, "act as police"))
        await vote(h, A.PAT, ballot("rapid_review", POLICE_WHY, BASIS))
        assert "Nina Health (health)" in shown(await said_since(h, A.PAT, "act as Nina Health"))
        body = await vote(h, A.PAT, ballot("rapid_review", HEALTH_WHY, BASIS))
        assert "The panel has decided" in texts(body["value"])
        await h.flush()

        # Riley is at nobody's keyboard: her decision is kept, not dropped, not sent anywhere.
        assert not h.connector.activities_to(A.RILEY.chat)
        waiting = await state(h).inbox(A.RILEY.aad)
        assert any("The panel has decided" in texts(item.card) for item in waiting)

        replies = await said_since(h, A.PAT, "act as Riley")
        assert f"{len(waiting)} message" in shown(replies) and "waiting in their inbox" in shown(replies)
        cards = [r for r in replies if isinstance(r, dict)]
        assert len(cards) == len(waiting)
        decision = next(c for c in cards if "The panel has decided" in texts(c))
        assert "Acting as Riley Referrer (referrer)" in texts(decision) and BANNER in texts(decision)
        assert await h.say(A.PAT, "inbox") == "No messages are waiting for Riley Referrer."

        assert "You are yourself again (Pat Manager)" in shown(await said_since(h, A.PAT, "act as me"))
        assert await state(h).acting(A.PAT.aad) is None
        help_card = await h.say(A.PAT, "help")
        assert isinstance(help_card, dict)
        assert BANNER in texts(help_card) and "Training commands" in texts(help_card)
        assert "Acting as" not in texts(help_card)

        # The meeting was booked (offline: the first slot of the window); the chair's papers wait for him.
        start = await state(h).next_meeting(h.c.clock.now())
        assert start is not None
        answer = await h.say(A.PAT, "advance to the meeting")
        assert isinstance(answer, str) and "to the rapid review meeting" in answer, answer
        assert h.c.clock.now() == start
        await h.say(A.PAT, "advance 3 hours")  # after the meeting's end: the outcome card for the chair
        chris = [texts(item.card) for item in await state(h).inbox(A.CHRIS.aad)]
        assert any("outcome" in text.lower() for text in chris), chris


async def test_messages_to_the_acted_person_come_to_the_keyboard_and_acting_survives_a_restart(tmp_path,
                                                                                               database_url, edge):
    async with BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge) as h:
        await bind_and_demo(h)
        await said_since(h, A.PAT, "act as Chris")
        await h.c.services.notifier.send_to_person(A.CHRIS.aad, {"type": "AdaptiveCard", "body": [
            {"type": "TextBlock", "text": "For the chair"}]})
        card = reply_of(h.connector.activities_to(A.PAT.chat)[-1].activity)
        assert isinstance(card, dict) and "For the chair" in texts(card)
        assert "Acting as Chris Chair (chair)" in texts(card)
        assert await state(h).inbox(A.CHRIS.aad) == []
        await h.restart()
        assert await h.say(A.PAT, "inbox") == "No messages are waiting for Chris Chair."
        unknown = await h.say(A.PAT, "act as Zed")
        assert isinstance(unknown, str) and "I do not know who" in unknown


# ---- moving time ---------------------------------------------------------------------------------


async def test_reminders_the_training_clock_jumped_past_are_not_called_late(tmp_path, database_url, edge):
    """Moving the training clock is not an outage: a reminder whose time the jump passed must not
    say it fell due while the bot was unavailable."""
    async with BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge) as h:
        await bind_and_demo(h)  # Mon 23 Nov 2026 10:00 UTC; the vote is due Wed 25 Nov
        await h.say(A.PAT, "advance 8 working days")
        kept = [texts(one) for item in await state(h).inbox(A.LAURA.aad) for one in sent_reminders.cards_of(item.card)]
        assert [text for text in kept if "Overdue" in text], kept  # the jump passed the vote's due day
        assert not [text for text in kept if "while the bot was unavailable" in text], kept


async def test_advance_two_working_days_posts_the_panel_vote_reminder_and_the_offset_persists(tmp_path,
                                                                                              database_url, edge):
    async with BotHarness(tmp_path, env=TRAINING, database_url=database_url, edge=edge) as h:
        await bind_and_demo(h)  # Mon 23 Nov 2026 10:00 UTC; the vote is due Wed 25 Nov
        today = await h.say(A.PAT, "today")
        assert isinstance(today, str) and "Mon 23 Nov 2026, 10:00" in today
        before = len(h.connector.activities_to(PANEL))
        answer = await h.say(A.PAT, "advance 2 working days")
        assert isinstance(answer, str) and "Wed 25 Nov 2026, 10:00" in answer, answer
        # The reminder goes to each panel member's personal chat; nobody sits at Laura's keyboard,
        # so hers waits in her inbox, dated by the training clock.
        kept = [texts(one) for item in await state(h).inbox(A.LAURA.aad) for one in sent_reminders.cards_of(item.card)]
        reminders = [text for text in kept if VOTE_LABEL in text]
        assert len(reminders) == 1 and "**Due today**" in reminders[0], kept
        assert not [s for s in h.connector.activities_to(PANEL)[before:]
                    if isinstance(reply_of(s.activity), dict) and "Reminder ·" in texts(reply_of(s.activity))]

        answer = await h.say(A.PAT, "advance to Mon 23 Nov 2026 09:00")
        assert isinstance(answer, str) and "only moves forwards" in answer
        answer = await h.say(A.PAT, "advance to Mon 15 Dec 10:00")
        assert isinstance(answer, str) and "is a Tuesday" in answer
        answer = await h.say(A.PAT, "advance to Tue 15 Dec 10:00")
        assert isinstance(answer, str) and "Tue 15 Dec 2026, 10:00" in answer
        answer = await h.say(A.PAT, "advance 3 hours")
        assert isinstance(answer, str) and "Tue 15 Dec 2026, 13:00" in answer
        await h.restart()
        today = await h.say(A.PAT, "today")
        assert isinstance(today, str) and "Tue 15 Dec 2026, 13:00" in today
        assert await h.say(A.PAT, "advance to the meeting") == "No open case has a meeting booked after the training date."
