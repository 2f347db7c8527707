"""A message to one person never stops the others (real HTTP, the recording Bot Connector).

The record links go to the chair and the partnership managers. When Teams answers 404 for
the first of them (the Rapid Review app is not installed for that person), the others still
get theirs; that person is recorded as not reachable, whoever can act is told once (not
again on a second failure), and what waited for them is sent when they next talk to the bot.
Where the partnership allows it, the app is installed for them through Microsoft Graph and
the message goes at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.meetings import GraphMeetingProvider
from bot.app import bootstrap
from bot.services.ports import OutboxMessage
from cards import meeting_cards as M
from tests.integration.test_meeting_graph import OUTCOME, REF, cards_to, decide, walk_to_outcome_card
from tests.support import activities as A
from tests.support import harness
from tests.support.fake_graph import FakeGraph
from tests.support.harness import BotHarness, find_action, texts

# Spelt out rather than imported, so that this file also runs against code without them.
WAITING_FOR_PERSON = "waiting_person"  # bot/domain/outbox.py
MANUAL, MANUAL_TITLE = "meeting.manual", "Record an Outlook booking"  # cards/meeting_cards.py
RECORD = "Rapid review record"  # the record card's heading (its buttons were renamed)
UNREACHABLE = "could not be reached in Teams"
APP_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


async def events(h: BotHarness, kind: str) -> list[Any]:
    """Audit rows of one kind, with or without a case."""
    async with h.c.db.read() as conn:
        rows = (await conn.execute(select(t.events.c.kind, t.events.c.detail).where(t.events.c.kind == kind))).all()
    return list(rows)


async def record_outcome_with_pat_unreachable(h: BotHarness) -> str:
    """Decide, hold the meeting, and record its outcome while Teams answers 404 for the
    manager's chat (the manager is the first recipient of the record links)."""
    case_id = await decide(h)
    card = await walk_to_outcome_card(h, case_id)
    assert A.PAT.aad < A.CHRIS.aad  # the manager's link is sent first
    h.connector.fail_next(1, status=404, retry_after=None, route_kind="send", conversation=A.PAT.chat)
    body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **OUTCOME})
    assert body["statusCode"] == 200
    await h.flush()
    return case_id


async def test_first_recipient_404_others_still_receive_and_it_is_resent_when_they_talk(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        await record_outcome_with_pat_unreachable(h)
        assert [r.conversation_id for r in h.connector.faulted] == [A.PAT.chat]

        # The chair still got the link; the manager did not, and is recorded as not reachable.
        assert len(cards_to(h, A.CHRIS.chat, RECORD)) == 1
        assert not cards_to(h, A.PAT.chat, RECORD)
        assert await h.c.stores.outbox.is_unreachable(A.PAT.aad)
        assert await h.c.stores.outbox.count(WAITING_FOR_PERSON) == 1
        assert [e.detail["person"] for e in await events(h, "person_unreachable")] == [A.PAT.aad]

        # The only manager is the one not reachable: the chair is told, once, whom to ask.
        [told] = cards_to(h, A.CHRIS.chat, UNREACHABLE)
        shown = texts(told)
        assert "Pat Manager" in shown and "open the Rapid Review bot" in shown
        assert REF not in shown

        # A second message to the manager fails too: it waits as well, and nobody is told twice.
        h.connector.fail_next(1, status=403, retry_after=None, route_kind="send", conversation=A.PAT.chat)
        await h.c.stores.outbox.enqueue([OutboxMessage(key="second", kind="person_notice", payload={
            "to": A.PAT.aad, "notice": "no_panel_channel", "reference": REF})], h.clock.now())
        await h.flush()
        assert len(h.connector.faulted) == 2
        assert await h.c.stores.outbox.count(WAITING_FOR_PERSON) == 2
        assert len(cards_to(h, A.CHRIS.chat, UNREACHABLE)) == 1
        assert len(await events(h, "person_unreachable")) == 1

        # The manager talks to the bot: everything that waited is sent, once.
        await h.say(A.PAT, "help")
        await h.flush()
        assert len(cards_to(h, A.PAT.chat, RECORD)) == 1
        assert len(cards_to(h, A.PAT.chat, "Panel channel needed")) == 1
        assert not await h.c.stores.outbox.is_unreachable(A.PAT.aad)
        assert await h.c.stores.outbox.count(WAITING_FOR_PERSON) == 0
        assert len(await events(h, "person_reachable")) == 1
        await h.say(A.PAT, "help")
        await h.flush()
        assert len(cards_to(h, A.PAT.chat, RECORD)) == 1
        assert len(cards_to(h, A.CHRIS.chat, RECORD)) == 1


async def test_opening_the_bot_sends_what_waited_for_them(tmp_path: Path) -> None:
    """Installing the app (Teams' conversationUpdate in personal chat) is talking to the bot."""
    async with BotHarness(tmp_path) as h:
        await record_outcome_with_pat_unreachable(h)
        assert not cards_to(h, A.PAT.chat, RECORD)
        status, _ = await h.post(A.install_personal(h.url, A.PAT))
        assert status in (200, 201)
        await h.flush()
        assert len(cards_to(h, A.PAT.chat, RECORD)) == 1
        assert not await h.c.stores.outbox.is_unreachable(A.PAT.aad)


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        def with_graph(settings: Any, **kw: Any) -> Any:
            return bootstrap(settings, meetings=GraphMeetingProvider(**fake.provider_kwargs(max_retry_after=5)),
                             **kw)

        monkeypatch.setattr(harness, "bootstrap", with_graph)
        yield fake


async def test_where_allowed_the_app_is_installed_through_graph_and_the_message_goes_at_once(
        tmp_path: Path, graph: FakeGraph) -> None:
    env = {"teams_app_install_for_unreachable": True, "teams_app_id": APP_ID}
    async with BotHarness(tmp_path, env=env) as h:
        await record_outcome_with_pat_unreachable(h)
        [install] = graph.requests_of("installApp")
        assert install.path == f"/v1.0/users/{A.PAT.aad}/teamwork/installedApps"
        assert install.body["teamsApp@odata.bind"].endswith(f"/appCatalogs/teamsApps/{APP_ID}")
        assert graph.installed_apps == {A.PAT.aad: {APP_ID}}
        assert len(cards_to(h, A.PAT.chat, RECORD)) == 1
        assert len(cards_to(h, A.CHRIS.chat, RECORD)) == 1
        assert not await h.c.stores.outbox.is_unreachable(A.PAT.aad)
        assert not cards_to(h, A.CHRIS.chat, UNREACHABLE)
        assert len(await events(h, "teams_app_installed")) == 1
        installer = h.c.services.installer
        assert installer is not None and await installer.install_for(A.PAT.aad)  # Graph's 409: already installed
        assert [c.status for c in graph.requests_of("installApp")] == [201, 409]


async def test_install_switched_on_without_an_app_id_is_refused_at_start(tmp_path: Path) -> None:
    from bot.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="TEAMS_APP_ID"):
        Settings.model_validate({"teams_app_install_for_unreachable": True}).check()


# ---- a failed booking is never silent -------------------------------------------------------------------


async def test_graph_500_beyond_the_retry_budget_is_kept_audited_told_and_can_be_booked_by_hand(
        tmp_path: Path, graph: FakeGraph) -> None:
    graph.fail_next("getSchedule", n=100, status=500, code="InternalServerError")
    async with BotHarness(tmp_path) as h:
        case_id = await decide(h)
        for _ in range(12):  # the outbox's back-off, well past its retry budget
            h.clock.advance(minutes=10)
            await h.flush()
        assert 5 <= len(graph.requests_of("getSchedule")) <= 11
        assert graph.events_created == 0

        record = await h.c.services.meeting_store.get(case_id)
        assert record is not None and record.status == "failed" and "tried 10 times" in (record.last_error or "")
        [failed] = await events(h, "meeting_booking_failed")
        assert failed.detail["gave_up"] is True

        [to_chair] = cards_to(h, A.CHRIS.chat, "The meeting could not be booked")
        [in_channel] = cards_to(h, A.PANEL_CHANNEL_ID, "could not be booked automatically")
        shown = texts(in_channel)
        assert "book it in Outlook" in shown and MANUAL_TITLE in shown
        for canary in ("Zqxwv", "Canary", "2017", "InternalServerError"):
            assert canary not in str(in_channel), canary
        manual = find_action(in_channel, MANUAL)
        assert find_action(to_chair, MANUAL) == manual

        good = {**manual, "date": "2026-12-03", "time": "10:00",
                "join_url": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"}
        refused = await h.press(A.MALLORY, MANUAL, good)
        assert refused["statusCode"] == 403
        for bad, words in (({"join_url": "https://evil.example.org/join"}, "Teams meeting link"),
                           ({"join_url": "javascript:alert(1)"}, "Teams meeting link"),
                           ({"date": "2026-11-20"}, "passed"),
                           ({"date": "2026-12-05"}, "not a working day"),
                           ({"date": "", "time": ""}, "Give a date and a start time")):
            body = await h.press(A.CHRIS, MANUAL, {**good, **bad})
            assert words in str(body), (bad, body)
        assert (await h.c.stores.cases.get_case(REF)).summary.status.value == "decided"

        body = await h.press(A.CHRIS, MANUAL, good)
        assert body["statusCode"] == 200 and "Meeting booked" in str(body), body
        await h.flush()
        record = await h.c.services.meeting_store.get(case_id)
        assert record.status == "booked" and record.provider == "manual"
        assert record.join_url == good["join_url"]
        assert record.start_at.isoformat().startswith("2026-12-03T10:00")
        assert (await h.c.stores.cases.get_case(REF)).summary.status.value == "meeting_scheduled"
        assert len(await events(h, "meeting_booked_manually")) == 1
        assert graph.events_created == 0  # booked by hand: the bot books nothing itself

        [card] = cards_to(h, A.PANEL_CHANNEL_ID, "Join the Teams meeting")
        assert "Thu 03 Dec 2026, 10:00" in texts(card)
        rows = await h.c.services.deadlines.deadlines(case_id)
        assert any(r.anchor == "meeting" and r.due_at is not None for r in rows)
        assert any(r.next_reminder_at is not None for r in rows if r.anchor == "meeting")
        keys = [r.key for r in await _outbox(h)]
        assert any(k.startswith(f"chair_notes:{case_id}:202612031000") for k in keys)
        assert any(k.startswith(f"outcome_prompt:{case_id}:202612031000") for k in keys)

        again = await h.press(A.CHRIS, MANUAL, good)
        assert "already booked" in str(again)


async def _outbox(h: BotHarness) -> list[Any]:
    async with h.c.db.read() as conn:
        return list((await conn.execute(select(t.outbox.c.key, t.outbox.c.status))).all())


# ---- "View referral" is audited only when it reached the person; Vote always answers -------------------


async def _referred(tmp_path: Path) -> Any:
    from tests.integration.test_panel_http import refer

    h = BotHarness(tmp_path)
    await h.__aenter__()
    await refer(h)
    return h


async def _viewed(h: BotHarness) -> list[Any]:
    case = await h.c.stores.cases.get_case(REF)
    return [e for e in await h.c.stores.cases.events_for_case(case.id) if e.kind == "identifiers_viewed"]


async def test_view_referral_is_audited_only_when_the_referral_was_delivered(tmp_path: Path) -> None:
    from tests.integration.test_panel_http import VIEW, channel_card

    h = await _referred(tmp_path)
    try:
        view = find_action(channel_card(h), VIEW)
        for status in (404, 403, 500):
            h.connector.fail_next(1, status=status, retry_after=None, route_kind="send", conversation=A.LAURA.chat)
            body = await h.press(A.LAURA, VIEW, view, channel=True)
            assert body["statusCode"] == 200, body
            assert "could not reach your personal chat" in str(body["value"]), body
            assert not any(r.conversation_id.startswith(A.LAURA.chat) and r.kind == "send" and r.status == 200
                           for r in h.connector.requests), status
        assert await _viewed(h) == []

        body = await h.press(A.LAURA, VIEW, view, channel=True)
        assert "is in your personal chat" in str(body["value"])
        assert [e.actor_aad_id for e in await _viewed(h)] == [A.LAURA.aad]
    finally:
        await h.__aexit__(None, None, None)


async def test_pressing_vote_without_being_a_panel_member_gets_an_answer(tmp_path: Path) -> None:
    from tests.integration.test_panel_http import OPEN, channel_card

    h = await _referred(tmp_path)
    try:
        vote = find_action(channel_card(h), OPEN)
        for outsider in (A.PAT, A.CHRIS):  # on the roster, with no panel seat: told on the card why
            body = await h.press(outsider, OPEN, vote, channel=True)
            assert body["statusCode"] == 200, body
            shown = texts(body["value"])
            assert "Only the panel members" in shown and "ask a partnership manager" in shown, outsider.name
        case = await h.c.stores.cases.get_case(REF)
        denied = [e for e in await h.c.stores.cases.events_for_case(case.id) if e.kind == "access_denied"]
        assert [(e.actor_aad_id, e.detail["action"]) for e in denied] == [(p.aad, "vote") for p in (A.PAT, A.CHRIS)]
        body = await h.press(A.MALLORY, OPEN, vote, channel=True)  # not on the roster at all: refused, in words
        assert body["statusCode"] == 403 and "ask a partnership manager" in body["value"]["message"], body

        body = await h.press(A.LAURA, OPEN, vote, channel=True)  # a member gets the voting form as before
        assert "Only the panel members" not in texts(body["value"])
        assert any(e.get("id") == "choice" for e in harness.walk(body["value"]))
    finally:
        await h.__aexit__(None, None, None)


# ---- a lost agencies prompt never makes the agencies unrecordable ---------------------------------------


async def test_a_lost_agencies_prompt_is_resent_and_the_timeline_can_record_the_agencies(tmp_path: Path) -> None:
    from tests.integration.test_clock_http import RECORD as AGENCIES_RECORD
    from tests.integration.test_clock_http import decide as decide_clock
    from tests.integration.test_clock_http import refer as refer_clock

    async with BotHarness(tmp_path) as h:
        await refer_clock(h)
        h.connector.fail_next(1, status=404, retry_after=None, route_kind="send", conversation=A.PAT.chat)
        await decide_clock(h)
        assert [r.conversation_id for r in h.connector.faulted] == [A.PAT.chat]
        assert not cards_to(h, A.PAT.chat, "Information requests to agencies")
        assert await h.c.stores.outbox.is_unreachable(A.PAT.aad)

        # The timeline offers the agencies step by itself (and PAT talking re-sends the prompt).
        card = await h.say(A.PAT, f"timeline {REF}")
        assert isinstance(card, dict)
        data = find_action(card, AGENCIES_RECORD, ref=REF)
        await h.flush()
        assert len(cards_to(h, A.PAT.chat, "Information requests to agencies")) == 1
        body = await h.press(A.PAT, AGENCIES_RECORD, {**data, "agencies": "Police", "contacts": "Police: DI Smith"})
        assert body["statusCode"] == 200, body
        case = await h.c.stores.cases.get_case(REF)
        requests = await h.c.services.deadlines.agency_requests(case.id)
        assert [(r.agency, r.contact) for r in requests] == [("Police", "DI Smith")]
        again = await h.say(A.PAT, f"timeline {REF}")
        with pytest.raises(AssertionError):  # recorded: the timeline lists them instead of asking again
            find_action(again, AGENCIES_RECORD, ref=REF)


async def test_an_install_graph_refuses_falls_back_to_telling_the_managers(tmp_path: Path, graph: FakeGraph) -> None:
    graph.fail_next("installApp", status=403, code="Forbidden")
    env = {"teams_app_install_for_unreachable": True, "teams_app_id": APP_ID}
    async with BotHarness(tmp_path, env=env) as h:
        await record_outcome_with_pat_unreachable(h)
        assert [c.status for c in graph.requests_of("installApp")] == [403]
        assert not cards_to(h, A.PAT.chat, RECORD)
        assert len(cards_to(h, A.CHRIS.chat, RECORD)) == 1
        assert await h.c.stores.outbox.is_unreachable(A.PAT.aad)
        assert len(cards_to(h, A.CHRIS.chat, UNREACHABLE)) == 1
