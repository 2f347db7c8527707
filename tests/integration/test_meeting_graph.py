"""The rapid review meeting end to end (docs/architecture.md, Meeting): the real bot over HTTP, Teams
replaced by the fake Bot Connector and Microsoft Graph by the fake Graph (tests/support/
fake_graph.py), which the bot's GraphMeetingProvider reaches through its real seams:
`base_url`, `authority_host` and msal's `http_client` (msal's own code fetches the tenant
discovery document and a client-credentials token, and caches it).

Dates (Europe/London). Most cases are decided on Mon 23 Nov 2026 at 10:00 (GMT), so the
stockport window for the meeting is Wed 2 Dec – Thu 10 Dec. The Christmas case is decided
on Tue 15 Dec 2026: its window runs from Thu 24 Dec (7 working days) to Mon 11 Jan 2027
(13 working days), stepping over Christmas Day (Fri 25), the weekend, the substitute Boxing
Day (Mon 28), the partnership's closure days (29–31 Dec) and New Year's Day. The offline
walk runs in June, in British Summer Time, so London and UTC differ by an hour.

Each test runs on both Teams edges (botbuilder and the Microsoft 365 Agents SDK: presses, typed
commands and the outbox's sends) and both databases; the referral is made on botbuilder, whose
form it is so far.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from icalendar import Calendar

from bot.adapters.clock import FixedClock
from bot.adapters.documents import RECORD_SECTIONS
from bot.adapters.meetings import PLAIN_WORDS, GraphMeetingProvider
from bot.app import bootstrap
from bot.domain.case import CaseStatus
from bot.domain.timeline import Anchor
from cards import meeting_cards as M
from tests.support import activities as A
from tests.support import harness
from tests.support.fake_graph import FakeGraph
from tests.support.harness import (
    CANARY_ADDRESS,
    CANARY_CHILD,
    CANARY_DOB,
    VALID,
    BotHarness,
    fill_referral,
    find_action,
    inputs,
    texts,
    walk,
)

LONDON = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
CANARIES = (CANARY_CHILD, "Zqxwv", CANARY_DOB, "03/02/2017", CANARY_ADDRESS, "Canary Lane")
EMAIL = {p: f"{p.key.replace('-', '.')}@example.org" for p in (A.LAURA, A.DAN, A.DEE, A.NINA, A.CHRIS)}
ATTENDEES = set(EMAIL.values())
OUTCOME = {"local_cspr": "yes", "national_review": "no",
           "rationale": "Learning about information sharing between school, GP and social care.",
           "participants": "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair",
           "immediate_actions": "Safety plan in place for siblings.",
           "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


# ---- wiring ------------------------------------------------------------------------------------------


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    """The fake Graph, and every BotHarness of the test bootstrapped with a GraphMeetingProvider
    pointed at it (bootstrap's `meetings` seam; everything else as `python -m bot` builds it)."""
    with FakeGraph() as fake:
        def with_graph(settings: Any, **kw: Any) -> Any:
            provider = GraphMeetingProvider(**fake.provider_kwargs(max_retry_after=5))
            return bootstrap(settings, meetings=provider, **kw)

        monkeypatch.setattr(harness, "bootstrap", with_graph)
        yield fake


async def decide(h: BotHarness, answers: dict[str, dict[str, str]] | None = None) -> str:
    """Bind the panel channel, introduce the chair and the manager, refer, and have the three
    partners decide on a rapid review; the outbox then books the meeting. Returns the case id."""
    await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
    for person in (A.PAT, A.CHRIS):
        await h.say(person, "help")
    await fill_referral(h, answers=answers or VALID)
    await h.flush()
    vote = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
            "rationale": "Serious injuries and suspected abuse by a carer.",
            "serious_harm_basis": "Long-term impairment likely."}
    for who in (A.LAURA, A.DAN, A.NINA):
        body = await h.press(who, "panel.vote", vote, channel=True)
        assert body["statusCode"] == 200, body
    await h.flush()
    await h.flush()
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case.id


async def meeting_of(h: BotHarness, case_id: str) -> Any:
    assert h.c.services.meeting_store is not None
    return await h.c.services.meeting_store.get(case_id)


async def deadline_rows(h: BotHarness, case_id: str) -> dict[str, Any]:
    assert h.c.services.deadlines is not None
    return {row.step_id: row for row in await h.c.services.deadlines.deadlines(case_id)}


def cards_to(h: BotHarness, conversation: str, marker: str) -> list[dict[str, Any]]:
    """Cards sent to a conversation (a chat id, or the panel channel) containing `marker`."""
    return [s.attachments[0]["content"] for s in h.connector.activities_to(conversation)
            if s.attachments and marker in json.dumps(s.attachments[0]["content"], ensure_ascii=False)]


def open_urls(card: dict[str, Any]) -> dict[str, str]:
    return {a["title"]: a["url"] for a in walk(card) if a.get("type") == "Action.OpenUrl"}


def path_of(url: str) -> str:
    """Links are built on http://localhost:<port>; the test client serves the same paths."""
    assert url.startswith("http://localhost:3978/files/"), url
    return url.removeprefix("http://localhost:3978")


async def press(h: BotHarness, who: A.Person, verb: str, **data: Any) -> dict[str, Any]:
    return await h.press(who, verb, {"verb": verb, "action": verb, "ref": REF, **data})


def graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def assert_no_identifiers(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, canary


# ---- slot finding through Graph ------------------------------------------------------------------------


async def test_earliest_common_slot_over_christmas_is_booked_in_everyones_calendar(tmp_path: Path,
                                                                                    graph: FakeGraph,
        database_url: str, edge: str) -> None:
    graph.add_busy(EMAIL[A.LAURA], london(2026, 12, 24), london(2026, 12, 25), status="oof")
    graph.add_busy(EMAIL[A.LAURA], london(2027, 1, 4, 9), london(2027, 1, 4, 11))
    graph.add_busy(EMAIL[A.DAN], london(2027, 1, 4, 11, 30), london(2027, 1, 4, 14), status="tentative")
    graph.add_busy(EMAIL[A.NINA], london(2027, 1, 4, 14), london(2027, 1, 4, 14, 30))
    graph.add_busy(EMAIL[A.CHRIS], london(2027, 1, 4, 16, 30), london(2027, 1, 4, 17, 30))  # touching is free
    graph.add_busy(EMAIL[A.NINA], london(2027, 1, 4, 8), london(2027, 1, 4, 9), status="free")
    graph.set_unreadable(EMAIL[A.DEE])  # e.g. a guest: unknown, so it cannot block the meeting
    # Nobody is busy on Christmas Day, the substitute Boxing Day, the closure days or New Year's
    # Day: the bot must still not book them.

    async with BotHarness(tmp_path, clock=FixedClock(datetime(2026, 12, 15, 10, 0, tzinfo=UTC)),
                          database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)

        start, end = london(2027, 1, 4, 14, 30), london(2027, 1, 4, 16, 30)
        assert record.status == "booked" and record.provider == "graph"
        assert (record.start_at, record.end_at) == (start, end)

        # One free/busy question for the whole window, in the organiser's calendar.
        [schedule] = graph.requests_of("getSchedule")
        assert schedule.path == f"/v1.0/users/{graph.organiser}/calendar/getSchedule"
        assert set(schedule.body["schedules"]) == ATTENDEES
        assert schedule.body["startTime"] == graph_time(london(2026, 12, 24, 9, 30))
        assert schedule.body["endTime"] == graph_time(london(2027, 1, 11, 16, 30))

        # The Teams meeting, created once, in the organiser's calendar, with every attendee.
        [create] = graph.requests_of("createEvent")
        assert create.path == f"/v1.0/users/{graph.organiser}/events"
        sent = create.body
        assert sent["isOnlineMeeting"] is True and sent["onlineMeetingProvider"] == "teamsForBusiness"
        assert {a["emailAddress"]["address"] for a in sent["attendees"]} == ATTENDEES
        assert (sent["start"], sent["end"]) == (graph_time(start), graph_time(end))
        case = await h.c.stores.cases.get_case(REF)
        assert sent["subject"] == f"Rapid review meeting: {REF} ({case.summary.pseudonym})"
        assert sent["transactionId"] == record.transaction_id
        assert graph.events_created == 1
        [event] = graph.live_events()
        assert record.event_id == event["id"] and record.join_url == event["onlineMeeting"]["joinUrl"]

        # No child identifiers in anything sent to Graph (invitations land in mailboxes).
        assert_no_identifiers(graph.graph_bodies())

        # msal really fetched the discovery document and one token, and reused it.
        assert graph.counts["discovery"] == 1 and graph.token_requests == 1
        assert all(c.headers["Authorization"].startswith("Bearer ") for c in graph.calls
                   if c.route not in ("discovery", "token"))
        assert not graph.requests_of("other")

        # The meeting is the `meeting` anchor: the papers are due the working day before it,
        # which is Christmas Eve (28 Dec–1 Jan are holidays or closure days).
        anchors = await h.c.services.deadlines.anchors(case_id)
        assert anchors[Anchor.MEETING] == start
        papers = (await deadline_rows(h, case_id))["papers_to_panel"]
        assert papers.due_at.astimezone(LONDON).date() == date(2026, 12, 24)
        assert case.summary.status is CaseStatus.MEETING_SCHEDULED

        [card] = cards_to(h, A.PANEL_CHANNEL_ID, "Rapid review meeting")
        shown = texts(card)
        assert "When: Mon 04 Jan 2027, 14:30–16:30" in shown
        assert "Papers due: Thu 24 Dec 2026" in shown
        assert open_urls(card) == {"Join the Teams meeting": event["onlineMeeting"]["joinUrl"]}


async def test_no_common_slot_offers_the_chair_the_best_three(tmp_path: Path, graph: FakeGraph,
                                                              database_url: str, edge: str) -> None:
    graph.add_busy(EMAIL[A.LAURA], london(2026, 12, 2), london(2026, 12, 11), status="oof")
    graph.add_busy(EMAIL[A.DAN], london(2026, 12, 2), london(2026, 12, 4))
    graph.add_busy(EMAIL[A.NINA], london(2026, 12, 2), london(2026, 12, 3))
    graph.add_busy(EMAIL[A.NINA], london(2026, 12, 4, 9), london(2026, 12, 4, 12))

    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)
        assert record.status == "needs_chair"
        assert graph.events_created == 0
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.DECIDED

        [card] = cards_to(h, A.CHRIS.chat, "Choose the rapid review meeting time")
        shown = texts(card)
        offered = ["Fri 04 Dec 2026, 12:00–14:00", "Mon 07 Dec 2026, 09:30–11:30", "Tue 08 Dec 2026, 09:30–11:30"]
        for when in offered:
            assert f"**{when}**" in shown
        assert shown.count("Busy: Laura LocalAuthority") == 3
        picks = [e["data"] for e in walk(card) if e.get("type") == "Action.Execute" and e.get("verb") == M.PICK]
        assert len(picks) == 3
        assert "Or pick another time" in shown
        assert {"date", "time"} <= set(inputs(card))
        find_action(card, M.CHOOSE)

        body = await h.press(A.CHRIS, M.PICK, picks[1])
        assert body["statusCode"] == 200 and "Mon 07 Dec 2026, 09:30–11:30" in texts(body["value"])
        record = await meeting_of(h, case_id)
        assert record.status == "booked" and record.start_at == london(2026, 12, 7, 9, 30)
        assert graph.events_created == 1
        assert graph.requests_of("createEvent")[0].body["start"] == graph_time(london(2026, 12, 7, 9, 30))
        assert len(graph.requests_of("getSchedule")) == 1
        await h.flush()
        assert cards_to(h, A.PANEL_CHANNEL_ID, "Mon 07 Dec 2026, 09:30–11:30")


# ---- Graph refusing, throttling or losing answers -------------------------------------------------------


async def test_throttled_create_waits_for_retry_after_and_books_once(tmp_path: Path, graph: FakeGraph,
                                                                     database_url: str, edge: str) -> None:
    graph.fail_next("createEvent", status=429, retry_after=1)
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)
        assert record.status == "booked"
        creates = graph.requests_of("createEvent")
        assert [c.status for c in creates] == [429, 201]
        assert creates[1].at - creates[0].at >= 1.0  # Retry-After: 1 was honoured
        assert graph.events_created == 1 and len(graph.live_events()) == 1
        assert len({c.body["transactionId"] for c in creates}) == 1
        assert graph.token_requests == 1  # one token for getSchedule and both creates


@pytest.mark.parametrize("drop", [False, True], ids=["503-after-create", "connection-lost-after-create"])
async def test_lost_answer_after_the_event_was_made_does_not_book_twice(tmp_path: Path, graph: FakeGraph,
                                                                         drop: bool,
        database_url: str, edge: str) -> None:
    graph.fail_next("createEvent", status=503, retry_after=0, after_commit=True, drop=drop)
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        if drop:  # the outbox keeps the booking and tries again later
            assert await meeting_of(h, case_id) is None
            h.clock.advance(minutes=5)
            await h.flush()
        record = await meeting_of(h, case_id)
        assert record.status == "booked"
        creates = graph.requests_of("createEvent")
        assert len(creates) == 2
        assert creates[0].body["transactionId"] == creates[1].body["transactionId"] == record.transaction_id
        assert graph.events_created == 1
        [event] = graph.live_events()
        assert record.event_id == event["id"]
        await h.flush()
        assert len(cards_to(h, A.PANEL_CHANNEL_ID, "Join the Teams meeting")) == 1


@pytest.mark.parametrize(("route", "status", "code", "words"), [
    ("getSchedule", 403, "ErrorAccessDenied", "Calendars.ReadWrite"),
    ("createEvent", 404, "ErrorInvalidUser", "GRAPH_ORGANISER"),
], ids=["403-permission", "404-organiser"])
async def test_refusal_tells_the_chair_in_plain_words_and_try_again_books(
        tmp_path: Path, graph: FakeGraph, route: str, status: int, code: str, words: str,
        database_url: str, edge: str) -> None:
    graph.fail_next(route, status=status, code=code)
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)
        assert record.status == "failed" and PLAIN_WORDS[status] in record.last_error
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.DECIDED
        assert graph.events_created == 0

        [card] = cards_to(h, A.CHRIS.chat, "The meeting could not be booked")
        shown = texts(card).replace("\\", "")  # Markdown escapes, as Teams renders them
        assert words in shown and f"[{code}]" in shown
        retry = find_action(card, M.RETRY)

        refused = await h.press(A.MALLORY, M.RETRY, retry)
        assert refused["statusCode"] == 403
        body = await h.press(A.CHRIS, M.RETRY, retry)
        assert body["statusCode"] == 200 and "Trying again" in body["value"]
        await h.flush()
        record = await meeting_of(h, case_id)
        assert record.status == "booked" and record.last_error is None
        assert graph.events_created == 1
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.MEETING_SCHEDULED

        await h.press(A.CHRIS, M.RETRY, retry)  # a second press once booked changes nothing
        await h.flush()
        assert graph.events_created == 1 and len(graph.live_events()) == 1


# ---- the chair moves or cancels the meeting; nobody else can ----------------------------------------------


async def test_rebooking_patches_the_event_and_moves_deadlines_cancel_cancels_it(tmp_path: Path,
                                                                                 graph: FakeGraph,
        database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)
        assert record.start_at == london(2026, 12, 2, 9, 30)  # everyone free: the window's first slot
        before = {step: row.due_at for step, row in (await deadline_rows(h, case_id)).items()
                  if row.anchor == "meeting"}
        assert before["papers_to_panel"].astimezone(LONDON).date() == date(2026, 12, 1)

        for who in (A.MALLORY, A.DAN):
            for verb, data in ((M.CHOOSE, {"date": "2026-12-08", "time": "11:00"}), (M.CANCEL, {}),
                               (M.OUTCOME, OUTCOME)):
                body = await press(h, who, verb, **data)
                assert body["statusCode"] == 403, (who.name, verb, body)
        assert not graph.requests_of("updateEvent") and not graph.requests_of("cancelEvent")
        assert (await meeting_of(h, case_id)).status == "booked"

        body = await press(h, A.CHRIS, M.CHOOSE, date="2026-12-05", time="11:00")  # a Saturday
        assert "not a working day" in body["value"]
        assert not graph.requests_of("updateEvent")

        body = await press(h, A.CHRIS, M.CHOOSE, date="2026-12-08", time="11:00")
        assert body["statusCode"] == 200, body
        assert "Tue 08 Dec 2026, 11:00–13:00" in texts(body["value"])
        [patch] = graph.requests_of("updateEvent")
        assert patch.path == f"/v1.0/users/{graph.organiser}/events/{record.event_id}"
        assert patch.body == {"start": graph_time(london(2026, 12, 8, 11)), "end": graph_time(london(2026, 12, 8, 13))}
        assert graph.events[record.event_id]["start"]["dateTime"].startswith("2026-12-08T11:00:00")
        assert graph.events_created == 1

        moved = await meeting_of(h, case_id)
        assert moved.start_at == london(2026, 12, 8, 11) and moved.event_id == record.event_id
        assert (await h.c.services.deadlines.anchors(case_id))[Anchor.MEETING] == london(2026, 12, 8, 11)
        after = {step: row.due_at for step, row in (await deadline_rows(h, case_id)).items()
                 if row.anchor == "meeting"}
        assert set(after) == set(before)
        assert all(after[step] != before[step] for step in before)
        assert after["papers_to_panel"].astimezone(LONDON).date() == date(2026, 12, 7)
        await h.flush()
        assert cards_to(h, A.PANEL_CHANNEL_ID, "Tue 08 Dec 2026, 11:00–13:00")

        h.clock.set(london(2026, 12, 1, 12))  # the old meeting's notes time has passed: nothing stale is sent
        await h.flush()
        assert not cards_to(h, A.CHRIS.chat, "Rapid review panel:")

        body = await press(h, A.CHRIS, M.CANCEL)
        assert body["statusCode"] == 200 and "cancelled" in texts(body["value"])
        [cancel] = graph.requests_of("cancelEvent")
        assert cancel.status == 202 and REF in cancel.body["comment"]
        assert not graph.live_events()
        assert (await meeting_of(h, case_id)).status == "cancelled"
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.DECIDED

        h.clock.set(london(2026, 12, 8, 13, 5))  # after the cancelled meeting: no outcome card
        await h.flush()
        assert not cards_to(h, A.CHRIS.chat, "Record the rapid review outcome")
        assert_no_identifiers(graph.graph_bodies())


# ---- the offline provider -------------------------------------------------------------------------------


async def test_offline_books_ten_oclock_and_the_ics_downloads(tmp_path: Path, database_url: str, edge: str) -> None:
    june = {**VALID, "incident": {**VALID["incident"], "incident_date": "2026-06-05", "la_aware_date": "2026-06-06"}}
    async with BotHarness(tmp_path, clock=FixedClock(datetime(2026, 6, 8, 9, 0, tzinfo=UTC)),
                          database_url=database_url, edge=edge) as h:
        case_id = await decide(h, june)
        record = await meeting_of(h, case_id)
        start = london(2026, 6, 17, 10)  # 7 working days after Mon 8 June; 09:00 UTC in summer time
        assert record.status == "booked" and record.provider == "offline" and record.join_url is None
        assert (record.start_at, record.end_at) == (start, start + timedelta(hours=2))

        [card] = cards_to(h, A.PANEL_CHANNEL_ID, "Rapid review meeting")
        shown = texts(card)
        assert "When: Wed 17 Jun 2026, 10:00–12:00" in shown
        for line in ("Local authority: Laura LocalAuthority", "Police: Dan Police, Dee Deputy",
                     "Health (ICB): Nina Health", "Chair: Chris Chair", "Papers due: Tue 16 Jun 2026"):
            assert line in shown
        assert "Booked without Microsoft Graph" in shown
        assert_no_identifiers(json.dumps(card))
        url = open_urls(card)["Download invitation (.ics)"]

        response = await h.client.get(path_of(url))
        assert response.status == 200 and response.content_type == "text/calendar"
        raw = await response.read()
        assert_no_identifiers(raw.decode())
        calendar = Calendar.from_ical(raw)
        events = list(calendar.walk("VEVENT"))
        assert len(events) == 1
        event = events[0]
        assert event.decoded("dtstart") == datetime(2026, 6, 17, 9, 0, tzinfo=UTC) == start
        assert event.decoded("dtend") == start + timedelta(hours=2)
        attendees = event.get("attendee")
        assert {str(a).lower().removeprefix("mailto:") for a in attendees} == ATTENDEES
        case = await h.c.stores.cases.get_case(REF)
        assert str(event.get("summary")) == f"Rapid review meeting: {REF} ({case.summary.pseudonym})"


# ---- before and after the meeting -------------------------------------------------------------------------


async def walk_to_outcome_card(h: BotHarness, case_id: str) -> dict[str, Any]:
    record = await meeting_of(h, case_id)
    h.clock.set(record.end_at)
    await h.flush()
    [card] = cards_to(h, A.CHRIS.chat, "Record the rapid review outcome")
    return card


async def test_chair_prompts_and_the_outcome(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)
        assert record.start_at == london(2026, 12, 2, 10)

        h.clock.set(record.start_at - timedelta(hours=24, minutes=1))
        await h.flush()
        assert not cards_to(h, A.CHRIS.chat, "Rapid review panel:")
        h.clock.set(record.start_at - timedelta(hours=24))
        await h.flush()
        [notes] = cards_to(h, A.CHRIS.chat, "Rapid review panel:")
        shown = texts(notes)
        for number, question in M.CHAIR_QUESTIONS:
            assert f"**{number}** {question}" in shown
        for item in M.AGENDA:
            assert item in shown
        assert "Admitted to hospital with unexplained injuries." in shown
        assert not cards_to(h, A.PANEL_CHANNEL_ID, "Rapid review panel:")

        h.clock.set(record.end_at - timedelta(minutes=1))
        await h.flush()
        assert not cards_to(h, A.CHRIS.chat, "Record the rapid review outcome")
        card = await walk_to_outcome_card(h, case_id)
        save = find_action(card, M.OUTCOME)

        rows = await deadline_rows(h, case_id)
        assert "local_cspr_report" not in rows or rows["local_cspr_report"].due_at is None

        body = await h.press(A.CHRIS, M.OUTCOME, {**save, **OUTCOME, "rationale": ""})
        assert "Give the rationale" in texts(body["value"])
        assert inputs(body["value"])["participants"]["value"] == OUTCOME["participants"]  # typed answers kept
        body = await h.press(A.CHRIS, M.OUTCOME, {**save, **OUTCOME, "quorum_police": "false"})
        assert "Not present: police" in texts(body["value"])
        for outsider in (A.DAN, A.MALLORY, A.PAT):  # a forged submission: refused, nothing recorded
            body = await h.press(outsider, M.OUTCOME, {**save, **OUTCOME})
            assert body["statusCode"] == 403, outsider.name
        assert (await meeting_of(h, case_id)).status == "booked"

        body = await h.press(A.CHRIS, M.OUTCOME, {**save, **OUTCOME})
        assert body["statusCode"] == 200 and "Rapid review meeting held" in texts(body["value"])
        await h.flush()

        held = await meeting_of(h, case_id)
        assert held.status == "held" and held.outcome["local_cspr"] == "yes"
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.MEETING_HELD
        kinds = [e.kind for e in await h.c.stores.cases.events_for_case(case_id)]
        assert "meeting_outcome_recorded" in kinds

        [summary] = cards_to(h, A.PANEL_CHANNEL_ID, "Rapid review meeting held")
        assert "Local review recommended: Yes" in texts(summary)
        channel = json.dumps([s.activity for s in h.connector.activities_to(A.PANEL_CHANNEL_ID)])
        assert_no_identifiers(channel)
        assert OUTCOME["rationale"] not in channel and OUTCOME["immediate_actions"] not in channel

        [told] = cards_to(h, A.RILEY.chat, "Rapid review outcome")
        assert "Local review recommended: Yes" in texts(told)

        rows = await deadline_rows(h, case_id)
        assert rows["rapid_review_meeting"].status == "done"
        assert rows["report_to_national_panel"].status == "open" and rows["report_to_national_panel"].due_at
        assert rows["local_cspr_report"].due_at.astimezone(LONDON).date() == date(2027, 6, 2)

        for person in (A.CHRIS, A.PAT):
            [card] = cards_to(h, person.chat, M.RECORD_TITLE)
            assert not open_urls(card), "no link on the card itself: each person asks for their own"
        assert not cards_to(h, A.PANEL_CHANNEL_ID, "Download the record")

        body = await h.press(A.CHRIS, M.OUTCOME, {**save, **OUTCOME})
        assert "already recorded" in texts(body["value"])


async def _record_link(h: BotHarness, who: A.Person, card: dict[str, Any]) -> str:
    body = await h.press(who, M.RECORD_LINK, find_action(card, M.RECORD_LINK))
    assert body["statusCode"] == 200, body
    url = open_urls(body["value"])["Open the record (.docx)"]
    assert url.startswith("http://localhost:3978/files/once/"), url
    return url.removeprefix("http://localhost:3978")


async def test_the_record_goes_to_a_person_by_a_link_that_works_once(tmp_path: Path,
                                                                     database_url: str, edge: str) -> None:
    """The record holds the child's identifiers: each chair or manager presses for a link of
    their own, which works once, for 10 minutes, and is audited with their name."""
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        case_id = await decide(h)
        card = await walk_to_outcome_card(h, case_id)
        body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **OUTCOME})
        assert body["statusCode"] == 200
        await h.flush()
        [record_card] = cards_to(h, A.CHRIS.chat, M.RECORD_TITLE)

        async def viewed() -> list[Any]:
            return [e for e in await h.c.stores.cases.events_for_case(case_id)
                    if e.kind == "identifiers_viewed" and e.detail.get("what") == "rapid_review_record"]

        path = await _record_link(h, A.CHRIS, record_card)
        assert await viewed() == []
        response = await h.client.get(path)
        assert response.status == 200
        assert response.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        assert response.headers["Cache-Control"] == "no-store"
        document = Document(io.BytesIO(await response.read()))
        headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
        assert headings == list(RECORD_SECTIONS)
        [table] = document.tables
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        assert rows[0] == ["Name", "Date of birth", "Age", "Gender", "Location"]
        assert rows[1][:2] == [CANARY_CHILD, "03/02/2017"]
        full = "\n".join(p.text for p in document.paragraphs)
        assert OUTCOME["rationale"] in full and "Mother, stepfather" in full
        # the protective marking, the reference, the version and "do not forward" on every page
        [section] = document.sections
        header, footer = section.header.paragraphs[0].text, section.footer.paragraphs[0].text
        reference = (await h.c.stores.cases.get_case_by_id(case_id)).reference
        assert header.startswith("OFFICIAL-SENSITIVE") and reference in header and "version" in header
        assert footer.startswith("OFFICIAL-SENSITIVE") and reference in footer and "Do not forward" in footer
        [seen] = await viewed()
        assert seen.actor_aad_id == A.CHRIS.aad and seen.actor_name == A.CHRIS.name  # who, not "a link"

        assert (await h.client.get(path)).status == 410  # once only
        expired = await _record_link(h, A.PAT, cards_to(h, A.PAT.chat, M.RECORD_TITLE)[0])
        h.clock.advance(minutes=11)
        assert (await h.client.get(expired)).status == 410
        assert len(await viewed()) == 1
        fresh = await _record_link(h, A.PAT, cards_to(h, A.PAT.chat, M.RECORD_TITLE)[0])  # asking again works
        assert (await h.client.get(fresh)).status == 200 and len(await viewed()) == 2

        # A panel member is not sent the record and cannot ask for it; nor can a stranger.
        for who in (A.LAURA, A.MALLORY):
            body = await h.press(who, M.RECORD_LINK, find_action(record_card, M.RECORD_LINK))
            assert not open_urls(body["value"]) if isinstance(body.get("value"), dict) else True
            assert "files/once" not in json.dumps(body)

        # A 7-day signed link to the record (the old cards) no longer opens it.
        old = await h.c.links.url(case_id, "record", h.clock.now() + timedelta(days=7))
        assert (await h.client.get(path_of(old))).status == 410
        # A signed link still refuses tampering (the invitation uses them).
        token = path_of(old).removeprefix("/files/")
        payload, signature = token.rsplit(".", 1)
        forged_sig = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        data = json.loads(base64.urlsafe_b64decode(payload))
        longer = base64.urlsafe_b64encode(json.dumps({**data, "e": data["e"] + 86400 * 365},
                                                     separators=(",", ":")).encode()).decode()
        ics_instead = base64.urlsafe_b64encode(json.dumps({**data, "k": "ics"}, separators=(",", ":")).encode()).decode()
        for tampered in (f"{payload}.{forged_sig}", f"{longer}.{signature}", f"{ics_instead}.{signature}",
                         payload, "nonsense"):
            assert (await h.client.get(f"/files/{tampered}")).status == 404, tampered
