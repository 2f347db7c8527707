"""The statutory clock over HTTP, as Teams would drive it.

Every press and command is a real Teams activity posted to `/api/messages` (invokes for
Action.Execute, messages with a `value` for Action.Submit, typed commands in personal chat
and in the panel channel); what the bot sends is captured by the fake Bot Connector on
127.0.0.1. Time moves only when a test moves the FixedClock; the scheduler's job is
`deadlines.sweep`, which the tests call by hand, then `flush` delivers the outbox.

The partnership is config/partnership.example.toml (the stockport profile) unless a test
writes its own partnership file. Dates below are worked out by hand in England working
days (no bank holidays between 20 Nov and 14 Dec 2026).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.adapters.db import schema as t
from bot.app import bootstrap
from bot.domain.timeline import Anchor
from bot.services import deadlines
from bot.services.access import CASE_DENIED
from bot.services.ports import DeadlineRow, MeetingError
from bot.settings import DEFAULT_PARTNERSHIP_FILE, REPO_ROOT, ConfigError, Settings
from tests.support import activities as A
from tests.support import reminders as sent_reminders
from tests.support.harness import (
    CANARY_ADDRESS,
    CANARY_CHILD,
    CANARY_DOB,
    BotHarness,
    fill_referral,
    find_action,
    inputs,
    reply_of,
    texts,
    walk,
    without_reference,
)

LONDON = ZoneInfo("Europe/London")
REF, REF2, REF3 = "RR-2026-0001", "RR-2026-0002", "RR-2026-0003"
PANEL = A.PANEL_CHANNEL_ID
CANARIES = (CANARY_CHILD, CANARY_DOB, CANARY_ADDRESS, "Zqxwv", "03/02/2017")
NOTIFY, SEND, RETURN, PAPERS, MEETING, REPORT, VOTE_STEP = (
    "notify_national_panel", "send_information_requests", "agencies_return_information", "papers_to_panel",
    "rapid_review_meeting", "report_to_national_panel", "panel_vote")
NOTIFY_LABEL = "Local authority notifies the National Panel (serious incident notification)"
SEND_LABEL = "Agency summary template (Appendix D) sent to agencies' safeguarding leads"
RETURN_LABEL = "Agencies return the completed template"
REPORT_LABEL = "Rapid review report signed off and sent to the National Panel"
VOTE_LABEL = "Virtual panel decides the pathway (all three partners vote) (local policy)"
DONE, RECORD, RETURNED = "deadline.done", "agencies.record", "agencies.returned"
REFUSED = "Only panel members, chairs and partnership managers can do that."


def london(year: int, month: int, day: int, hour: int = 9, minute: int = 5) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def local(moment: datetime | None) -> tuple[Any, ...] | None:
    """A stored moment as (date, HH:MM) in the partnership's time zone."""
    if moment is None:
        return None
    m = moment.astimezone(LONDON)
    return m.date(), m.strftime("%H:%M")


# ---- driving the bot -------------------------------------------------------------------------------


async def refer(h: BotHarness, *, bind: bool = True) -> None:
    """(Panel channel bound, the managers, chair and LA member have said hello), then one
    referral submitted by Riley and its outbox delivered."""
    if bind:
        status, _ = await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        assert status in (200, 201)
        for person in (A.PAT, A.CHRIS, A.LAURA):
            await h.say(person, "hello")
    await fill_referral(h)
    await h.flush()


def ballot(reference: str) -> dict[str, Any]:
    return {"verb": "panel.vote", "action": "panel.vote", "ref": reference, "v": 1, "choice": "rapid_review",
            "rationale": "Serious injuries and suspected abuse by a carer.",
            "serious_harm_basis": "Long-term impairment of the child's physical health is likely."}


async def vote(h: BotHarness, person: A.Person, reference: str = REF) -> None:
    body = await h.press(person, "panel.vote", ballot(reference), channel=True)
    assert body["statusCode"] == 200, body


async def decide(h: BotHarness, reference: str = REF, *, book_meeting: bool = False) -> None:
    """All three partners vote for a rapid review; the decision's outbox is delivered.

    Unless `book_meeting`, the meeting is left unbooked (as while a Graph booking fails or
    waits for the chair to choose a slot), so these tests of the clock do not depend on
    which slot the meeting booking picks; test_a_booked_meeting_dates_the_papers books it."""
    for person in (A.LAURA, A.DAN, A.NINA):
        await vote(h, person, reference)
    meetings = h.c.services.meetings
    if not book_meeting:  # the provider is unavailable for a long while: the booking waits in the outbox
        object.__setattr__(h.c.services, "meetings", UnavailableMeetings())
    try:
        await h.flush()
    finally:
        object.__setattr__(h.c.services, "meetings", meetings)


class UnavailableMeetings:
    """A meeting provider that answers every call "try again in a year"."""

    offline = False

    async def busy(self, *_args: object, **_kwargs: object) -> dict:
        raise MeetingError("unavailable", retryable=True, retry_after=365 * 86400)

    create_event = move_event = cancel_event = busy


async def case_id(h: BotHarness, reference: str = REF) -> str:
    case = await h.c.stores.cases.get_case(reference)
    assert case is not None
    return case.id


async def rows(h: BotHarness, reference: str = REF) -> dict[str, DeadlineRow]:
    assert h.c.services.deadlines is not None
    return {r.step_id: r for r in await h.c.services.deadlines.deadlines(await case_id(h, reference))}


async def anchors(h: BotHarness, reference: str = REF) -> dict[Anchor, datetime]:
    assert h.c.services.deadlines is not None
    return await h.c.services.deadlines.anchors(await case_id(h, reference))


async def at(h: BotHarness, moment: datetime) -> list[dict[str, Any]]:
    """Move the clock, run the scheduler's sweep, deliver the outbox; returns the reminders
    sent meanwhile, to the owners' personal chats: one card per reminder, mentioning everyone
    it reached (tests/support/reminders.py)."""
    h.clock.set(moment)
    before = len(h.connector.sent_activities())
    await deadlines.sweep(h.c.services)
    await h.flush()
    return sent_reminders.merged(h.connector.sent_activities()[before:])


def reminder_for(cards: list[dict[str, Any]], label: str) -> dict[str, Any]:
    found = [c for c in cards if label in texts(c)]
    assert len(found) == 1, f"{len(found)} reminders for {label!r} among {[texts(c)[:120] for c in cards]}"
    return found[0]


def mentioned(card: dict[str, Any]) -> dict[str, str]:
    """{aad object id: name} of the card's Teams mentions, after checking that each is a real
    one: `<at>Name</at>` in a TextBlock and an msteams.entities entry with the same text."""
    entities = card.get("msteams", {}).get("entities", [])
    tags = set(re.findall(r"<at>.*?</at>", texts(card)))
    assert {e["text"] for e in entities} == tags, (entities, tags)
    result = {}
    for e in entities:
        assert e["type"] == "mention" and e["text"] == f"<at>{e['mentioned']['name']}</at>", e
        result[e["mentioned"]["id"]] = e["mentioned"]["name"]
    return result


def panel_payload(h: BotHarness) -> str:
    """Every request body the bot sent to the panel channel (posts, replies and updates)."""
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in h.connector.requests
                     if r.body is not None and (r.conversation_id or "").startswith(PANEL))


def assert_no_identifiers(text: str) -> None:
    found = [c for c in CANARIES if c.lower() in text.lower()]
    assert not found, f"child identifiers in the panel channel: {found}"


async def events(h: BotHarness, kind: str) -> list[Any]:
    async with h.c.db.read() as conn:
        return list(await conn.execute(select(t.events).where(t.events.c.kind == kind).order_by(t.events.c.id)))


async def snapshot(h: BotHarness) -> dict[str, Any]:
    """Everything a press on the clock could change (a refusal may only add an access_denied event)."""
    async with h.c.db.read() as conn:
        return {
            "deadlines": [tuple(r) for r in await conn.execute(
                select(t.deadlines.c.id, t.deadlines.c.status, t.deadlines.c.due_at, t.deadlines.c.done_at,
                       t.deadlines.c.done_on, t.deadlines.c.done_by_name, t.deadlines.c.next_reminder_at)
                .order_by(t.deadlines.c.id))],
            "anchors": [tuple(r) for r in await conn.execute(select(t.case_anchors).order_by(t.case_anchors.c.anchor))],
            "agencies": [tuple(r) for r in await conn.execute(select(t.agency_requests))],
            "events": [r.kind for r in await conn.execute(
                select(t.events.c.kind).where(t.events.c.kind != "access_denied").order_by(t.events.c.id))],
            "outbox": (await conn.execute(select(func.count()).select_from(t.outbox))).scalar_one(),
        }


def done_data(reference: str, deadline_id: int, done_on: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"verb": DONE, "action": DONE, "ref": reference, "step": deadline_id}
    if done_on is not None:
        data["done_on"] = done_on
    return data


def submit_in_channel(h: BotHarness, person: A.Person, data: dict[str, Any]) -> dict[str, Any]:
    """An Action.Submit press on a card in the panel channel: a channel message with a value, no text."""
    activity = A.channel_message(h.url, person, "")
    del activity["text"], activity["entities"]
    activity["value"] = data
    return activity


async def press_via(h: BotHarness, route: str, person: A.Person, data: dict[str, Any]) -> tuple[int, Any]:
    """Press a card button in the channel by Action.Execute or Action.Submit; returns (status,
    what the clicker gets: a card or a text)."""
    if route == "execute":
        body = await h.press(person, str(data["verb"]), data, channel=True)
        if body["type"] == "application/vnd.microsoft.error":
            return body["statusCode"], body["value"]["message"]
        return body["statusCode"], body["value"]
    before = len(h.connector.sent_activities())
    status, _ = await h.post(submit_in_channel(h, person, data))
    assert status in (200, 201), status
    sent = h.connector.sent_activities()[before:]
    assert len(sent) == 1 and sent[0].conversation_id.startswith(PANEL), sent
    return 200, reply_of(sent[0].activity)


async def say_in_channel(h: BotHarness, person: A.Person, text: str) -> dict[str, Any] | str:
    before = len(h.connector.sent_activities())
    status, _ = await h.post(A.channel_message(h.url, person, text))
    assert status in (200, 201), status
    sent = h.connector.sent_activities()[before:]
    assert len(sent) == 1 and sent[0].conversation_id.startswith(PANEL), sent
    return reply_of(sent[0].activity)


def timeline_states(card: dict[str, Any]) -> dict[str, str]:
    """{step label: what the timeline says about it} from the timeline card's rows."""
    states = {}
    for e in walk(card):
        if e.get("type") == "ColumnSet" and len(e.get("columns", [])) == 2:
            left, right = (texts(col) for col in e["columns"])
            states[left] = right
    return states


def status_entries(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(case line, next-deadline line) per case, top to bottom."""
    return [(c["items"][0]["text"], c["items"][1]["text"]) for c in card["body"]
            if c.get("type") == "Container" and c.get("separator")]


@pytest.fixture
async def bot(tmp_path, database_url, edge):
    """Every turn of the test on `edge`, the referral's included, on SQLite and PostgreSQL."""
    async with BotHarness(tmp_path, database_url=database_url) as harness:
        await harness.serve_on(edge)
        await refer(harness)
        yield harness


@pytest.fixture
async def decided(bot):
    await decide(bot)
    return bot


# ---- deadlines from the profile -------------------------------------------------------------------


async def test_a_rapid_review_decision_gives_the_case_the_profiles_deadlines(bot):
    before = await rows(bot)
    # Before the decision: the panel's own clock, and (provisionally, for the rapid review the
    # referrer sought) the steps the referral itself dates: counted from awareness or receipt.
    assert list(before) == [VOTE_STEP, NOTIFY, REPORT]
    assert before[VOTE_STEP].status == "open" and before[VOTE_STEP].label.endswith("(local policy)")
    assert before[NOTIFY].status == "open" and local(before[NOTIFY].due_at) == (date(2026, 11, 27), "17:00")
    assert local(before[VOTE_STEP].due_at) == (date(2026, 11, 25), "17:00")  # referral Mon 23 Nov + 2 WD

    await decide(bot)
    r = await rows(bot)
    assert r[VOTE_STEP].status == "done" and r[VOTE_STEP].done_by_name == "The panel's decision"
    # The National Panel notification: 5 working days from the LA becoming aware (Sat 21 Nov, day 0).
    assert local(r[NOTIFY].anchor_at) == (date(2026, 11, 21), "00:00")
    assert local(r[NOTIFY].due_at) == (date(2026, 11, 27), "17:00")
    assert r[NOTIFY].status == "open" and r[NOTIFY].asks_for_date and r[NOTIFY].owner == "local_authority"
    # Counted from the decision (Mon 23 Nov): the template in 2 WD, the meeting 7–13 WD.
    assert local(r[SEND].due_at) == (date(2026, 11, 25), "17:00")
    assert r[MEETING].is_window
    assert local(r[MEETING].earliest_at) == (date(2026, 12, 2), "00:00")
    assert local(r[MEETING].due_at) == (date(2026, 12, 10), "17:00")
    # The report: 15 WD from the referral being received (Mon 23 Nov).
    assert local(r[REPORT].due_at) == (date(2026, 12, 14), "17:00")
    # No meeting booked and no requests sent yet: those steps wait for their anchor.
    for step in (PAPERS, RETURN):
        assert r[step].status == "pending" and r[step].due_at is None and r[step].next_reminder_at is None
    assert r[PAPERS].anchor == "meeting"
    assert Anchor.MEETING not in await anchors(bot)
    cal = bot.c.services.calendar
    assert cal.add_working_days(date(2026, 11, 23), 7) == date(2026, 12, 2)  # the hand count, checked once


async def test_a_booked_meeting_dates_the_papers(bot):
    await decide(bot, book_meeting=True)
    meeting = (await anchors(bot)).get(Anchor.MEETING)
    assert meeting is not None, "the meeting was not booked after the decision"
    day = meeting.astimezone(LONDON).date()
    assert date(2026, 12, 2) <= day <= date(2026, 12, 10)  # inside the 7–13 WD window
    papers = (await rows(bot))[PAPERS]
    assert papers.status == "open"
    assert local(papers.due_at) == (bot.c.services.calendar.add_working_days(day, -1), "17:00")


# ---- reminders in the panel channel -----------------------------------------------------------------


async def test_the_channel_reminder_mentions_the_owners_and_offers_mark_done_without_child_identifiers(decided):
    h = decided
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    cards = await at(h, london(2026, 11, 25))  # Wed 25 Nov 09:05: heads-up (notify) and due day (send)

    notify = reminder_for(cards, NOTIFY_LABEL)
    assert mentioned(notify) == {A.LAURA.aad: A.LAURA.name}  # the local authority's panel member only
    text = texts(notify)
    assert f"<at>{A.LAURA.name}</at>" in text
    assert REF in text and case.summary.pseudonym in text
    assert "Due in 2 working days" in text and "Due: Fri 27 Nov 2026" in text
    assert "Counted from: The local authority becoming aware, Sat 21 Nov 2026" in text
    # Mark done asks for the date it was sent (a ShowCard with a required date), then an Action.Execute.
    show = next(e for e in walk(notify) if e.get("type") == "Action.ShowCard")
    assert inputs(show["card"])["done_on"]["type"] == "Input.Date"
    assert inputs(show["card"])["done_on"]["isRequired"] is True
    data = find_action(show["card"], DONE)
    assert data["ref"] == REF and data["step"] == (await rows(h))[NOTIFY].id

    send = reminder_for(cards, SEND_LABEL)
    assert mentioned(send) == {A.PAT.aad: A.PAT.name}  # the business unit: the partnership managers
    assert "**Due today**" in texts(send) and "Due: Wed 25 Nov 2026" in texts(send)
    assert find_action(send, DONE)["step"] == (await rows(h))[SEND].id

    assert len(cards) == 2
    assert await at(h, london(2026, 11, 25, 9, 30)) == []  # the same sweep again posts nothing
    assert_no_identifiers(panel_payload(h))


async def test_an_overdue_reminder_says_so_and_escalates_to_the_chair(decided):
    h = decided
    cards = await at(h, london(2026, 11, 30))  # Mon 30 Nov: the notification was due Fri 27 Nov
    notify = reminder_for(cards, NOTIFY_LABEL)
    assert "**Overdue** by 1 working day:" in texts(notify)
    assert "Escalated to" in texts(notify)
    assert mentioned(notify) == {A.LAURA.aad: A.LAURA.name, A.CHRIS.aad: A.CHRIS.name}
    send = reminder_for(cards, SEND_LABEL)  # due Wed 25 Nov
    assert "**Overdue** by 3 working days" in texts(send)
    assert mentioned(send) == {A.PAT.aad: A.PAT.name, A.CHRIS.aad: A.CHRIS.name}

    cards = await at(h, london(2026, 12, 1))  # and again each working day while overdue
    assert "**Overdue** by 2 working days" in texts(reminder_for(cards, NOTIFY_LABEL))
    assert_no_identifiers(panel_payload(h))


async def test_panel_members_who_have_not_voted_are_reminded(bot):
    h = bot
    await vote(h, A.LAURA)  # the local authority has voted; police and health have not
    await h.flush()
    assert await at(h, london(2026, 11, 23, 18, 0)) == []  # nothing before the heads-up
    cards = await at(h, london(2026, 11, 24))  # Tue 24 Nov 09:05: one working day before Wed 25 Nov
    card = reminder_for(cards, VOTE_LABEL)
    assert mentioned(card) == {A.DAN.aad: A.DAN.name, A.DEE.aad: A.DEE.name, A.NINA.aad: A.NINA.name}
    assert "Due in 1 working day" in texts(card)

    await vote(h, A.DAN)  # police vote; on the due day only health is chased
    await h.flush()
    card = reminder_for(await at(h, london(2026, 11, 25)), VOTE_LABEL)
    assert mentioned(card) == {A.NINA.aad: A.NINA.name}
    assert_no_identifiers(panel_payload(h))


# ---- Mark done ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["execute", "submit"])
async def test_mark_done_records_who_and_when_sets_the_anchor_and_stops_the_reminders(decided, route):
    h = decided
    cards = await at(h, london(2026, 11, 25))
    data = find_action(reminder_for(cards, NOTIFY_LABEL), DONE)  # what the card's button carries
    assert data == {"verb": DONE, "action": DONE, "ref": REF, "step": (await rows(h))[NOTIFY].id}

    # Refusals first: each leaves everything as it was.
    before = await snapshot(h)
    status, said = await press_via(h, route, A.PAT, data)  # the date is required
    assert status == 200 and said == "Give the date it was done (for example the date the notification was sent)."
    status, said = await press_via(h, route, A.PAT, {**data, "done_on": "2026-11-26"})
    assert status == 200 and said == "That date is in the future."
    status, said = await press_via(h, route, A.PAT, {**data, "done_on": "24/11/2026"})
    assert status == 200 and said.startswith("Give the date it was done")
    denied_before = len(await events(h, "access_denied"))
    status, said = await press_via(h, route, A.MALLORY, {**data, "done_on": "2026-11-24"})
    assert without_reference(said) == CASE_DENIED and (status == 403 or route == "submit")
    denied = await events(h, "access_denied")
    assert len(denied) == denied_before + 1 and denied[-1].actor_aad_id == A.MALLORY.aad
    assert denied[-1].detail == {"action": DONE, "reference": REF}
    assert await snapshot(h) == before
    # A tampered step id: another case's deadline, pressed on this case's card.
    await fill_referral(h)
    await h.flush()
    other_id = (await rows(h, REF2))[VOTE_STEP].id
    before = await snapshot(h)
    status, said = await press_via(h, route, A.PAT, {**data, "step": other_id, "done_on": "2026-11-24"})
    assert status == 200 and said == "That step could not be found."
    status, said = await press_via(h, route, A.PAT, {**data, "step": 999_999, "done_on": "2026-11-24"})
    assert status == 200 and said == "That step could not be found."
    assert await snapshot(h) == before

    status, card = await press_via(h, route, A.PAT, {**data, "done_on": "2026-11-24"})
    assert status == 200 and isinstance(card, dict), card
    assert f"Done: {NOTIFY_LABEL}" in texts(card)
    assert "Marked done by Pat Manager on Wed 25 Nov 2026, 09:05; done on Tue 24 Nov 2026" in texts(card)
    row = (await rows(h))[NOTIFY]
    assert (row.status, row.done_on, row.done_by_name, row.next_reminder_at) == (
        "done", date(2026, 11, 24), "Pat Manager", None)
    assert local(row.done_at) == (date(2026, 11, 25), "09:05")
    assert local((await anchors(h))[Anchor.NATIONAL_PANEL_NOTIFIED]) == (date(2026, 11, 24), "00:00")
    done = await events(h, "deadline_done")
    assert len(done) == 1 and done[0].actor_aad_id == A.PAT.aad and done[0].case_id == await case_id(h)
    assert done[0].detail == {"step": NOTIFY, "done_on": "2026-11-24"}
    assert (await rows(h, REF2))[VOTE_STEP].status == "open"  # the other case is untouched

    status, said = await press_via(h, route, A.PAT, {**data, "done_on": "2026-11-24"})  # a second click
    assert said == "Already marked done by Pat Manager on Wed 25 Nov 2026."
    assert len(await events(h, "deadline_done")) == 1

    for day in (london(2026, 11, 27), london(2026, 11, 30), london(2026, 12, 1)):  # due day, overdue, …
        cards = await at(h, day)
        # (the other case, still before its decision, has its own provisional notification step)
        assert not [c for c in cards if NOTIFY_LABEL in texts(c) and REF in texts(c)], day
        assert [c for c in cards if SEND_LABEL in texts(c)]  # the other open step is still chased
    assert_no_identifiers(panel_payload(h))


async def test_marking_the_template_sent_starts_the_agencies_clock_and_dateless_steps_take_today(decided):
    h = decided
    h.clock.set(london(2026, 11, 24, 15, 0))
    r = await rows(h)
    status, said = await press_via(h, "execute", A.CHRIS, done_data(REF, r[MEETING].id))
    assert status == 200 and said.startswith("Give the date")  # the meeting asks when it was held
    status, card = await press_via(h, "execute", A.CHRIS, done_data(REF, r[SEND].id, "2026-11-24"))
    assert status == 200 and "Marked done by Chris Chair on Tue 24 Nov 2026, 15:00" in texts(card)
    assert (await anchors(h))[Anchor.REQUESTS_SENT].astimezone(LONDON).date() == date(2026, 11, 24)
    # Recording that anchor starts the agencies' clock: 8 WD from Tue 24 Nov.
    assert local((await rows(h))[RETURN].due_at) == (date(2026, 12, 4), "17:00")

    review = "desk_top_review_6_months"  # asks for no date: done today, whatever the card sends
    status, card = await press_via(h, "execute", A.PAT, done_data(REF, r[review].id, "2026-01-01"))
    assert status == 200 and "done on Tue 24 Nov 2026" in texts(card)
    assert (await rows(h))[review].done_on == date(2026, 11, 24)


# ---- when an anchor moves -------------------------------------------------------------------------------


def partnership_with(tmp_path: Path, **settings: str) -> Path:
    """A copy of the example partnership file with [partnership] settings replaced or added."""
    text = DEFAULT_PARTNERSHIP_FILE.read_text(encoding="utf-8")
    for key, value in settings.items():
        line = f"{key} = {json.dumps(value)}"
        pattern = re.compile(rf"^{key} = .*$", re.MULTILINE)
        text = pattern.sub(line, text) if pattern.search(text) else text.replace("[partnership]\n",
                                                                                   f"[partnership]\n{line}\n", 1)
    path = tmp_path / "partnership.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_moving_the_meeting_moves_the_papers_deadline(tmp_path):
    async with BotHarness(tmp_path, partnership_file=partnership_with(tmp_path, timeline_profile="surrey")) as h:
        assert h.c.services.profile is not None and h.c.services.profile.id == "surrey"
        await refer(h)
        await decide(h)
        ctx, cid = h.c.services, await case_id(h)
        assert (await rows(h))[PAPERS].status == "pending"

        await ctx.deadlines.set_anchor(cid, Anchor.MEETING, london(2026, 12, 8, 10, 0))  # Tue 8 Dec 10:00
        await deadlines.refresh_deadlines(ctx, cid)
        papers = (await rows(h))[PAPERS]
        assert papers.status == "open"
        assert local(papers.due_at) == (date(2026, 12, 6), "10:00")  # 48 clock hours before
        assert local(papers.anchor_at) == (date(2026, 12, 8), "10:00")

        await ctx.deadlines.set_anchor(cid, Anchor.MEETING, london(2026, 12, 10, 10, 0))  # re-booked: Thu 10 Dec
        await deadlines.refresh_deadlines(ctx, cid)
        papers = (await rows(h))[PAPERS]
        assert local(papers.due_at) == (date(2026, 12, 8), "10:00")
        assert local(papers.next_reminder_at) == (date(2026, 12, 4), "09:00")  # heads-up 2 WD before Tue 8 Dec

        timeline = await h.say(A.PAT, f"timeline {REF}")
        assert isinstance(timeline, dict)
        states = timeline_states(timeline)
        assert states["Master document sent to the Rapid Review Panel"] == "due Tue 08 Dec 2026"


async def test_stockport_papers_are_one_working_day_before_the_meeting_and_follow_it(decided):
    h = decided
    ctx, cid = h.c.services, await case_id(h)
    await ctx.deadlines.set_anchor(cid, Anchor.MEETING, london(2026, 12, 8, 10, 0))
    await deadlines.refresh_deadlines(ctx, cid)
    assert local((await rows(h))[PAPERS].due_at) == (date(2026, 12, 7), "17:00")
    await ctx.deadlines.set_anchor(cid, Anchor.MEETING, london(2026, 12, 10, 10, 0))
    await deadlines.refresh_deadlines(ctx, cid)
    assert local((await rows(h))[PAPERS].due_at) == (date(2026, 12, 9), "17:00")


# ---- status and timeline -----------------------------------------------------------------------------------


async def test_status_lists_open_cases_most_urgent_first_with_rag_and_refuses_non_members(decided):
    h = decided
    # Case 1 (decided Mon 23 Nov): notification and template done, so next is its statutory report
    # (15 WD from the referral: Mon 14 Dec), ahead of the agencies' return (Thu 3 Dec). Cases 2 and 3
    # (referred Mon 23 and Thu 26 Nov, undecided): the notification, 5 WD from awareness (Sat 21 Nov).
    r = await rows(h)
    await press_via(h, "execute", A.PAT, done_data(REF, r[NOTIFY].id, "2026-11-23"))
    await press_via(h, "execute", A.PAT, done_data(REF, r[SEND].id, "2026-11-23"))
    await fill_referral(h)
    await h.flush()
    h.clock.set(london(2026, 11, 26, 10, 0))
    await fill_referral(h)
    await h.flush()

    personal = await h.say(A.PAT, "status")
    channel = await say_in_channel(h, A.CHRIS, "status")
    assert isinstance(personal, dict) and isinstance(channel, dict)
    for card in (personal, channel):
        assert "3 open cases; the most urgent first." in texts(card)
        entries = status_entries(card)
        assert [line.split(" · ")[0] for line, _ in entries] == [f"**{REF2}**", f"**{REF3}**", f"**{REF}**"]
        (case2, next2), (case3, next3), (case1, next1) = entries
        assert case2.endswith("Referred — awaiting panel") and case1.endswith("Decided")
        # Statutory steps rank above local ones: the undecided cases show their (provisional)
        # notification to the National Panel before the panel's overdue vote (local policy).
        assert next2 == f"🟠 Statutory: {NOTIFY_LABEL}: Fri 27 Nov 2026 (1 working day left)"
        assert next3 == f"🟠 Statutory: {NOTIFY_LABEL}: Fri 27 Nov 2026 (1 working day left)"
        assert next1 == f"🟢 Statutory: {REPORT_LABEL}: Mon 14 Dec 2026 (12 working days left)"
        assert_no_identifiers(json.dumps(card, ensure_ascii=False))

    assert await h.say(A.MALLORY, "status") == REFUSED
    assert await h.say(A.MALLORY, f"timeline {REF}") == CASE_DENIED  # no role on the case (bot/services/access.py)
    assert await say_in_channel(h, A.MALLORY, "status") == REFUSED
    denied = await events(h, "access_denied")
    assert [e.detail["action"] for e in denied if e.actor_aad_id == A.MALLORY.aad] == ["status", "timeline", "status"]


async def test_the_timeline_shows_every_step_done_pending_due_or_overdue(decided):
    h = decided
    await at(h, london(2026, 11, 25))
    await press_via(h, "execute", A.PAT, done_data(REF, (await rows(h))[NOTIFY].id, "2026-11-24"))
    h.clock.set(london(2026, 11, 26, 10, 0))  # Thu 26 Nov: the template (due Wed 25 Nov) is overdue

    for card in (await h.say(A.CHRIS, f"timeline {REF}"), await say_in_channel(h, A.LAURA, f"timeline {REF}")):
        assert isinstance(card, dict), card
        states = timeline_states(card)
        assert states == {
            VOTE_LABEL: "✅ done Mon 23 Nov 2026 by The panel's decision",
            NOTIFY_LABEL: "✅ done Tue 24 Nov 2026 by Pat Manager",
            SEND_LABEL: "🔴 overdue since Wed 25 Nov 2026",
            RETURN_LABEL: "⏳ pending (waits for the information requests being sent)",
            "Completed templates circulated to the panel": "⏳ pending (waits for the rapid review meeting)",
            "Rapid review meeting held": "due Wed 02 Dec 2026 – Thu 10 Dec 2026",
            "Panel members and the chair comment on the draft rapid review report":
                "⏳ pending (waits for the draft report going out for comments)",
            "Rapid review report signed off and sent to the National Panel": "due Mon 14 Dec 2026",
            # Sun 23 May 2027: "within 6 months" ends on the working day before, not after
            "Desk-top review of the rapid review decision (6 months)": "due Fri 21 May 2027",
            "Desk-top review of the rapid review decision (12 months)": "due Tue 23 Nov 2027",
            # who tells the family is agreed on the case (bot/services/pathways.py); until then, pending
            "Family told of the outcome": "⏳ pending (waits for the date agreed for telling the family)",
        }
        assert f"{REF} · " in texts(card)
        # Every open step offers Mark done; done and pending ones do not.
        assert {find_action(card, DONE, step=(await rows(h))[s].id)["step"] for s in (SEND, MEETING, REPORT)}
        with pytest.raises(AssertionError):
            find_action(card, DONE, step=(await rows(h))[NOTIFY].id)
        assert_no_identifiers(json.dumps(card, ensure_ascii=False))

    assert await h.say(A.PAT, "timeline RR-2026-0099") == "That case could not be found."
    assert await h.say(A.PAT, "timeline") == "Say which case, for example: **timeline RR-2026-0001**."


# ---- agencies' information ------------------------------------------------------------------------------


async def test_agencies_requests_are_recorded_and_only_the_outstanding_ones_are_chased(decided):
    h = decided
    prompts = [s for s in h.connector.activities_to(A.PAT.chat)
               if isinstance(reply_of(s.activity), dict) and "Information requests" in texts(reply_of(s.activity))]
    assert len(prompts) == 1  # PAT said hello, so the prompt reached his personal chat
    prompt = reply_of(prompts[0].activity)
    assert isinstance(prompt, dict)
    choices = {c["value"] for c in inputs(prompt)["agencies"]["choices"]}
    assert {"Police", "GP / primary care"} <= choices
    assert not [s for s in h.connector.sent_activities() if s.conversation_id.startswith(PANEL)
                and "Information requests" in json.dumps(s.activity)]  # never in the channel

    data = find_action(prompt, RECORD, ref=REF)
    h.clock.set(london(2026, 11, 24, 11, 0))  # Tue 24 Nov
    body = await h.press(A.PAT, RECORD, {**data, "agencies": "Police,GP / primary care",
                                         "contacts": "Police: DI Smith"})
    assert body["statusCode"] == 200, body
    card = body["value"]
    assert "Police — DI Smith" in texts(card) and "GP / primary care" in texts(card)
    requests = await h.c.services.deadlines.agency_requests(await case_id(h))
    assert [(q.agency, q.contact, q.returned_at) for q in requests] == [
        ("Police", "DI Smith", None), ("GP / primary care", None, None)]
    assert local((await anchors(h))[Anchor.REQUESTS_SENT]) == (date(2026, 11, 24), "11:00")
    r = await rows(h)
    assert (r[SEND].status, r[SEND].done_by_name, r[SEND].done_on) == ("done", "Pat Manager", date(2026, 11, 24))
    assert r[RETURN].status == "open"
    assert local(r[RETURN].due_at) == (date(2026, 12, 4), "17:00")  # 8 WD from Tue 24 Nov
    assert [e.detail for e in await events(h, "agency_requests_sent")] == [
        {"agencies": ["Police", "GP / primary care"]}]

    # The due day's reminder, then chasing after it: only the agencies still outstanding.
    due = reminder_for(await at(h, london(2026, 12, 4)), RETURN_LABEL)
    assert "Still outstanding: Police, GP / primary care" in texts(due)
    assert mentioned(due) == {A.PAT.aad: A.PAT.name}

    police = next(q.id for q in requests if q.agency == "Police")
    gp = next(q.id for q in requests if q.agency == "GP / primary care")
    returned = find_action(card, RETURNED, agency_request=police)
    body = await h.press(A.PAT, RETURNED, returned)
    assert body["statusCode"] == 200, body
    assert "returned Fri 04 Dec 2026" in texts(body["value"])

    chase = reminder_for(await at(h, london(2026, 12, 7)), RETURN_LABEL)  # Mon 7 Dec: overdue
    assert "**Overdue** by 1 working day" in texts(chase)
    assert "Still outstanding: GP / primary care" in texts(chase) and "Police" not in texts(chase)
    assert mentioned(chase) == {A.PAT.aad: A.PAT.name, A.CHRIS.aad: A.CHRIS.name}

    body = await h.press(A.PAT, RETURNED, returned)  # the same button again
    assert body["value"] == "That agency's information is already marked as returned."
    body = await h.press(A.MALLORY, RETURNED, {**returned, "agency_request": gp})
    assert body["statusCode"] == 403
    body = await h.press(A.PAT, RETURNED, {**returned, "agency_request": gp}, channel=True)  # from the timeline in the channel
    assert body["statusCode"] == 200, body
    r = await rows(h)
    assert r[RETURN].status == "done" and r[RETURN].next_reminder_at is None
    assert all(q.returned_at is not None for q in await h.c.services.deadlines.agency_requests(await case_id(h)))
    assert len(await events(h, "agency_returned")) == 2

    for day in (london(2026, 12, 8), london(2026, 12, 9)):
        assert not [c for c in await at(h, day) if RETURN_LABEL in texts(c)]  # the chasing has stopped
    assert_no_identifiers(panel_payload(h))



@pytest.mark.parametrize("route", ["execute", "submit"])
async def test_mark_done_and_returned_cards_posted_before_the_id_keys_were_split_still_work(decided, route):
    """Cards already in the channel carry the deadline id and the agency request id as `q`:
    each is read as its verb's own kind of id."""
    h = decided
    cards = await at(h, london(2026, 11, 25))
    data = find_action(reminder_for(cards, NOTIFY_LABEL), DONE)
    old = {"verb": DONE, "action": DONE, "ref": REF, "q": data["step"]}
    status, card = await press_via(h, route, A.PAT, {**old, "done_on": "2026-11-24"})
    assert status == 200 and isinstance(card, dict) and "Done: " + NOTIFY_LABEL in texts(card), card
    assert (await rows(h))[NOTIFY].status == "done"

    body = await h.press(A.PAT, RECORD, {"verb": RECORD, "action": RECORD, "ref": REF, "agencies": "Police,GP"})
    assert body["statusCode"] == 200, body
    requests = await h.c.services.deadlines.agency_requests(await case_id(h))
    police = next(q.id for q in requests if q.agency == "Police")
    assert find_action(body["value"], RETURNED, agency_request=police)  # what new cards carry
    status, card = await press_via(h, route, A.PAT, {"verb": RETURNED, "action": RETURNED, "ref": REF, "q": police})
    assert status == 200 and isinstance(card, dict), card
    returned = {q.agency: q.returned_at for q in await h.c.services.deadlines.agency_requests(await case_id(h))}
    assert returned["Police"] is not None and returned["GP"] is None

SURREY_RETURN = "Agencies return the initial scoping forms to the Partnership team"


@pytest.mark.parametrize("order", ["notified_first", "returned_first"])
async def test_surrey_counts_the_agencies_from_the_notification_and_still_chases_by_agency(tmp_path, order):
    """Surrey's return step counts from the National Panel notification, not from the requests:
    the chasing must still name the outstanding agencies and stop when all have returned,
    even when they all return before the notification is marked done."""
    async with BotHarness(tmp_path, partnership_file=partnership_with(tmp_path, timeline_profile="surrey")) as h:
        await refer(h)
        await decide(h)
        h.clock.set(london(2026, 11, 24, 11, 0))
        body = await h.press(A.PAT, RECORD, {"verb": RECORD, "action": RECORD, "ref": REF,
                                             "agencies": "Police,GP / primary care"})
        assert body["statusCode"] == 200, body
        requests = await h.c.services.deadlines.agency_requests(await case_id(h))
        notify = done_data(REF, (await rows(h))[NOTIFY].id, "2026-11-24")
        if order == "notified_first":
            await press_via(h, "execute", A.LAURA, notify)
            assert local((await rows(h))[RETURN].due_at) == (date(2026, 12, 1), "17:00")  # 5 WD from Tue 24 Nov
            chase = reminder_for(await at(h, london(2026, 12, 2)), SURREY_RETURN)
            assert "Still outstanding: Police, GP / primary care" in texts(chase)
        for q in requests:
            body = await h.press(A.PAT, RETURNED, {"verb": RETURNED, "action": RETURNED, "ref": REF, "agency_request": q.id})
            assert body["statusCode"] == 200, body
        if order == "returned_first":
            await press_via(h, "execute", A.LAURA, notify)
        assert (await rows(h))[RETURN].status == "done"
        for day in (london(2026, 12, 2), london(2026, 12, 3)):
            assert not [c for c in await at(h, day) if SURREY_RETURN in texts(c)]


# ---- a bad profile stops start-up ---------------------------------------------------------------------------

BAD_OVERRIDE = """\
title = "Our partnership (Stockport timescales)"

[[steps]]
id = "notify_national_panel"
offset = { working_days = 5, hours = 48 }
"""


def bad_partnership(tmp_path: Path) -> tuple[Path, Path]:
    overrides = tmp_path / "our_timescales.toml"
    overrides.write_text(BAD_OVERRIDE, encoding="utf-8")
    return partnership_with(tmp_path, profile_overrides=str(overrides)), overrides


def test_a_bad_profile_override_stops_bootstrap_naming_file_step_and_problem(tmp_path):
    partnership, overrides = bad_partnership(tmp_path)
    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'bot.db'}",
                                        "partnership_file": str(partnership)})
    with pytest.raises(ConfigError) as raised:
        bootstrap(settings)
    message = str(raised.value)
    assert str(overrides) in message
    assert "step 'notify_national_panel'" in message
    assert "set exactly one of working_days, hours, months, calendar_days (got working_days, hours)" in message


def test_python_m_bot_with_a_bad_profile_exits_2_with_the_message(tmp_path):
    partnership, overrides = bad_partnership(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("microsoftapp")}
    env.update({"PARTNERSHIP_FILE": str(partnership), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
                "BOT_ENV": "local", "PORT": "39781"})  # if it did start, it would not take the usual port
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Rapid Review bot cannot start" in done.stderr
    assert str(overrides) in done.stderr and "step 'notify_national_panel'" in done.stderr
    assert "set exactly one of" in done.stderr
