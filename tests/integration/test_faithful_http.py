"""Faithfulness to the sources, over HTTP as Teams drives it: the vote card's notification
date and wording come from the profile (an override included), Surrey's Day-1 steps are on the
timeline from the referral on (provisional, not overdue), the meeting supersedes the steps it
makes moot, and the panel's vote deadline is labelled local policy."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from docx import Document

from bot.services import meeting
from cards import meeting_cards as M
from tests.integration import test_meeting_graph as mg
from tests.integration.test_clock_http import (
    REF,
    decide,
    london,
    partnership_with,
    refer,
    say_in_channel,
    timeline_states,
)
from tests.integration.test_meeting_graph import graph  # noqa: F401 - the fake Graph fixture
from tests.integration.test_panel_http import card_of, channel_card
from tests.support import activities as A
from tests.support.harness import BotHarness, find_action, texts
from tests.unit.services.flow import GOOD_OUTCOME


def _override(tmp_path: Path, text: str) -> Path:
    overrides = tmp_path / "our_timescales.toml"
    overrides.write_text(text, encoding="utf-8")
    return partnership_with(tmp_path, profile_overrides=str(overrides))


async def test_the_vote_card_says_what_the_profile_override_says(tmp_path: Path, database_url: str) -> None:
    partnership = _override(tmp_path, '[[steps]]\nid = "notify_national_panel"\noffset = { working_days = 3 }\n')
    async with BotHarness(tmp_path, database_url=database_url, partnership_file=partnership) as h:
        await refer(h)
        await decide(h)
        shown = texts(channel_card(h))
        # Aware Sat 21 Nov 2026 (day 0) + 3 working days: Wed 25 Nov, not the national 5 (Fri 27 Nov).
        assert ("notify the National Panel within 3 working days of the local authority becoming aware: "
                "**by Wed 25 Nov 2026**") in shown
        assert "5 working days" not in shown


async def test_the_vote_card_follows_a_profile_that_counts_from_the_referral(tmp_path: Path, database_url: str) -> None:
    partnership = _override(tmp_path, '[[steps]]\nid = "notify_national_panel"\nanchor = "referral_received"\n')
    async with BotHarness(tmp_path, database_url=database_url, partnership_file=partnership) as h:
        await refer(h)
        await decide(h)
        shown = texts(channel_card(h))
        # Received Mon 23 Nov 2026 + 5 working days: Mon 30 Nov.
        assert ("within 5 working days of the referral being received: **by Mon 30 Nov 2026**") in shown


async def test_surreys_day_one_steps_are_on_the_timeline_from_the_referral_and_provisional(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, partnership_file=partnership_with(tmp_path, timeline_profile="surrey")) as h:
        await refer(h)
        card = await say_in_channel(h, A.PAT, f"timeline {REF}")
        assert isinstance(card, dict), card
        assert "Provisional" in texts(card)
        states = timeline_states(card)
        # Aware Sat 21 Nov 2026: Day 1 is Mon 23 Nov, today; due, not overdue.
        assert states["Date for the Rapid Review Panel (Case Review Group) meeting set"] == \
            "due Mon 23 Nov 2026 · provisional"
        assert states["Local authority notifies the National Panel (serious incident notification)"] == \
            "due Fri 27 Nov 2026 · provisional"
        assert states["Virtual panel decides the pathway (all three partners vote) (local policy)"] == \
            "due Wed 25 Nov 2026"

        await decide(h)
        card = await say_in_channel(h, A.PAT, f"timeline {REF}")
        assert isinstance(card, dict) and "Provisional" not in texts(card)
        assert "provisional" not in " ".join(timeline_states(card).values())


async def test_the_held_meeting_shows_the_papers_and_the_returns_as_superseded(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:  # Stockport
        await refer(h)
        await decide(h, book_meeting=True)
        h.clock.set(london(2026, 12, 11, 12, 0))
        await meeting.record_outcome(h.c.services, _actor(A.CHRIS), REF, GOOD_OUTCOME)
        card = await say_in_channel(h, A.PAT, f"timeline {REF}")
        assert isinstance(card, dict), card
        states = timeline_states(card)
        assert states["Completed templates circulated to the panel"] == "➖ superseded: the meeting has been held"
        assert states["Agencies return the completed template"] == "➖ superseded: the meeting has been held"


def _actor(person: A.Person):  # noqa: ANN202
    from bot.domain.case import Actor

    return Actor(aad_object_id=person.aad, name=person.name)


# ---- the chair's notes, and new links for expired ones ------------------------------------------------------


async def test_the_chairs_notes_are_a_word_document_from_the_chairs_card_and_from_a_command(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await mg.decide(h)
        record = await mg.meeting_of(h, case_id)
        h.clock.set(record.start_at - timedelta(hours=24))
        await h.flush()
        [notes] = mg.cards_to(h, A.CHRIS.chat, "Rapid review panel:")
        shown = texts(notes)
        # Awareness and the notification are labelled apart; the notification is not yet recorded.
        assert "Date the local authority became aware: Sat 21 Nov 2026" in shown
        assert "Date of LA notification (to the National Panel): not yet recorded" in shown
        assert "Venue: Microsoft Teams (remotely)" in shown and "Chair: Chris Chair" in shown

        body = await h.press(A.CHRIS, M.NOTES_LINK, find_action(notes, M.NOTES_LINK))
        assert body["statusCode"] == 200, body
        url = mg.open_urls(body["value"])["Open the chair's notes (.docx)"]
        response = await h.client.get(mg.path_of(url))
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        document = Document(io.BytesIO(await response.read()))
        header = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
        assert header["Chair"] == "Chris Chair" and header["Venue"].startswith("Microsoft Teams")
        assert header["Meeting date"] == "Wed 02 Dec 2026"
        full = "\n".join(p.text for p in document.paragraphs)
        for part in ("1.1 Attendees", "Laura LocalAuthority", "1.2 Purpose of the meeting", "Confidentiality statement",
                     "The child's voice and lived experience", "4.7 ", "Prompts: ", "6 Actions"):
            assert part in full, part
        assert (await h.client.get(mg.path_of(url))).status == 410  # once only

        # The link has gone: the message says how to get a new one, and the command gives it.
        gone = await (await h.client.get(mg.path_of(url))).text()
        assert "'notes RR-…'" in gone and "'record RR-…'" in gone
        again = await h.say(A.CHRIS, f"notes {REF}")
        assert isinstance(again, dict), again
        fresh = mg.open_urls(again)["Open the chair's notes (.docx)"]
        assert (await h.client.get(mg.path_of(fresh))).status == 200
        # A panel member is not a recipient; the typed command says so and gives no link.
        refused = await h.say(A.LAURA, f"notes {REF}")
        assert refused == "The chair's notes go to the chair and the partnership managers. Ask one of them for them."
        assert await h.say(A.PAT, "notes RR-2026-0099") == "The chair's notes are ready once the rapid review " \
                                                           "meeting is booked."


async def test_record_command_gives_a_new_link_to_the_record(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await mg.decide(h)
        assert await h.say(A.PAT, f"record {REF}") == "The record is ready once the meeting's outcome has been recorded."
        card = await mg.walk_to_outcome_card(h, case_id)
        body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **mg.OUTCOME})
        assert body["statusCode"] == 200
        await h.flush()
        reply = await h.say(A.PAT, f"record {REF}")
        assert isinstance(reply, dict), reply
        assert "Local review: Yes" in texts(reply)  # capitalised, not the stored "yes"
        url = mg.open_urls(reply)["Open the record (.docx)"]
        assert (await h.client.get(mg.path_of(url))).status == 200
        h.clock.advance(minutes=11)
        expired = mg.open_urls(await h.say(A.PAT, f"record {REF}"))["Open the record (.docx)"]
        h.clock.advance(minutes=11)
        response = await h.client.get(mg.path_of(expired))
        assert response.status == 410 and "'record RR-…'" in await response.text()


async def test_help_lists_every_typed_command(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        personal = texts(await h.say(A.PAT, "help"))
        for command in ("refer", "resume", "cancel", "my referrals", "notification summary RR-…", "status",
                        "timeline RR-…", "show RR-…", "notes RR-…", "record RR-…", "export RR-…", "members",
                        "add @Name as police", "remove @Name"):
            assert command in personal, command
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        channel = texts(await say_in_channel(h, A.PAT, "help"))
        for command in ("status", "timeline RR-…", "show RR-…", "members", "add @Name as police", "remove @Name",
                        "refer", "notes RR-…", "record RR-…", "export RR-…"):
            assert command in channel, command


# ---- an inquorate meeting ----------------------------------------------------------------------------------


async def test_an_inquorate_meeting_is_recorded_with_who_was_missing_and_re_convened(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await mg.decide(h)
        first = await mg.meeting_of(h, case_id)
        card = await mg.walk_to_outcome_card(h, case_id)
        # Saving without the police present is refused, and says what to do instead.
        body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **mg.OUTCOME,
                                                  "quorum_police": "false"})
        assert "Not present: police" in texts(body["value"]) and M.INQUORATE_TITLE in texts(body["value"])
        # "The meeting was inquorate" needs no answers: it opens the inquorate card.
        body = await h.press(A.CHRIS, M.INQUORATE, find_action(card, M.INQUORATE))
        inquorate = body["value"]
        assert "Record the meeting as inquorate" in texts(inquorate)
        press = find_action(inquorate, M.INQUORATE)
        # Every partner ticked present: not inquorate, refused on the card.
        body = await h.press(A.CHRIS, M.INQUORATE, {**press, "quorum_local_authority": "true", "quorum_police": "true",
                                                    "quorum_health": "true"})
        assert "was quorate" in texts(body["value"])
        for outsider in (A.DAN, A.PAT):  # the chair records it, no one else
            body = await h.press(outsider, M.INQUORATE, {**press, "quorum_police": "false"})
            assert body["statusCode"] == 403, outsider.name

        body = await h.press(A.CHRIS, M.INQUORATE, {**press, "quorum_local_authority": "true", "quorum_police": "false",
                                                    "quorum_health": "true"})
        assert body["statusCode"] == 200 and "not present: police" in texts(body["value"])
        [event] = [e for e in await h.c.stores.cases.events_for_case(case_id) if e.kind == "meeting_inquorate"]
        assert event.detail == {"missing": ["police"], "held_at": first.start_at.isoformat()}
        await h.flush()
        again = await mg.meeting_of(h, case_id)
        assert again.status == "booked" and again.start_at > first.start_at and not again.outcome
        case = await h.c.stores.cases.get_case(REF)
        assert case.summary.status.value == "meeting_scheduled"
        told = mg.cards_to(h, A.CHRIS.chat, "was recorded as inquorate: not present: police")
        assert told, "the chair is told"
        # The re-convened meeting's outcome can then be recorded.
        h.clock.set(again.end_at)
        await h.flush()
        cards = mg.cards_to(h, A.CHRIS.chat, "Record the rapid review outcome")
        assert len(cards) == 2  # one after each meeting
        body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(cards[-1], M.OUTCOME), **mg.OUTCOME})
        assert body["statusCode"] == 200 and (await mg.meeting_of(h, case_id)).status == "held"


# ---- re-booking and cancelling the meeting -----------------------------------------------------------------



def _meeting_posts(h: BotHarness) -> list:  # noqa: ANN202
    return [s for s in h.connector.activities_to(A.PANEL_CHANNEL_ID)
            if s.attachments and "Rapid review meeting" in texts(card_of(s.activity))]


def _update_of(h: BotHarness, activity_id: str) -> dict:  # noqa: ANN202
    updates = [u for u in h.connector.updates() if u.activity_id == activity_id]
    assert updates, f"the card {activity_id} was never updated"
    return card_of(updates[-1].activity)


async def test_rebooking_updates_the_old_card_and_warns_outside_the_window(tmp_path: Path, graph, database_url: str) -> None:  # noqa: ANN001, F811
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await mg.decide(h)
        await h.flush()
        [first] = _meeting_posts(h)
        assert "Wed 02 Dec 2026, 09:30–11:30" in texts(card_of(first.activity))

        body = await mg.press(h, A.CHRIS, M.CHOOSE, date="2026-12-08", time="11:00")  # inside 7–13 WD
        assert body["statusCode"] == 200 and "Outside the meeting window" not in texts(body["value"])
        await h.flush()
        moved = texts(_update_of(h, first.activity_id))
        assert "Moved" in moved and "Wed 02 Dec 2026, 09:30" in moved and "Tue 08 Dec 2026, 11:00–13:00" in moved
        second = _meeting_posts(h)[-1]
        assert second.activity_id != first.activity_id
        assert "Tue 08 Dec 2026, 11:00–13:00" in texts(card_of(second.activity))

        # After the window (Stockport: 13 working days from the decision, Thu 10 Dec): booked, with a warning.
        body = await mg.press(h, A.CHRIS, M.CHOOSE, date="2026-12-15", time="10:00")
        assert body["statusCode"] == 200
        shown = texts(body["value"])
        assert "Outside the meeting window" in shown and "after the end" in shown and "Thu 10 Dec 2026" in shown
        await h.flush()
        assert "Tue 15 Dec 2026" in texts(_update_of(h, second.activity_id))
        assert (await mg.meeting_of(h, case_id)).start_at == mg.london(2026, 12, 15, 10)


async def test_cancelling_asks_first_and_the_card_says_so_and_books_again(tmp_path: Path, graph, database_url: str) -> None:  # noqa: ANN001, F811
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await mg.decide(h)
        await h.flush()
        [post] = _meeting_posts(h)
        card = card_of(post.activity)
        # The Cancel button opens a confirmation; the cancelling press is inside it.
        [confirm] = [a for a in card["actions"] if a.get("title") == "Cancel meeting"]
        assert confirm["type"] == "Action.ShowCard"
        assert "attendees get the cancellation" in texts(confirm["card"])
        assert find_action(confirm["card"], M.CANCEL)["ref"] == REF

        body = await mg.press(h, A.CHRIS, M.CANCEL)
        assert body["statusCode"] == 200 and "Book a new time" in texts(body["value"])
        await h.flush()
        cancelled = _update_of(h, post.activity_id)
        assert "Cancelled" in texts(cancelled) and "Wed 02 Dec 2026, 09:30–11:30" in texts(cancelled)
        assert (await mg.meeting_of(h, case_id)).status == "cancelled"

        # The card that says cancelled is the one to book again on.
        book = find_action(cancelled, M.CHOOSE)
        body = await h.press(A.CHRIS, M.CHOOSE, {**book, "date": "2026-12-09", "time": "10:00"})
        assert body["statusCode"] == 200, body
        await h.flush()
        again = await mg.meeting_of(h, case_id)
        assert again.status == "booked" and again.start_at == mg.london(2026, 12, 9, 10)
        assert "Wed 09 Dec 2026, 10:00–12:00" in texts(card_of(_meeting_posts(h)[-1].activity))


# ---- the referral form -------------------------------------------------------------------------------------


async def test_the_form_asks_how_the_family_should_be_involved_and_shows_the_ecdop_notice_at_once(tmp_path: Path, database_url: str) -> None:
    from tests.support.harness import VALID, inputs

    async with BotHarness(tmp_path, database_url=database_url) as h:
        card = await h.say(A.RILEY, "refer")
        for section in ("referrer", "pathway"):
            body = await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **VALID[section]})
            card = body["value"]
        # The incident card: the eCDOP notice sits under the choice, read as "the child died" is chosen.
        shown = texts(card)
        assert "**If the child died:** the child death notification (eCDOP) must also be completed **within 24 " \
               "hours**" in shown
        assert "of the death" not in shown  # the flowchart gives no start for the 24 hours
        assert inputs(card)["looked_after"]["label"] == \
            "Is any child involved looked after by a local authority (in care)?"
        died = {**VALID["incident"], "outcome": "died"}
        body = await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **died})
        card = body["value"]
        body = await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **VALID["children"]})
        card = body["value"]
        views = inputs(card)
        assert views["family_involvement"]["label"].startswith("How should the child and family be involved")
        assert views["family_facilitator"]["label"] == "Who is best placed to talk to the family about it?"
        answers = {**VALID["views"], "family_involvement": "Mother wishes to take part once the police agree.",
                   "family_facilitator": "The allocated social worker"}
        body = await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **answers})
        review = texts(body["value"])
        # The review card repeats the notice, and shows the new answers and the source's wording.
        assert "**A child has died.** In the event of a child death" in review
        assert "How the family should be involved" in review and "Mother wishes to take part" in review
        assert "Who should talk to the family" in review and "The allocated social worker" in review
        assert "Any looked-after child" in review
        body = await h.press(A.RILEY, "form.submit", {**find_action(body["value"], "form.submit"),
                                                      "senior_manager_reviewed": "true"})
        case = await h.c.stores.cases.get_case(REF)
        assert case.referral.views.family_involvement == "Mother wishes to take part once the police agree."
        assert case.referral.views.family_facilitator == "The allocated social worker"


# ---- the timeline gives the meeting's cards again ----------------------------------------------------------


async def test_the_timeline_gives_the_chairs_cards_again_when_their_messages_are_lost(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await mg.decide(h)
        record = await mg.meeting_of(h, case_id)
        card = await h.say(A.CHRIS, f"timeline {REF}")
        assert isinstance(card, dict)
        find_action(card, M.NOTES_LINK)  # the chair's notes, before the meeting
        with pytest.raises(AssertionError):
            find_action(card, M.OUTCOME_FORM)  # not before the meeting has ended

        h.clock.set(record.end_at)  # the outcome prompt is due now; say it never arrived
        card = await h.say(A.CHRIS, f"timeline {REF}")
        body = await h.press(A.CHRIS, M.OUTCOME_FORM, find_action(card, M.OUTCOME_FORM))
        form = body["value"]
        assert "Record the rapid review outcome" in texts(form)
        body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(form, M.OUTCOME), **mg.OUTCOME})
        assert body["statusCode"] == 200 and (await mg.meeting_of(h, case_id)).status == "held"

        card = await h.say(A.PAT, f"timeline {REF}")
        body = await h.press(A.PAT, M.RECORD_LINK, find_action(card, M.RECORD_LINK))
        assert "Open the record (.docx)" in json.dumps(body["value"])
        # A panel member sees the buttons but gets no link: the roster decides.
        body = await h.press(A.LAURA, M.RECORD_LINK, find_action(card, M.RECORD_LINK))
        assert "files/once" not in json.dumps(body)
