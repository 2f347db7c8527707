"""The referral dialog through POST /api/messages on both Teams edges (TEAMS_EDGE botbuilder and
agents: the same flow, dialogs/referral_flow.py, under each SDK's dialog) and both databases: the
real bot, the real database, the dialog state in the `bot_state` rows.

Card presses arrive as Teams sends an Action.Submit: a message whose `value` is the
action's data plus the card's inputs. Like Teams, a press sends the inputs the card
shows (with their current values) only when the action's associatedInputs is "auto".
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.clock import FixedClock
from bot.adapters.db import schema
from bot.adapters.db.turn_store import STATE_FIELD, state_owner
from bot.app import Components
from bot.domain.referral import HarmOutcome, PathwaySought
from cards import labels
from tests.support import activities as A
from tests.support.harness import CANARY_CHILD, SECTION_ORDER, VALID, BotHarness, errors, inputs, texts, walk

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday; Europe/London is on UTC in November
PSEUDONYM = re.compile(r"\bChild [A-Z]{1,2}\b")

Card = dict[str, Any]


# ---- driving the bot ----------------------------------------------------------------------------


def action(card: Card, verb: str, **match: Any) -> Card:
    """The Action.Execute element with this verb (and data matching `match`)."""
    for element in walk(card):
        if element.get("type") == "Action.Execute" and element.get("verb") == verb:
            if all(element.get("data", {}).get(k) == v for k, v in match.items()):
                return element
    raise AssertionError(f"no {verb} action {match} on the card:\n{texts(card)}")


def action_titled(card: Card, title: str) -> Card:
    for element in walk(card):
        if element.get("type") == "Action.Execute" and element.get("title") == title:
            return element
    raise AssertionError(f"no action titled {title!r} on the card")


def values(card: Card) -> dict[str, Any]:
    """What the inputs on the card currently hold."""
    return {key: e["value"] for key, e in inputs(card).items() if "value" in e}


def error_next_to(card: Card, input_id: str) -> str | None:
    """The error text rendered straight after the input, if any."""
    for element in walk(card):
        for items in element.values():
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if isinstance(item, dict) and item.get("id") == input_id and str(item.get("type", "")).startswith(
                    "Input."
                ):
                    following = items[index + 1] if index + 1 < len(items) else {}
                    if following.get("type") == "TextBlock" and following.get("color") == "Attention":
                        return following["text"]
                    return None
    raise AssertionError(f"no input {input_id} on the card")


class Chat:
    """Riley's personal chat with one bot process, on the edge the harness serves."""

    def __init__(self, harness: BotHarness, person: A.Person = A.RILEY) -> None:
        self.harness = harness
        self.person = person
        self.stopped = False

    @property
    def components(self) -> Components:
        return self.harness.c

    async def _turn(self, activity: dict[str, Any]) -> Card | str:
        [reply] = await self._turns([activity])
        return reply

    async def _turns(self, activities: list[dict[str, Any]]) -> list[Card | str]:
        """Post the activities at once; the one reply each sent to this chat."""
        connector = self.harness.connector
        before = len(connector.sent_activities())
        answers = await asyncio.gather(*(self.harness.post(activity) for activity in activities))
        assert all(status in (200, 201) for status, _ in answers), answers
        sent = connector.sent_activities()[before:]
        assert len(sent) == len(activities), f"expected {len(activities)} replies, got {len(sent)}"
        replies: list[Card | str] = []
        for reply in (s.activity for s in sent):
            assert reply["type"] == "message"
            if reply.get("attachments"):
                assert reply["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
                replies.append(reply["attachments"][0]["content"])
            else:
                replies.append(reply.get("text") or "")
        return replies

    async def say(self, text: str) -> Card | str:
        return await self._turn(A.message(self.harness.url, self.person, text))

    async def send_value(self, value: dict[str, Any]) -> Card | str:
        return await self._turn(A.submit(self.harness.url, self.person, value))

    async def press(self, card: Card, verb: str, typed: dict[str, Any] | None = None, **match: Any) -> Card | str:
        """Press a button as Teams does with Action.Submit."""
        element = action(card, verb, **match)
        sent = values(card) if element.get("associatedInputs") == "auto" else {}
        return await self.send_value({**element["data"], **sent, **(typed or {})})

    async def card(self, text: str) -> Card:
        reply = await self.say(text)
        assert isinstance(reply, dict), reply
        return reply

    async def next(self, card: Card, typed: dict[str, Any] | None = None, *, ok: bool = True) -> Card:
        reply = await self.press(card, "form.next", typed)
        assert isinstance(reply, dict), reply
        if ok:
            assert not errors(reply), errors(reply)
        return reply

    async def fill(self, sections: list[str], card: Card | None = None) -> Card:
        card = card or await self.card("refer")
        for section in sections:
            card = await self.next(card, VALID[section])
        return card

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.harness.__aexit__(None, None, None)


@pytest.fixture
async def open_chat(tmp_path: Path, database_url: str,
                    edge: str) -> AsyncIterator[Callable[..., Awaitable[Chat]]]:
    """Builds a bot process on the test's database, serving `edge` (TEAMS_EDGE); call again for
    a 'restart', naming another edge for a deployment that switched edge."""
    chats: list[Chat] = []

    async def build(on: str | None = None) -> Chat:
        harness = BotHarness(tmp_path, database_url=database_url, clock=FixedClock(NOW),
                             env={"teams_edge": on or edge})
        await harness.__aenter__()
        chat = Chat(harness)
        chats.append(chat)
        return chat

    yield build
    for chat in chats:
        await chat.stop()


@pytest.fixture
async def chat(open_chat: Callable[[], Awaitable[Chat]]) -> Chat:
    return await open_chat()


def is_section(card: Card, number: int, title: str) -> bool:
    text = texts(card)
    return f"section {number} of 6" in text and title in text


async def events_of_kind(components: Components, kind: str) -> list[Any]:
    async with components.db.read() as conn:
        rows = await conn.execute(select(schema.events).where(schema.events.c.kind == kind))
        return list(rows)


async def count_cases(components: Components) -> int:
    async with components.db.read() as conn:
        return len(list(await conn.execute(select(schema.cases.c.id))))


def free_text_answers(section: str) -> Iterator[str]:
    """The typed answers of a section (choices are shown by their label, not their code)."""
    for key, value in VALID[section].items():
        element = key.removeprefix("c1_")
        if value and element not in CHOICES:
            yield value


CHOICES = {"agency", "pathway", "outcome", "abuse_or_neglect", "looked_after", "outside_england",
           "institutional_setting", "gender", "care_status", "family_consulted", "key_worker_consulted"}


# ---- 1. the whole referral ---------------------------------------------------------------------


async def test_a_full_referral_goes_from_refer_to_a_stored_case_with_a_reference_and_a_pseudonym(chat):
    card = await chat.card("refer")
    assert is_section(card, 1, "About you")
    assert inputs(card)["name"]["value"] == "Riley Referrer"  # pre-filled from the Teams name

    review = await chat.fill(SECTION_ORDER, card)

    assert "Review and submit" in texts(review)
    shown = texts(review)
    for section in ("referrer", "incident", "children", "views"):
        for value in free_text_answers(section):
            assert value in shown, (section, value)
    assert VALID["referrer"]["agency"] in shown
    assert labels.PATHWAY[PathwaySought.RAPID_REVIEW_SCREENING] in shown
    assert labels.HARM[HarmOutcome.SERIOUSLY_HARMED] in shown
    assert "likely to be notifiable" in shown

    done = await chat.press(review, "form.submit", {"senior_manager_reviewed": "true"})
    assert isinstance(done, dict)
    confirmation = texts(done)
    assert "Referral received" in confirmation
    assert "RR-2026-0001" in confirmation
    pseudonym = PSEUDONYM.search(confirmation)
    assert pseudonym, confirmation
    assert CANARY_CHILD not in confirmation

    case = await chat.components.stores.cases.get_case("RR-2026-0001")
    assert case is not None
    assert case.summary.pseudonym == pseudonym.group(0)
    assert case.summary.referrer_aad_id == A.RILEY.aad
    assert case.referral.referrer.job_title == "Designated safeguarding lead"
    assert case.referral.children.children[0].name == CANARY_CHILD
    assert case.referral.declaration.senior_manager_reviewed is True
    events = await chat.components.stores.cases.events_for_case(case.id)
    submitted = [e for e in events if e.kind == "referral_submitted"]
    assert len(submitted) == 1
    assert submitted[0].actor_aad_id == A.RILEY.aad
    assert CANARY_CHILD not in json.dumps(submitted[0].detail)
    assert "Zqxwv" not in json.dumps(submitted[0].detail)


# ---- 2. and 3. moving around -------------------------------------------------------------------


async def test_back_from_section_3_shows_section_2_with_the_pathway_chosen_before(chat):
    card = await chat.fill(["referrer"])
    card = await chat.next(card, {"pathway": "B"})
    assert is_section(card, 3, "The incident")

    back = await chat.press(card, "form.back")

    assert isinstance(back, dict)
    assert is_section(back, 2, "The pathway you are seeking")
    assert inputs(back)["pathway"]["value"] == "B"


async def test_edit_from_the_review_card_changes_one_answer_and_returns_straight_to_review(chat):
    review = await chat.fill(SECTION_ORDER)

    referrer = await chat.press(review, "form.edit", section="referrer")

    assert isinstance(referrer, dict)
    assert is_section(referrer, 1, "About you")
    save = action_titled(referrer, "Save and return to review")
    assert save["verb"] == "form.next"
    assert inputs(referrer)["job_title"]["value"] == "Designated safeguarding lead"

    back_at_review = await chat.next(referrer, {"job_title": "Head of safeguarding"})

    assert "Review and submit" in texts(back_at_review)
    assert "Head of safeguarding" in texts(back_at_review)
    assert "Designated safeguarding lead" not in texts(back_at_review)
    assert CANARY_CHILD in texts(back_at_review)  # the other sections are untouched


# ---- 4. validation ------------------------------------------------------------------------------


async def test_an_invalid_incident_section_shows_each_error_next_to_its_field_and_keeps_every_typed_value(chat):
    card = await chat.fill(["referrer", "pathway"])
    typed = {**VALID["incident"], "incident_date": "2026-12-01", "summary": "", "other_areas": "Stockport; Trafford"}

    again = await chat.next(card, typed, ok=False)

    assert is_section(again, 3, "The incident")
    assert "Please check 2 answers below." in texts(again)
    assert "in the future" in (error_next_to(again, "incident_date") or "")
    assert "required" in (error_next_to(again, "summary") or "")
    assert error_next_to(again, "incident_location") is None
    shown = values(again)
    for key, value in typed.items():
        if value:
            assert shown.get(key) == value, key
    # the card can still be used: fixing the two fields moves on
    fixed = await chat.next(again, {"incident_date": "2026-11-20", "summary": "Admitted to hospital."})
    assert is_section(fixed, 4, "The children")


async def test_a_child_of_18_or_over_must_be_a_care_leaver_of_24_or_under(chat):
    card = await chat.fill(["referrer", "pathway", "incident"])  # incident on 2026-11-20
    adult = {**VALID["children"], "c1_date_of_birth": "2000-06-01", "c1_care_status": "none"}

    refused = await chat.next(card, adult, ok=False)

    message = error_next_to(refused, "c1_date_of_birth") or ""
    assert "was 26 at the incident" in message
    assert "under 18" in message and "up to and including 24" in message
    assert values(refused)["c1_date_of_birth"] == "2000-06-01"

    still_too_old = await chat.next(refused, {"c1_care_status": "care_leaver"}, ok=False)
    assert "was 26 at the incident" in (error_next_to(still_too_old, "c1_date_of_birth") or "")

    care_leaver = await chat.next(still_too_old, {"c1_date_of_birth": "2004-06-01", "c1_care_status": "care_leaver"})
    assert is_section(care_leaver, 5, "Your views")


async def test_a_date_of_birth_after_the_incident_is_refused(chat):
    card = await chat.fill(["referrer", "pathway", "incident"])  # incident on 2026-11-20

    refused = await chat.next(card, {**VALID["children"], "c1_date_of_birth": "2026-11-21"}, ok=False)

    assert is_section(refused, 4, "The children")
    assert "after the date of the incident" in (error_next_to(refused, "c1_date_of_birth") or "")


async def test_an_invalid_email_and_over_long_text_are_refused_with_the_reason_and_kept(chat):
    card = await chat.card("refer")
    long_text = "x" * 2001
    typed = {**VALID["referrer"], "email": "riley.referrer-at-example.org", "discussed_with": long_text}

    refused = await chat.next(card, typed, ok=False)

    assert is_section(refused, 1, "About you")
    assert "e-mail address" in (error_next_to(refused, "email") or "")
    too_long = error_next_to(refused, "discussed_with") or ""
    assert "2,000 characters at most — you wrote 2,001" in too_long
    assert values(refused)["email"] == "riley.referrer-at-example.org"
    assert values(refused)["discussed_with"] == long_text[:2000]  # the draft keeps what fits, never more


# ---- 5. resume after a restart --------------------------------------------------------------------


async def test_a_half_finished_referral_is_resumed_after_a_restart_and_can_be_submitted(open_chat):
    first = await open_chat()
    card = await first.fill(["referrer"])
    card = await first.next(card, {"pathway": "C"})
    assert is_section(card, 3, "The incident")
    await first.stop()

    second = await open_chat()  # a new process on the same database
    resumed = await second.card("resume")

    assert is_section(resumed, 3, "The incident")
    assert "Welcome back" in texts(resumed)
    back = await second.press(resumed, "form.back")
    assert isinstance(back, dict)
    assert is_section(back, 2, "The pathway you are seeking")
    assert inputs(back)["pathway"]["value"] == "C"

    card = await second.next(back)  # as shown: pathway C
    review = await second.fill(["incident", "children", "views"], card)
    assert "Job title" in texts(review) and "Designated safeguarding lead" in texts(review)
    done = await second.press(review, "form.submit", {"senior_manager_reviewed": "true"})
    assert isinstance(done, dict)
    assert "Referral received" in texts(done) and "RR-2026-0001" in texts(done)
    case = await second.components.stores.cases.get_case("RR-2026-0001")
    assert case is not None and case.referral.pathway.pathway.value == "C"


OTHER_EDGE = {"botbuilder": "agents", "agents": "botbuilder"}


async def stored_form(components: Components) -> dict[str, Any]:
    """The conversation's dialog state as the `bot_state` row holds it (opened: it is sealed)."""
    async with components.db.read() as conn:
        rows = list(await conn.execute(select(schema.bot_state.c.key, schema.bot_state.c.data)
                                       .where(schema.bot_state.c.key.like("%conversations%"))))
        assert len(rows) == 1, rows
        return dict(await components.db.keyring.open_json(conn, state_owner(rows[0].key), STATE_FIELD, rows[0].data))


async def test_a_half_done_referral_goes_on_after_the_deployment_switches_edge_and_back(open_chat, edge):
    """Edge-specific by design: begun on `edge`, carried on after a restart on the other edge
    (TEAMS_EDGE switched), then finished back on `edge` — so, as `edge` takes both values, both
    directions run. The row is the same JSON whichever SDK wrote it."""
    first = await open_chat()
    card = await first.fill(["referrer"])
    card = await first.next(card, {"pathway": "C"})
    assert is_section(card, 3, "The incident")
    written_first = await stored_form(first.components)
    await first.stop()

    other = await open_chat(OTHER_EDGE[edge])  # a new process on the same database, on the other edge
    resumed = await other.card("resume")
    assert is_section(resumed, 3, "The incident") and "Welcome back" in texts(resumed)
    back = await other.press(resumed, "form.back")
    assert isinstance(back, dict) and is_section(back, 2, "The pathway you are seeking")
    assert inputs(back)["pathway"]["value"] == "C"
    card = await other.next(back)
    card = await other.next(card, VALID["incident"])
    assert is_section(card, 4, "The children")
    written_other = await stored_form(other.components)
    await other.stop()

    assert set(written_first) == set(written_other) == {"DialogState"}
    for written in (written_first, written_other):
        [instance] = written["DialogState"]["$dialog_state"]
        assert instance["$dialog_instance"]["id"] == "ReferralDialog"
    draft_first = written_first["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]
    draft_other = written_other["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]
    assert set(draft_first) == set(draft_other) and draft_first["draft_id"] == draft_other["draft_id"]

    again = await open_chat()  # and back on the first edge
    resumed = await again.card("resume")
    assert is_section(resumed, 4, "The children")
    review = await again.fill(["children", "views"], resumed)
    done = await again.press(review, "form.submit", {"senior_manager_reviewed": "true"})
    assert isinstance(done, dict) and "Referral received" in texts(done) and "RR-2026-0001" in texts(done)
    case = await again.components.stores.cases.get_case("RR-2026-0001")
    assert case is not None and case.referral.pathway.pathway.value == "C"
    assert len(await events_of_kind(again.components, "referral_submitted")) == 1
    assert await stored_form(again.components) == {"DialogState": {"$dialog_state": []}}


# ---- 6. cancel ------------------------------------------------------------------------------------


async def test_cancel_asks_first_keeps_the_form_on_no_and_discards_it_on_yes(chat):
    await chat.fill(["referrer"])

    confirm = await chat.card("cancel")
    assert "Discard this referral?" in texts(confirm)

    kept = await chat.press(confirm, "form.cancel_no")
    assert isinstance(kept, dict)
    assert is_section(kept, 2, "The pathway you are seeking")

    confirm = await chat.card("cancel")
    discarded = await chat.press(confirm, "form.cancel_yes")
    assert isinstance(discarded, dict)
    assert "Referral discarded" in texts(discarded)

    assert "no referral in progress" in str(await chat.say("resume"))
    assert await count_cases(chat.components) == 0
    events = await events_of_kind(chat.components, "referral_draft_discarded")
    assert len(events) == 1
    assert events[0].actor_aad_id == A.RILEY.aad
    assert events[0].case_id is None
    assert events[0].detail["draft_id"] == action(confirm, "form.cancel_yes")["data"]["ref"]


# ---- 7. stale cards -------------------------------------------------------------------------------


async def test_pressing_next_on_an_old_card_changes_nothing_and_says_the_card_was_out_of_date(chat):
    old = await chat.card("refer")
    current = await chat.next(old, VALID["referrer"])
    assert is_section(current, 2, "The pathway you are seeking")

    stale = await chat.next(old, {**VALID["referrer"], "job_title": "Changed on an old card"}, ok=False)

    assert "out of date" in texts(stale)
    assert is_section(stale, 2, "The pathway you are seeking")
    assert action(stale, "form.next")["data"]["v"] > action(current, "form.next")["data"]["v"]
    back = await chat.press(stale, "form.back")
    assert isinstance(back, dict)
    assert inputs(back)["job_title"]["value"] == "Designated safeguarding lead"


# ---- 8. children ----------------------------------------------------------------------------------


async def test_children_can_be_added_and_removing_child_1_moves_child_2_up(chat):
    card = await chat.fill(["referrer", "pathway", "incident"])
    assert is_section(card, 4, "The children")
    assert "c2_name" not in inputs(card)

    two = await chat.press(card, "form.add_child", VALID["children"])
    assert isinstance(two, dict)
    assert {"c2_name", "c2_date_of_birth", "c2_gender", "c2_care_status"} <= set(inputs(two))
    assert values(two)["c1_name"] == CANARY_CHILD  # child 1's answers were kept
    assert "Remove child 2" in json.dumps(two)

    second_child = {"c2_name": "Second Sibling", "c2_date_of_birth": "2019-05-06", "c2_gender": "male",
                    "c2_care_status": "looked_after", "c2_current_location": "With grandparents"}
    one = await chat.press(two, "form.remove_child", second_child, child=0)

    assert isinstance(one, dict)
    shown = values(one)
    assert shown["c1_name"] == "Second Sibling"
    assert shown["c1_date_of_birth"] == "2019-05-06"
    assert shown["c1_gender"] == "male"
    assert shown["c1_care_status"] == "looked_after"
    assert shown["c1_current_location"] == "With grandparents"
    assert "c1_ethnicity" not in shown  # child 2 had none: child 1's is not left behind
    assert shown["family_members"] == VALID["children"]["family_members"]
    assert not any(key.startswith("c2_") for key in inputs(one))
    assert CANARY_CHILD not in json.dumps(one)

    views = await chat.next(one)
    assert is_section(views, 5, "Your views")


# ---- 9. double submit -----------------------------------------------------------------------------


async def test_pressing_submit_twice_creates_one_case_and_the_second_press_says_already_submitted(chat):
    review = await chat.fill(SECTION_ORDER)
    submit = {**action(review, "form.submit")["data"], **values(review), "senior_manager_reviewed": "true"}

    first = await chat.send_value(submit)
    second = await chat.send_value(dict(submit))

    assert isinstance(first, dict) and isinstance(second, dict)
    assert "Referral received" in texts(first)
    assert "Already submitted" in texts(second)
    assert "RR-2026-0001" in texts(first) and "RR-2026-0001" in texts(second)
    assert PSEUDONYM.search(texts(first)).group(0) == PSEUDONYM.search(texts(second)).group(0)
    assert await count_cases(chat.components) == 1
    assert len(await events_of_kind(chat.components, "referral_submitted")) == 1


async def test_two_submit_presses_arriving_at_the_same_moment_still_create_one_case(chat):
    review = await chat.fill(SECTION_ORDER)
    submit = {**action(review, "form.submit")["data"], **values(review), "senior_manager_reviewed": "true"}

    replies = await chat._turns([A.submit(chat.harness.url, chat.person, dict(submit)) for _ in range(2)])

    headings = sorted(texts(r).splitlines()[0] for r in replies if isinstance(r, dict))
    assert headings == ["Already submitted", "Referral received"]
    assert await count_cases(chat.components) == 1


# ---- 10. commands ---------------------------------------------------------------------------------


async def test_unknown_text_gets_the_help_card_and_my_referrals_lists_the_submitted_case(chat):
    help_card = await chat.card("what is this")
    assert "I didn't recognise that" in texts(help_card)
    assert "How I can help" in texts(help_card)

    empty = await chat.card("my referrals")
    assert "not submitted any referrals yet" in texts(empty)

    review = await chat.fill(SECTION_ORDER)
    await chat.press(review, "form.submit", {"senior_manager_reviewed": "true"})

    mine = await chat.card("my referrals")
    listed = texts(mine)
    assert "RR-2026-0001" in listed
    assert "Status: Referred — awaiting panel" in listed
    assert "Received: Mon 23 Nov 2026, 10:00" in listed
    assert PSEUDONYM.search(listed)
    assert CANARY_CHILD not in listed
