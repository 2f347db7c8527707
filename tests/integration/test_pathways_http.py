"""After the virtual panel's decision, over HTTP as Teams drives it, on SQLite and PostgreSQL:
practice review and escalation handed over, confirmed and closed; "no further action" closed
after its challenge period, or kept open by a challenge; who tells the family, with the
reminder, "done" and the family letter (python-docx); the agencies told; an agency's
information return on the chair's notes; a practitioner invited to the (fake Graph) meeting.

Every press is a real invoke to /api/messages; time moves only by the FixedClock; the outbox
is delivered by `flush` and the reminders by the scheduler's sweep, called by hand.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document

from bot.adapters.meetings import GraphMeetingProvider
from bot.domain.lifecycle import CaseStatus
from bot.services import deadlines
from tests.support import activities as A
from tests.support import harness
from tests.support import reminders as sent_reminders
from tests.support.fake_graph import FakeGraph
from tests.support.harness import (
    CANARY_ADDRESS,
    CANARY_CHILD,
    BotHarness,
    fill_referral,
    find_action,
    inputs,
    texts,
    walk,
    without_reference,
)

LONDON = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
PANEL = A.PANEL_CHANNEL_ID
CANARIES = (CANARY_CHILD, CANARY_ADDRESS, "Zqxwv", "2017-02-03", "03/02/2017")
EVERYONE = (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.RILEY)


OUTCOME = {"local_cspr": "yes", "national_review": "no",
           "rationale": "Learning about information sharing between school, GP and social care.",
           "participants": "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair",
           "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}


def london(year: int, month: int, day: int, hour: int = 9, minute: int = 5) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


# ---- driving the bot -----------------------------------------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path, database_url: str):  # noqa: ANN201
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        for person in EVERYONE:
            await h.say(person, "hello")
        await fill_referral(h)
        await h.flush()
        yield h


async def decide(h: BotHarness, choice: str) -> None:
    vote = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": choice,
            "rationale": "The partners agree on this pathway for the case.",
            **({"serious_harm_basis": "Long-term impairment of the child's health is likely."}
               if choice == "rapid_review" else {})}
    for who in (A.LAURA, A.DAN, A.NINA):
        body = await h.press(who, "panel.vote", vote, channel=True)
        assert body["statusCode"] == 200, body
    await h.flush()
    await h.flush()


def cards_to(h: BotHarness, person: A.Person | str, marker: str) -> list[dict[str, Any]]:
    conversation = person if isinstance(person, str) else person.chat
    return [s.attachments[0]["content"] for s in h.connector.activities_to(conversation)
            if s.attachments and marker in json.dumps(s.attachments[0]["content"], ensure_ascii=False)]


def channel_payload(h: BotHarness) -> str:
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in h.connector.requests
                     if r.body is not None and (r.conversation_id or "").startswith(PANEL))


def assert_no_identifiers(text: str) -> None:
    found = [c for c in CANARIES if c.lower() in text.lower()]
    assert not found, f"child identifiers: {found}"


async def status(h: BotHarness) -> CaseStatus:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case.summary.status


async def rows(h: BotHarness) -> dict[str, Any]:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return {r.step_id: r for r in await h.c.stores.deadlines.deadlines(case.id)}


async def events(h: BotHarness, kind: str) -> list[Any]:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return [e for e in await h.c.stores.cases.events_for_case(case.id) if e.kind == kind]


async def press(h: BotHarness, who: A.Person, card: dict[str, Any], verb: str, **typed: str) -> dict[str, Any]:
    body = await h.press(who, verb, {**find_action(card, verb), **typed})
    return body


def said(body: dict[str, Any]) -> str:
    """What the bot answered: a message, a refusal's message, or the card's text."""
    value = body.get("value")
    if isinstance(value, dict) and "message" in value:
        return without_reference(value["message"])
    return without_reference(value) if isinstance(value, str) else texts(value)


async def hand_over(h: BotHarness, process: str, owner: A.Person, agencies: str = "Police") -> dict[str, Any]:
    [prompt] = cards_to(h, A.PAT, "pathway.handover")
    body = await press(h, A.PAT, prompt, "pathway.handover", process=process, owner=owner.aad, agencies=agencies)
    assert body["statusCode"] == 200, body
    await h.flush()
    return body


async def at(h: BotHarness, moment: datetime) -> list[dict[str, Any]]:
    """Move the clock, sweep, deliver: the reminders sent meanwhile, to the owners' personal
    chats, one card per reminder mentioning everyone it reached (tests/support/reminders.py)."""
    h.clock.set(moment)
    before = len(h.connector.sent_activities())
    await deadlines.sweep(h.c.services)
    await h.flush()
    return sent_reminders.merged(h.connector.sent_activities()[before:])


def mentioned(card: dict[str, Any]) -> set[str]:
    return {e["mentioned"]["id"] for e in card.get("msteams", {}).get("entities", [])}


# ---- practice review, escalation ------------------------------------------------------------------


async def test_practice_review_is_handed_over_confirmed_and_closed(bot: BotHarness) -> None:
    h = bot
    await decide(h, "practice_review")
    assert await status(h) is CaseStatus.DECIDED
    assert rows_due(await rows(h), "handover_confirmed") == london(2026, 12, 7, 17, 0)  # 10 working days
    [prompt] = cards_to(h, A.PAT, "pathway.handover")  # the managers are asked, in personal chat
    processes = {c["value"] for c in inputs(prompt)["process"]["choices"]}
    assert processes == {"learning_review", "action_learning", "single_agency"}
    assert not cards_to(h, PANEL, "pathway.handover")

    # Only a partnership manager records the hand-over; a process the decision does not allow is refused.
    refused = await press(h, A.LAURA, prompt, "pathway.handover", process="learning_review", owner=A.NINA.aad)
    assert said(refused) == "Only a partnership manager can record the hand-over."
    wrong = await press(h, A.PAT, prompt, "pathway.handover", process="sar", owner=A.NINA.aad)
    assert "does not follow from the panel's decision" in said(wrong)
    stranger = await press(h, A.PAT, prompt, "pathway.handover", process="learning_review", owner=A.MALLORY.aad)
    assert "Choose someone from the list" in said(stranger)
    assert await status(h) is CaseStatus.DECIDED

    body = await hand_over(h, "learning_review", A.NINA, "Police,GP / primary care")
    assert "Hand-over recorded" in said(body)
    assert await status(h) is CaseStatus.HANDED_OVER
    [owner_card] = cards_to(h, A.NINA, "pathway.confirm")
    assert "Local practice learning review" in texts(owner_card)
    [told] = cards_to(h, A.RILEY, "It has been handed to")  # the referrer: status only
    assert "handed to: Local practice learning review" in texts(told)
    assert_no_identifiers(json.dumps(told))
    assert not find_actions(told)

    # Someone else cannot confirm it; the owner can, and the case closes.
    other = await press(h, A.DAN, owner_card, "pathway.confirm")
    assert said(other).startswith("Only Nina Health, who has the case, or a partnership manager")
    done = await press(h, A.NINA, owner_card, "pathway.confirm")
    assert "Hand-over confirmed. The case is closed." in said(done)
    assert await status(h) is CaseStatus.CLOSED
    step = (await rows(h))["handover_confirmed"]
    assert step.status == "done"
    assert [e.detail.get("process") for e in await events(h, "handover_confirmed")] == ["learning_review"]
    again = await press(h, A.NINA, owner_card, "pathway.confirm")
    assert "already confirmed" in said(again)
    await h.flush()
    assert "Closed" in channel_payload(h)  # the channel's case card shows the closed state
    assert_no_identifiers(channel_payload(h))


def rows_due(found: dict[str, Any], step: str) -> datetime | None:
    due = found[step].due_at
    return due.astimezone(LONDON) if due else None


def find_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in walk(card) if e.get("type") in ("Action.Execute", "Action.Submit")]


async def test_escalation_goes_to_its_owner_with_reminders_and_closes_when_confirmed(bot: BotHarness) -> None:
    h = bot
    await decide(h, "escalation")
    await hand_over(h, "escalation", A.DAN)
    assert await status(h) is CaseStatus.HANDED_OVER
    # The hand-over step reminds its named owner (heads-up two working days before), and the chair once overdue.
    heads_up = [c for c in await at(h, london(2026, 12, 3, 9, 1)) if "Hand-over" in texts(c)]
    assert len(heads_up) == 1 and mentioned(heads_up[0]) == {A.DAN.aad}
    overdue = [c for c in await at(h, london(2026, 12, 8, 9, 1)) if "Hand-over" in texts(c)]
    assert len(overdue) == 1 and mentioned(overdue[0]) == {A.DAN.aad, A.CHRIS.aad}
    # A manager may confirm for the owner, with the date it happened.
    [prompt] = cards_to(h, A.PAT, "pathway.handover")
    view = await h.say(A.PAT, "pathway RR-2026-0001")
    assert isinstance(view, dict)
    body = await press(h, A.PAT, view, "pathway.confirm", confirmed_on="2026-12-07")
    assert "The case is closed." in said(body)
    assert await status(h) is CaseStatus.CLOSED
    assert (await rows(h))["handover_confirmed"].done_on.isoformat() == "2026-12-07"
    assert [] == [c for c in await at(h, london(2026, 12, 9, 9, 1))]  # closed: reminders stop
    assert prompt  # the prompt's form was the managers' way in


# ---- no further action -------------------------------------------------------------------------------


async def test_no_further_action_closes_when_the_challenge_period_passes(bot: BotHarness) -> None:
    h = bot
    await decide(h, "no_further_action")
    [prompt] = cards_to(h, A.PAT, "pathway.handover")
    assert "may be challenged" in texts(prompt).lower()
    assert "Mon 07 Dec 2026" in texts(prompt)  # 10 working days (partnership file default)
    [told] = cards_to(h, A.RILEY, "challenge the decision")  # the referrer's agency may challenge it
    assert "until Mon 07 Dec 2026: tell the partnership manager" in texts(told)
    assert_no_identifiers(json.dumps(told))
    h.clock.set(london(2026, 12, 7, 16, 59))
    await h.flush()
    assert await status(h) is CaseStatus.DECIDED  # not yet: the period runs to the end of that day
    h.clock.set(london(2026, 12, 7, 17, 0))
    await h.flush()
    assert await status(h) is CaseStatus.CLOSED
    [moved] = [e for e in await events(h, "case_moved") if e.detail["to"] == "closed"]
    assert moved.detail["from"] == "decided" and moved.detail["because"] == "challenge_period_passed"
    assert moved.actor_aad_id is None  # the bot closed it, on the clock
    # Too late to challenge now: the card no longer offers it, and a press from the old card is refused.
    view = await h.say(A.LAURA, "pathway RR-2026-0001")
    assert isinstance(view, dict) and "pathway.challenge" not in json.dumps(view)
    late = await press(h, A.LAURA, prompt, "pathway.challenge", agency="Police",
                       reason="A challenge after the end of the period.")
    assert said(late) == ("The challenge period for this decision ended on Mon 07 Dec 2026 at 17:00. Raise it with "
                          "the partnership manager through the escalation process.")
    assert not await events(h, "decision_challenged")


async def test_no_other_process_needs_no_confirming_and_closes_after_the_period_across_a_restart(
        bot: BotHarness) -> None:
    h = bot
    await decide(h, "no_further_action")
    await hand_over(h, "none", A.PAT)
    assert await status(h) is CaseStatus.HANDED_OVER
    assert (await rows(h))["handover_confirmed"].status == "done"  # nothing to confirm: no reminders for it
    assert not cards_to(h, A.PAT, "pathway.confirm")
    await h.restart()  # the closing is a row in the database, not a timer in memory
    h.clock.set(london(2026, 12, 7, 17, 0))
    await h.flush()
    assert await status(h) is CaseStatus.CLOSED
    [moved] = [e for e in await events(h, "case_moved") if e.detail["to"] == "closed"]
    assert moved.detail["from"] == "handed_over" and moved.detail["because"] == "challenge_period_passed"


async def test_a_challenge_within_the_period_keeps_the_case_open_for_the_escalation_process(bot: BotHarness) -> None:
    h = bot
    await decide(h, "no_further_action")
    h.clock.set(london(2026, 12, 2, 11, 0))
    view = await h.say(A.DAN, "pathway RR-2026-0001")
    assert isinstance(view, dict)
    # Bad input is said on the card; an identifier is refused; a stranger is refused.
    short = await press(h, A.DAN, view, "pathway.challenge", agency="Police", reason="No.")
    assert "at least 10 characters" in said(short)
    leaky = await press(h, A.DAN, view, "pathway.challenge", agency="Police",
                        reason="The child at ZZ99 9ZZ Canary Lane was seen by us twice.")
    assert "remove it" in said(leaky)
    outsider = await h.press(A.MALLORY, "pathway.challenge", {**find_action(view, "pathway.challenge"),
                                                               "agency": "Police", "reason": "I disagree strongly."})
    assert outsider["statusCode"] == 403
    assert not await events(h, "decision_challenged")
    body = await press(h, A.DAN, view, "pathway.challenge", agency="Police",
                       reason="Police hold information that suggests missed learning.")
    assert "Challenge recorded" in said(body)
    [event] = await events(h, "decision_challenged")
    assert "reason" not in json.dumps(event.detail)  # audited without its text
    await h.flush()
    [challenged] = cards_to(h, A.PAT, "was challenged")
    assert cards_to(h, A.CHRIS, "was challenged")
    assert "escalation" in {c["value"] for c in inputs(challenged)["process"]["choices"]}
    # The period passes: not closed.
    h.clock.set(london(2026, 12, 8, 10, 0))
    await h.flush()
    assert await status(h) is CaseStatus.DECIDED
    second = await press(h, A.LAURA, view, "pathway.challenge", agency="GP / primary care",
                         reason="A second challenge after the end of the period.")
    assert said(second).startswith("A challenge is already recorded for this decision")
    # The manager hands it to the escalation process; its owner confirms; closed.
    body = await press(h, A.PAT, challenged, "pathway.handover", process="escalation", owner=A.CHRIS.aad)
    assert body["statusCode"] == 200 and await status(h) is CaseStatus.HANDED_OVER
    await h.flush()
    [owner_card] = cards_to(h, A.CHRIS, "pathway.confirm")
    await press(h, A.CHRIS, owner_card, "pathway.confirm")
    assert await status(h) is CaseStatus.CLOSED


# ---- the family ----------------------------------------------------------------------------------------


async def test_who_tells_the_family_is_a_step_with_an_owner_a_reminder_done_and_the_letter(bot: BotHarness) -> None:
    h = bot
    await decide(h, "practice_review")
    assert (await rows(h))["tell_family"].due_at is None  # pending until agreed
    view = await h.say(A.CHRIS, "pathway RR-2026-0001")
    assert isinstance(view, dict)
    # Only the chair or a manager agrees it; a date in the past is refused on the card.
    no = await press(h, A.LAURA, view, "pathway.family", teller=A.NINA.aad, tell_by="2026-12-01")
    assert said(no) == "Only the chair or a partnership manager can do that."
    past = await press(h, A.CHRIS, view, "pathway.family", teller=A.NINA.aad, tell_by="2026-11-01")
    assert "That date has passed" in said(past)
    ok = await press(h, A.CHRIS, view, "pathway.family", teller=A.NINA.aad, tell_by="2026-12-01")
    assert "Nina Health gets the family letter" in said(ok)
    step = (await rows(h))["tell_family"]
    assert step.due_at is not None and step.due_at.astimezone(LONDON) == london(2026, 12, 1, 17, 0)
    await h.flush()
    [teller] = cards_to(h, A.NINA, "pathway.family_letter")
    assert "Tue 01 Dec 2026" in texts(teller) or "Tuesday 01 December 2026" in texts(teller)

    # The reminder names her: heads-up two working days before.
    [reminder] = [c for c in await at(h, london(2026, 11, 27, 9, 1)) if "Family told" in texts(c)]
    assert mentioned(reminder) == {A.NINA.aad}
    assert_no_identifiers(channel_payload(h))

    # The letter: only Nina gets a link; it opens in python-docx with every placeholder filled.
    refused = await h.press(A.PAT, "pathway.family_letter", find_action(teller, "pathway.family_letter"))
    assert "files/once" not in json.dumps(refused)
    body = await press(h, A.NINA, teller, "pathway.family_letter")
    assert body["statusCode"] == 200, body
    [url] = [a["url"] for a in walk(body["value"]) if a.get("type") == "Action.OpenUrl"]
    response = await h.client.get(url.removeprefix("http://localhost:3978"))
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    document = Document(io.BytesIO(await response.read()))
    full = "\n".join(p.text for p in document.paragraphs)
    assert "{" not in full and "}" not in full
    assert CANARY_CHILD in full and REF in full and "Nina Health" in full and "Chris Chair" in full
    assert "Example Safeguarding Children Partnership" in full and "20 November 2026" in full
    assert "practice review" in full
    header = document.sections[0].header.paragraphs[0].text
    assert header.startswith("OFFICIAL-SENSITIVE") and REF in header
    assert (await h.client.get(url.removeprefix("http://localhost:3978"))).status == 410  # once only

    # Done, with the date; the reminders stop.
    done = await press(h, A.NINA, teller, "deadline.done", done_on="2026-11-27")
    assert done["statusCode"] == 200
    assert (await rows(h))["tell_family"].status == "done"
    assert not [c for c in await at(h, london(2026, 12, 2, 9, 1)) if "Family told" in texts(c)]


# ---- the agencies ----------------------------------------------------------------------------------------


async def test_the_agencies_named_are_given_a_status_only_notice(bot: BotHarness) -> None:
    h = bot
    await decide(h, "practice_review")
    await hand_over(h, "action_learning", A.LAURA, "Police,Housing")
    [notice] = cards_to(h, A.PAT, "tell the agencies the outcome")
    words = texts(notice)
    for agency in ("Police", "Housing", "Education (school or college)"):  # the referring agency too
        assert agency in words
    assert "handed to: Action learning circle" in words
    assert_no_identifiers(json.dumps(notice))
    body = await press(h, A.LAURA, notice, "pathway.agencies_told")
    assert said(body) == "Only a partnership manager can record the hand-over."
    body = await press(h, A.PAT, notice, "pathway.agencies_told")
    assert "the agencies are told" in said(body)
    [event] = await events(h, "agencies_told")
    assert event.detail == {"agencies": 3}
    again = await press(h, A.PAT, notice, "pathway.agencies_told")
    assert "already recorded" in said(again)


# ---- the rapid review meeting: agencies' returns and invited practitioners ---------------------------------


async def record_requests(h: BotHarness) -> None:
    [prompt] = cards_to(h, A.PAT, "agencies.record")
    body = await h.press(A.PAT, "agencies.record", {**find_action(prompt, "agencies.record"),
                                                     "agencies": "Police,GP / primary care",
                                                     "contacts": "Police: DS Smith\nGP / primary care: Dr Jones"})
    assert body["statusCode"] == 200, body


async def test_an_agency_return_is_recorded_sealed_and_shown_in_the_chair_notes(bot: BotHarness,
                                                                                  database_url: str) -> None:
    h = bot
    await decide(h, "rapid_review")
    await record_requests(h)
    timeline = await h.say(A.PAT, "timeline RR-2026-0001")
    assert isinstance(timeline, dict)
    listed = await press(h, A.PAT, timeline, "agencies.returns")
    returns = listed["value"]
    gp = next(c["value"] for c in inputs(returns)["request"]["choices"] if c["title"] == "GP / primary care")
    opened = await press(h, A.PAT, returns, "agencies.information_form", request=gp)
    form = opened["value"]
    assert "GP / primary care" in texts(form)
    # An identifier is refused next to its box, with what was typed kept; nothing stored.
    leaky = await press(h, A.PAT, form, "agencies.information", involvement="Registered patient since birth.",
                        analysis="Seen at ZZ99 9ZZ Canary Lane by the health visitor.")
    assert "remove it" in texts(leaky["value"]) and "Registered patient" in json.dumps(leaky["value"])
    assert not await events(h, "agency_return_recorded")
    marker = "Missed two developmental reviews; no follow-up letter."
    saved = await press(h, A.PAT, form, "agencies.information", involvement="Registered patient since birth.",
                        chronology=marker, analysis="Did-not-attend process not followed.",
                        immediate_actions="Practice audit of did-not-attend letters.")
    assert saved["statusCode"] == 200 and "recorded by Pat Manager" in texts(saved["value"])
    [event] = await events(h, "agency_return_recorded")
    assert set(event.detail) == {"request_id"}
    outsider = await h.press(A.MALLORY, "agencies.information", {**find_action(form, "agencies.information"),
                                                                  "involvement": "Nothing to add here."})
    assert marker not in json.dumps(outsider)
    if database_url.startswith("sqlite"):  # sealed at rest: not in the database file
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert marker.encode() not in raw
    # The chair's notes, a day before the meeting, show the return.
    record = await h.c.services.meeting_store.get((await h.c.stores.cases.get_case(REF)).id)
    assert record is not None and record.start_at is not None
    h.clock.set(record.start_at - timedelta(hours=23))
    await h.flush()
    [notes] = cards_to(h, A.CHRIS, "CONFIDENTIAL WHEN COMPLETED")
    assert marker in texts(notes) and "Agencies' information returns" in texts(notes)
    assert "Police — no return recorded yet" in texts(notes).replace("**", "")
    # After the meeting's outcome the agencies asked are told it (West Midlands 4.7.2), with their contacts.
    h.clock.set(record.end_at)
    await h.flush()
    [outcome_card] = cards_to(h, A.CHRIS, "meeting.outcome")
    body = await press(h, A.CHRIS, outcome_card, "meeting.outcome", **OUTCOME)
    assert body["statusCode"] == 200, body
    await h.flush()
    [notice] = cards_to(h, A.PAT, "tell the agencies the outcome")
    assert "Police — DS Smith" in texts(notice) and "GP / primary care — Dr Jones" in texts(notice)
    assert_no_identifiers(json.dumps(notice))


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Every BotHarness of the test bootstrapped with a Graph provider pointed at the fake Graph."""
    original = harness.bootstrap
    with FakeGraph() as fake:
        def with_graph(settings: Any, **kw: Any) -> Any:
            return original(settings, meetings=GraphMeetingProvider(**fake.provider_kwargs(max_retry_after=5)), **kw)

        monkeypatch.setattr(harness, "bootstrap", with_graph)
        yield fake


async def test_an_agency_practitioner_is_invited_to_the_graph_meeting(graph: FakeGraph, tmp_path: Path,
                                                                       database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        for person in EVERYONE:
            await h.say(person, "hello")
        await fill_referral(h)
        await h.flush()
        await decide(h, "rapid_review")
        [event] = graph.live_events()
        [meeting_card] = cards_to(h, PANEL, "meeting.guests")
        # Only the chair or a manager invites; a line that is not an address is refused.
        no = await press(h, A.DAN, meeting_card, "meeting.guests", guests="Sam Worker <sam.worker@example.org>")
        assert said(no) == "Only the chair or a partnership manager can do that."
        bad = await press(h, A.CHRIS, meeting_card, "meeting.guests", guests="Sam Worker")
        assert "not a work e-mail address" in said(bad)
        body = await press(h, A.CHRIS, meeting_card, "meeting.guests",
                           guests="Sam Worker <sam.worker@example.org>\nTeri Manager, teri.manager@example.org")
        assert body["statusCode"] == 200, body
        assert "Invited from agencies" in texts(body["value"]) and "Sam Worker" in texts(body["value"])
        [event] = graph.live_events()
        invited = {a["emailAddress"]["address"] for a in event["attendees"]}
        assert {"sam.worker@example.org", "teri.manager@example.org"} <= invited
        assert "nina.health@example.org" in invited  # the panel is still invited
        assert [e.detail for e in await events(h, "meeting_guests_invited")] == [{"added": 2}]
        again = await press(h, A.CHRIS, meeting_card, "meeting.guests", guests="sam.worker@example.org")
        assert "already invited" in said(again)
