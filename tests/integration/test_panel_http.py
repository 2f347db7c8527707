"""The virtual panel over HTTP, as Teams would drive it.

Every press is a real Teams activity posted to `/api/messages`: an `invoke` named
`adaptiveCard/action` from the panel channel (team, channel and tenant in channelData)
for Action.Execute, or a channel message with a `value` and no text for Action.Submit.
The tests check the invoke response, what reached the fake Bot Connector on 127.0.0.1
(the one channel post per case, the in-place updates of that post, the personal-chat
messages), and the votes, queries and events stored in the database.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.db import schema as t
from bot.services.access import CASE_DENIED
from bot.settings import DEFAULT_PARTNERSHIP_FILE
from tests.support import activities as A
from tests.support.fake_connector import SentActivity
from tests.support.harness import (
    CANARY_ADDRESS,
    CANARY_CHILD,
    CANARY_DOB,
    NOW,
    BotHarness,
    errors,
    fill_referral,
    find_action,
    inputs,
    reply_of,
    texts,
    walk,
    without_reference,
)

REF = "RR-2026-0001"
PANEL = A.PANEL_CHANNEL_ID
CARD = "application/vnd.microsoft.card.adaptive"
OPEN, REFRESH, VOTE, VIEW, ANSWER = "panel.open", "panel.refresh", "panel.vote", "case.view", "query.answer"
CHOICES = ["rapid_review", "practice_review", "escalation", "no_further_action", "queries"]

LA_WHY = "Local authority: serious injury with abuse suspected by a carer."
POLICE_WHY = "Police: an investigation is open and the injuries are unexplained."
HEALTH_WHY = "Health: hospital findings are consistent with non-accidental injury."
BASIS = "Long-term impairment of the child's physical health is likely."
QUESTION = "When did the GP last see the child before the admission?"
CANARIES = (CANARY_CHILD, CANARY_DOB, CANARY_ADDRESS, "Zqxwv", "03/02/2017")
AUDIT_KINDS = ("access_denied", "tamper")  # what a refusal may add (and nothing else)


# ---- harness helpers -----------------------------------------------------------------------------


async def refer(h: BotHarness) -> None:
    """Panel channel bound, the people who will read referrals have said hello, and one
    referral submitted and posted."""
    status, _ = await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
    assert status in (200, 201)
    for person in (A.PAT, A.CHRIS, A.LAURA):
        await h.say(person, "hello")
    await fill_referral(h)  # RILEY: a personal conversation with the bot
    await h.flush()  # the case card, and the deadline refresh


@pytest.fixture
async def bot(tmp_path, database_url, edge):
    """Every turn of the test on `edge`, the referral's included, on SQLite and PostgreSQL."""
    async with BotHarness(tmp_path, database_url=database_url) as harness:
        await harness.serve_on(edge)
        await refer(harness)
        yield harness


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    content = reply_of(activity)
    assert isinstance(content, dict), content
    return content


def case_posts(h: BotHarness) -> list[SentActivity]:
    """New messages in the panel channel (not replies to someone's press) that are the case's
    card (it has View referral)."""
    return [s for s in h.connector.activities_to(PANEL)
            if s.reply_to_id is None and s.attachments and f'"{VIEW}"' in json.dumps(s.activity)]


def the_post(h: BotHarness) -> SentActivity:
    posts = case_posts(h)
    assert len(posts) == 1, f"{len(posts)} case cards posted in the channel"
    return posts[0]


def card_updates(h: BotHarness, activity_id: str | None = None) -> list[dict[str, Any]]:
    """The case card's in-place updates (PUTs), oldest first. Every update must be of the
    case's one channel message."""
    activity_id = activity_id or the_post(h).activity_id
    updates = h.connector.updates()
    assert all(u.activity_id == activity_id and u.conversation_id.startswith(PANEL) for u in updates), [
        (u.conversation_id, u.activity_id) for u in updates
    ]
    return [card_of(u.activity) for u in updates]


def channel_card(h: BotHarness) -> dict[str, Any]:
    """What everyone in the channel sees now."""
    updates = card_updates(h)
    return updates[-1] if updates else card_of(the_post(h).activity)


def panel_payload(h: BotHarness) -> str:
    """Every request body the bot sent to the panel channel (posts, replies and updates)."""
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in h.connector.requests
                     if r.body is not None and (r.conversation_id or "").startswith(PANEL))


def assert_no_identifiers(text: str) -> None:
    found = [c for c in CANARIES if c.lower() in text.lower()]
    assert not found, f"child identifiers in the panel channel: {found}"


def awaiting(card: dict[str, Any]) -> int:
    return texts(card).count("*Awaiting vote*")


def ballot(choice: str, rationale: str = LA_WHY, basis: str | None = None, question: str | None = None) -> dict:
    fields = {"choice": choice, "rationale": rationale}
    if basis is not None:
        fields["serious_harm_basis"] = basis
    if question is not None:
        fields["question"] = question
    return fields


async def open_card(h: BotHarness, person: A.Person, verb: str = OPEN) -> dict[str, Any]:
    """Press "Vote" on the channel card; the member's view (or the base card) comes back."""
    data = find_action(channel_card(h), OPEN) if verb == OPEN else channel_card(h)["refresh"]["action"]["data"]
    body = await h.press(person, verb, data, channel=True)
    assert body["statusCode"] == 200 and body["type"] == CARD, body
    return body["value"]


async def vote(h: BotHarness, person: A.Person, fields: dict[str, str]) -> dict[str, Any]:
    """Open the voting controls and record a vote, as a member's Teams client does."""
    data = find_action(await open_card(h, person), VOTE)
    return await h.press(person, VOTE, {**data, **fields}, channel=True)


def said(body: dict[str, Any]) -> str:
    """What an invoke response shows the clicker."""
    if body["type"] == CARD:
        return texts(body["value"])
    if body["type"] == "application/vnd.microsoft.error":
        return body["value"]["message"]
    return str(body["value"])


async def events(h: BotHarness, kind: str) -> list[Any]:
    async with h.c.db.read() as conn:
        return list(await conn.execute(select(t.events).where(t.events.c.kind == kind).order_by(t.events.c.id)))


async def stored_votes(h: BotHarness) -> list[Any]:
    async with h.c.db.read() as conn:
        return list(await conn.execute(select(t.votes).order_by(t.votes.c.round, t.votes.c.partner)))


async def case_row(h: BotHarness) -> Any:
    async with h.c.db.read() as conn:
        return (await conn.execute(select(t.cases).where(t.cases.c.reference == REF))).one()


async def snapshot(h: BotHarness) -> dict[str, Any]:
    """Everything a vote could change (refusals may only add audit events)."""
    async with h.c.db.read() as conn:
        case = (await conn.execute(
            select(t.cases.c.status, t.cases.c.vote_round, t.cases.c.version, t.cases.c.decision,
                   t.cases.c.decided_at).where(t.cases.c.reference == REF))).one()
        votes = [tuple(r) for r in await conn.execute(
            select(t.votes.c.round, t.votes.c.partner, t.votes.c.choice, t.votes.c.voter_aad_id, t.votes.c.rationale,
                   t.votes.c.cast_at).order_by(t.votes.c.id))]
        queries = [tuple(r) for r in await conn.execute(
            select(t.queries.c.id, t.queries.c.status, t.queries.c.answer).order_by(t.queries.c.id))]
        kinds = [r.kind for r in await conn.execute(
            select(t.events.c.kind).where(t.events.c.kind.not_in(AUDIT_KINDS)).order_by(t.events.c.id))]
        outbox = (await conn.execute(select(func.count()).select_from(t.outbox))).scalar_one()
        members = [tuple(r) for r in await conn.execute(
            select(t.members.c.aad_object_id, t.members.c.role, t.members.c.partner, t.members.c.active)
            .order_by(t.members.c.aad_object_id, t.members.c.role, t.members.c.partner))]  # PostgreSQL: no implied order
    return {"case": tuple(case), "votes": votes, "queries": queries, "events": kinds, "outbox": outbox,
            "members": members}


def channel_command(h: BotHarness, person: A.Person, text: str, *mentioned: A.Person) -> dict[str, Any]:
    """`@Rapid Review <text>` in the panel channel; `<at>Name</at>` in the text for each mentioned person."""
    activity = A.channel_message(h.url, person, text)
    for other in mentioned:
        activity["entities"].append({"type": "mention", "text": f"<at>{other.name}</at>",
                                     "mentioned": {"id": other.mri, "name": other.name}})
    return activity


async def say_in_channel(h: BotHarness, person: A.Person, text: str, *mentioned: A.Person) -> dict[str, Any] | str:
    before = len(h.connector.sent_activities())
    status, _ = await h.post(channel_command(h, person, text, *mentioned))
    assert status in (200, 201), status
    sent = h.connector.sent_activities()[before:]
    assert len(sent) == 1 and sent[0].conversation_id.startswith(PANEL), sent
    return reply_of(sent[0].activity)


def submit_in_channel(h: BotHarness, person: A.Person, data: dict[str, Any]) -> dict[str, Any]:
    """An Action.Submit press on a card in the panel channel: a channel message with a value, no text."""
    activity = A.channel_message(h.url, person, "")
    del activity["text"], activity["entities"]
    activity["value"] = data
    return activity


async def press_via(h: BotHarness, route: str, person: A.Person, data: dict[str, Any]) -> tuple[int, str]:
    """Press a card button by Action.Execute or Action.Submit; returns (status, what the clicker is told).

    For Execute the status is the invoke response's statusCode (the HTTP status is always 200);
    for Submit it is 200 and the bot's answer is the message it sends back."""
    if route == "execute":
        status, body = await h.post(A.invoke(h.url, person, str(data.get("verb") or ""), data, channel=True))
        assert status == 200, (status, body)
        return body["statusCode"], said(body)
    before = len(h.connector.sent_activities())
    status, _ = await h.post(submit_in_channel(h, person, data))
    assert status in (200, 201), status
    sent = h.connector.sent_activities()[before:]
    assert len(sent) == 1, sent
    reply = reply_of(sent[0].activity)
    return 200, texts(reply) if isinstance(reply, dict) else reply


def error_after(card: dict[str, Any], input_id: str) -> str:
    """The error text shown right under an input (empty when there is none)."""
    for container in walk(card):
        items = container.get("items") or []
        for i, item in enumerate(items[:-1]):
            if isinstance(item, dict) and item.get("id") == input_id:
                after = items[i + 1]
                return after.get("text", "") if after.get("color") == "Attention" else ""
    raise AssertionError(f"no input {input_id} on the card")


def latest_to(h: BotHarness, person: A.Person) -> dict[str, Any]:
    sent = h.connector.activities_to(person.chat)
    assert sent, f"nothing was sent to {person.name}"
    return card_of(sent[-1].activity)


# ---- 1. the voting card ---------------------------------------------------------------------------


async def test_the_channel_card_is_the_voting_card_without_child_identifiers(bot):
    case = await bot.c.stores.cases.get_case(REF)
    assert case is not None
    pseudonym = case.summary.pseudonym
    post = the_post(bot)
    card = card_of(post.activity)
    shown = texts(card)
    assert f"{REF} · {pseudonym}" in shown
    assert f"Pseudonym: {pseudonym}" in shown
    assert "Pathway sought: A: rapid review screening" in shown
    assert "Incident: Serious harm, Fri 20 Nov 2026" in shown
    assert "Likely notifiable" in shown
    rows = [line for line in shown.splitlines() if line in ("Local authority", "Police", "Health (ICB)")]
    assert rows == ["Local authority", "Police", "Health (ICB)"]
    assert awaiting(card) == 3
    assert find_action(card, OPEN, ref=REF, v=1) and find_action(card, VIEW, ref=REF)
    assert not inputs(card), "the channel card itself has no voting controls"
    assert_no_identifiers(panel_payload(bot))

    body = await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    assert "Vote recorded." in said(body)
    await bot.flush()
    row = texts(channel_card(bot))
    assert "Rapid review\n — Laura LocalAuthority, Mon 23 Nov 2026, 10:00" in row
    assert awaiting(channel_card(bot)) == 2
    assert LA_WHY not in row, "rationales are shown on the card only with the decision"
    assert_no_identifiers(panel_payload(bot))


async def test_members_get_voting_controls_and_everyone_else_the_read_only_card(bot):
    # The raw exchange once: HTTP 200 and the card in the body (botbuilder 4.17.1 would answer 500).
    status, body = await bot.post(A.invoke(bot.url, A.LAURA, OPEN, find_action(channel_card(bot), OPEN),
                                           channel=True))
    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == CARD
    member = body["value"]
    fields = inputs(member)
    assert fields["choice"]["type"] == "Input.ChoiceSet"
    assert [c["value"] for c in fields["choice"]["choices"]] == CHOICES
    assert {"rationale", "serious_harm_basis", "question"} <= set(fields)
    assert "Your vote for **Local authority**" in texts(member)
    assert find_action(member, VOTE, ref=REF, v=1)

    police = await open_card(bot, A.DEE)
    assert "Your vote for **Police**" in texts(police)

    for person in (A.CHRIS, A.PAT, A.RILEY):  # the roster, and the case's referrer
        base = await open_card(bot, person)
        assert not inputs(base), person.name
        with pytest.raises(AssertionError):
            find_action(base, VOTE)
        assert awaiting(base) == 3

    # The channel card's refresh lists the members who have interacted (their Teams ids),
    # so their clients fetch their own view; nobody else is listed.
    await vote(bot, A.DAN, ballot("practice_review", POLICE_WHY))
    await bot.flush()
    refresh = channel_card(bot)["refresh"]
    assert refresh["action"]["verb"] == REFRESH
    assert sorted(refresh["userIds"]) == sorted([A.LAURA.mri, A.DAN.mri, A.DEE.mri])
    refreshed = await open_card(bot, A.NINA, verb=REFRESH)
    assert "Your vote for **Health (ICB)**" in texts(refreshed)
    assert "Practice review" in texts(refreshed)
    # Someone in the channel with no role on the case sees the card as posted, and nothing more.
    for verb in (OPEN, REFRESH):
        data = find_action(channel_card(bot), OPEN) if verb == OPEN else refresh["action"]["data"]
        stranger = await bot.press(A.MALLORY, verb, data, channel=True)
        assert stranger["statusCode"] == 403 and without_reference(said(stranger)) == CASE_DENIED
    assert A.MALLORY.mri not in json.dumps(panel_payload(bot))


async def test_a_vote_needs_a_rationale_and_a_rapid_review_needs_the_serious_harm_basis(bot):
    before = await snapshot(bot)
    cases = [
        (ballot("rapid_review", "too short", BASIS), "rationale", "at least 20 characters"),
        (ballot("rapid_review", LA_WHY), "serious_harm_basis", "serious harm criteria"),
        (ballot("rapid_review", LA_WHY, "short"), "serious_harm_basis", "serious harm criteria"),
        (ballot("queries", LA_WHY), "question", "question for the referrer"),
        (ballot("maybe", LA_WHY), "choice", "five outcomes"),
    ]
    for fields, field, message in cases:
        body = await vote(bot, A.LAURA, fields)
        assert body["type"] == CARD, body
        shown = errors(body["value"])
        assert any(message in e for e in shown), (fields, shown)
        assert message in error_after(body["value"], field), "the message is shown under the input it is about"
        assert inputs(body["value"])["rationale"].get("value") == fields["rationale"], "what was typed is kept"
    assert await snapshot(bot) == before
    await bot.flush()
    assert card_updates(bot) == []


async def test_each_vote_answers_the_clicker_with_the_card_and_updates_the_channel_message_in_place(bot):
    post = the_post(bot)
    body = await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    assert body["statusCode"] == 200 and body["type"] == CARD
    assert "Vote recorded." in said(body)
    assert "Rapid review\n — Laura LocalAuthority" in said(body)
    assert card_updates(bot) == []  # committed first; the update follows from the outbox

    assert await bot.flush() == 1
    updates = bot.connector.updates()
    assert [(u.conversation_id, u.activity_id) for u in updates] == [(post.conversation_id, post.activity_id)]
    assert "Rapid review\n — Laura LocalAuthority" in texts(card_of(updates[0].activity))

    body = await vote(bot, A.NINA, ballot("escalation", HEALTH_WHY))
    assert "Escalation\n — Nina Health" in said(body)
    await bot.flush()
    assert len(card_updates(bot)) == 2
    assert awaiting(channel_card(bot)) == 1
    assert len(case_posts(bot)) == 1


# ---- 2. rules -----------------------------------------------------------------------------------


async def test_a_deputy_votes_for_police_and_a_member_changes_the_partner_vote_until_decided(bot):
    body = await vote(bot, A.DEE, ballot("practice_review", POLICE_WHY))
    assert "Practice review\n — Dee Deputy" in said(body)
    body = await vote(bot, A.DAN, ballot("rapid_review", POLICE_WHY, BASIS))
    assert "Rapid review\n — Dan Police" in said(body)

    votes = await stored_votes(bot)
    assert [(v.round, v.partner, v.choice, v.voter_name) for v in votes] == [(1, "police", "rapid_review", "Dan Police")]
    cast = await events(bot, "vote_cast")
    assert [(e.actor_aad_id, e.actor_name, e.detail["partner"], e.detail["before"], e.detail["after"]) for e in cast] == [
        (A.DEE.aad, "Dee Deputy", "police", None, "practice_review"),
        (A.DAN.aad, "Dan Police", "police", "practice_review", "rapid_review"),
    ]

    await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    body = await vote(bot, A.NINA, ballot("escalation", HEALTH_WHY))
    assert "No consensus yet" in said(body)
    assert (await case_row(bot)).status == "referred"
    await bot.flush()
    assert "No consensus yet" in texts(channel_card(bot))
    assert find_action(channel_card(bot), OPEN), "the vote stays open"

    dee_card = find_action(await open_card(bot, A.DEE), VOTE)  # Dee's controls, open in her Teams
    body = await vote(bot, A.NINA, ballot("rapid_review", HEALTH_WHY, BASIS))
    assert "The panel has decided: rapid review" in said(body)
    assert not inputs(body["value"]), "voting closes"

    case = await case_row(bot)
    assert case.status in ("decided", "meeting_scheduled")  # a rapid review books its meeting next
    decided_at = case.decided_at if case.decided_at.tzinfo else case.decided_at.replace(tzinfo=UTC)
    assert decided_at == NOW
    decided = await events(bot, "panel_decided")
    assert len(decided) == 1 and decided[0].actor_aad_id == A.NINA.aad
    assert decided[0].detail["outcome"] == "rapid_review" and decided[0].detail["by_local_authority"] is False
    assert decided[0].detail["deciders"] == [
        {"partner": "local_authority", "name": "Laura LocalAuthority", "organisation": "Example Council Children's Services"},
        {"partner": "police", "name": "Dan Police", "organisation": "Example Police"},
        {"partner": "health", "name": "Nina Health", "organisation": "Example Integrated Care Board"},
    ]
    changed = [(e.detail["before"], e.detail["after"]) for e in await events(bot, "vote_cast") if e.actor_aad_id == A.NINA.aad]
    assert changed == [(None, "escalation"), ("escalation", "rapid_review")]

    await bot.flush()
    card = channel_card(bot)
    shown = texts(card)
    assert "Decided: Meets the threshold for a rapid review" in shown
    assert "all three partners agreed" in shown
    for who in ("Laura LocalAuthority, Example Council Children's Services", "Dan Police, Example Police",
                "Nina Health, Example Integrated Care Board"):
        assert who in shown
    for why in (LA_WHY, POLICE_WHY, HEALTH_WHY, BASIS):
        assert why in shown
    # incident aware date Sat 21 Nov 2026 + 5 working days
    assert "notify the National Panel within 5 working days of the local authority becoming aware: **by Fri 27 Nov 2026**" in shown
    assert "refresh" not in card and not inputs(card)
    with pytest.raises(AssertionError):
        find_action(card, OPEN)
    assert len(case_posts(bot)) == 1
    assert_no_identifiers(panel_payload(bot))

    told = latest_to(bot, A.RILEY)
    assert "The panel has decided" in texts(told)
    assert "Meets the threshold for a rapid review" in texts(told)
    for why in (LA_WHY, POLICE_WHY, HEALTH_WHY):
        assert why in texts(told)

    # Voting has closed: a member's change is refused and nothing moves.
    before = await snapshot(bot)
    body = await bot.press(A.DEE, VOTE, {**dee_card, **ballot("escalation", POLICE_WHY)}, channel=True)
    assert "already decided" in said(body)
    assert not inputs(body["value"])
    assert await snapshot(bot) == before


async def test_the_local_authority_decides_when_the_partnership_says_so_and_all_three_disagree(tmp_path):
    config = DEFAULT_PARTNERSHIP_FILE.read_text(encoding="utf-8")
    assert 'decision_rule = "unanimous"' in config
    partnership = tmp_path / "partnership.toml"
    partnership.write_text(config.replace('decision_rule = "unanimous"', 'decision_rule = "local_authority_decides"'),
                           encoding="utf-8")
    async with BotHarness(tmp_path, partnership_file=partnership) as h:
        await refer(h)
        await vote(h, A.LAURA, ballot("escalation", LA_WHY))
        body = await vote(h, A.DAN, ballot("rapid_review", POLICE_WHY, BASIS))
        assert "No consensus yet" in said(body), "two votes: the local authority does not decide yet"
        assert (await case_row(h)).status == "referred"
        body = await vote(h, A.NINA, ballot("practice_review", HEALTH_WHY))
        assert "The panel has decided: escalation" in said(body)

        decided = await events(h, "panel_decided")
        assert len(decided) == 1
        assert decided[0].detail["rule"] == "local_authority_decides"
        assert decided[0].detail["by_local_authority"] is True
        assert decided[0].detail["outcome"] == "escalation"
        await h.flush()
        shown = texts(channel_card(h))
        assert "Decided: Meets the criteria for escalation" in shown
        assert "the local authority decided, as the partners disagreed" in shown
        assert "National Panel" not in shown


# ---- 3. queries back to the referrer ---------------------------------------------------------------


async def test_a_query_goes_to_the_referrer_and_the_answer_restarts_the_vote(bot):
    await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    await vote(bot, A.DAN, ballot("rapid_review", POLICE_WHY, BASIS))
    body = await vote(bot, A.NINA, ballot("queries", HEALTH_WHY, question=QUESTION))
    assert "Vote recorded." in said(body)
    assert (await case_row(bot)).status == "referred", "a query never decides"

    await bot.flush()
    assert "Waiting for the referrer to answer a question from: Health (ICB)." in texts(channel_card(bot))
    query = latest_to(bot, A.RILEY)
    assert "The panel has a question" in texts(query)
    assert QUESTION in texts(query)
    assert "Health (ICB) (Nina Health)" in texts(query)
    data = find_action(query, ANSWER, ref=REF)

    answer = f"The GP saw {CANARY_CHILD} on 17 November; nothing was recorded then."
    body = await bot.press(A.RILEY, ANSWER, {**data, "answer": answer})
    assert body["type"] == CARD and "Answer sent" in said(body)

    answered = await events(bot, "query_answered")
    assert [(e.actor_aad_id, e.detail["partner"], e.detail["new_round"]) for e in answered] == [
        (A.RILEY.aad, "health", 2)]
    async with bot.c.db.read() as conn:
        stored = (await conn.execute(select(t.queries))).one()
        kept = await bot.c.db.keyring.open_text(conn, stored.case_id, "queries.answer", stored.answer)
    assert stored.status == "answered" and kept == answer  # the case keeps the answer as given (sealed at rest)
    assert CANARY_CHILD not in stored.answer
    assert (await case_row(bot)).vote_round == 2

    posts_before = len(bot.connector.activities_to(PANEL))
    await bot.flush()
    notices = bot.connector.activities_to(PANEL)[posts_before:]
    assert len(notices) == 1 and f'"{VIEW}"' not in json.dumps(notices[0].activity)
    notice = texts(card_of(notices[0].activity))
    assert "the referrer answered" in notice
    assert "The GP saw [child] on 17 November" in notice
    assert_no_identifiers(panel_payload(bot))

    card = channel_card(bot)
    assert awaiting(card) == 3, "the votes were cleared"
    assert "votes have started again" in texts(card)
    assert find_action(card, OPEN, v=2)
    assert len(case_posts(bot)) == 1

    again = await bot.press(A.RILEY, ANSWER, {**data, "answer": "Another answer, just in case."})
    assert "already answered" in said(again)
    assert len(await events(bot, "query_answered")) == 1

    for person, why in ((A.LAURA, LA_WHY), (A.DAN, POLICE_WHY), (A.NINA, HEALTH_WHY)):
        body = await vote(bot, person, ballot("rapid_review", why, BASIS))
    assert "The panel has decided: rapid review" in said(body)
    rounds = [(v.round, v.partner, v.choice) for v in await stored_votes(bot)]
    assert [r for r in rounds if r[0] == 2] == [(2, p, "rapid_review") for p in ("health", "local_authority", "police")]
    assert (1, "health", "queries") in rounds, "the first round's votes stay on record"
    await bot.flush()
    assert "Decided" in texts(channel_card(bot))
    assert len(case_posts(bot)) == 1



async def test_an_answer_card_posted_before_the_id_keys_were_split_still_answers(bot):
    """Cards already in people's chats carry the query id as `q`: it is read as the query id."""
    await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    await vote(bot, A.NINA, ballot("queries", HEALTH_WHY, question=QUESTION))
    await bot.flush()
    data = find_action(latest_to(bot, A.RILEY), ANSWER, ref=REF)
    old = {k: v for k, v in data.items() if k != "query"} | {"q": data["query"]}

    body = await bot.press(A.RILEY, ANSWER, {**old, "q": data["query"] + 1000, "answer": "Last Tuesday."})
    assert body["statusCode"] == 403 and "That question could not be found." in said(body)
    body = await bot.press(A.RILEY, ANSWER, {**old, "answer": "Last Tuesday."})
    assert body["type"] == CARD and "Answer sent" in said(body)
    assert [e.detail["new_round"] for e in await events(bot, "query_answered")] == [2]
    assert (await case_row(bot)).vote_round == 2

async def test_a_withdrawn_query_and_a_stranger_answering_are_refused(bot):
    await vote(bot, A.NINA, ballot("queries", HEALTH_WHY, question=QUESTION))
    await bot.flush()
    data = find_action(latest_to(bot, A.RILEY), ANSWER, ref=REF)

    # Only the referrer answers: the card's data does not make Mallory the referrer.
    before = await snapshot(bot)
    status, body = await bot.post(A.invoke(bot.url, A.MALLORY, ANSWER, {**data, "answer": "I am the referrer."}))
    assert status == 200 and body["statusCode"] == 403
    assert without_reference(said(body)) == CASE_DENIED
    assert await snapshot(bot) == before
    assert [(e.actor_aad_id, e.detail) for e in await events(bot, "access_denied")] == [
        (A.MALLORY.aad, {"action": ANSWER, "reference": REF})]

    # Nina changes her vote before the referrer answers: the question is withdrawn.
    await vote(bot, A.NINA, ballot("practice_review", HEALTH_WHY))
    async with bot.c.db.read() as conn:
        assert (await conn.execute(select(t.queries.c.status))).scalar_one() == "withdrawn"
    before = await snapshot(bot)
    body = await bot.press(A.RILEY, ANSWER, {**data, "answer": "Last Tuesday, at the surgery."})
    assert "withdrew" in said(body)
    assert await snapshot(bot) == before
    assert await events(bot, "query_answered") == []
    await bot.flush()
    assert "Waiting for the referrer" not in texts(channel_card(bot))


# ---- 4. reading the referral -------------------------------------------------------------------------


async def test_view_referral_sends_the_full_referral_to_personal_chat_and_refuses_anyone_else(bot):
    channel_before = len(bot.connector.activities_to(PANEL))
    for person in (A.PAT, A.CHRIS, A.LAURA):
        before = len(bot.connector.activities_to(person.chat))
        body = await bot.press(person, VIEW, find_action(channel_card(bot), VIEW), channel=True)
        assert body["statusCode"] == 200
        assert "is in your personal chat" in said(body)
        sent = bot.connector.activities_to(person.chat)[before:]
        assert len(sent) == 1
        assert CANARY_CHILD in json.dumps(sent[0].activity, ensure_ascii=False)
    assert len(bot.connector.activities_to(PANEL)) == channel_before
    case = await bot.c.stores.cases.get_case(REF)
    assert case is not None
    viewed = [e for e in await bot.c.stores.cases.events_for_case(case.id) if e.kind == "identifiers_viewed"]
    assert [(e.actor_aad_id, e.detail) for e in viewed] == [
        (p.aad, {"where": "personal_chat"}) for p in (A.PAT, A.CHRIS, A.LAURA)]

    sent_before = len(bot.connector.sent_activities())
    status, body = await bot.post(A.invoke(bot.url, A.MALLORY, VIEW, find_action(channel_card(bot), VIEW),
                                           channel=True))
    assert status == 200 and body["statusCode"] == 403
    assert without_reference(said(body)) == CASE_DENIED
    assert len(bot.connector.sent_activities()) == sent_before, "nothing is sent"
    denied = await events(bot, "access_denied")
    assert [(e.actor_aad_id, e.detail["action"]) for e in denied] == [(A.MALLORY.aad, VIEW)]
    assert len([e for e in await bot.c.stores.cases.events_for_case(case.id) if e.kind == "identifiers_viewed"]) == 3
    assert_no_identifiers(panel_payload(bot))


# ---- 5. trust and failure ----------------------------------------------------------------------------


def _vote_data(v: int, **extra: Any) -> dict[str, Any]:
    return {"verb": VOTE, "action": VOTE, "ref": REF, "v": v, **ballot("rapid_review", LA_WHY, BASIS), **extra}



@pytest.mark.parametrize("route", ["execute", "submit"])
@pytest.mark.parametrize("verb", ["panel.close", "meeting.delete", "form.publish", "chat.refer.now"])
async def test_a_verb_no_route_has_is_refused_and_audited_never_defaulted(bot, route, verb):
    """No card of ours sends these verbs (some look like ours): each is refused and audited
    as tamper, and nothing is done in its name (no vote, no timeline, no form)."""
    before = await snapshot(bot)
    denied_before = len(await events(bot, "access_denied"))
    status, told = await press_via(bot, route, A.PAT, {"verb": verb, "action": verb, "ref": REF, "v": 1})
    assert without_reference(told) == "That button is not recognised. Please use the latest card from the bot."
    if route == "execute":
        assert status == 400
    denied = (await events(bot, "access_denied"))[denied_before:]
    assert [(e.actor_aad_id, e.detail) for e in denied] == [
        (A.PAT.aad, {"action": "card_press", "reason": f"unknown verb {verb}"})]
    assert await snapshot(bot) == before

@pytest.mark.parametrize("route", ["execute", "submit"])
async def test_forged_and_stale_presses_are_refused_and_change_nothing(bot, route):
    # Round 1 ends with a query the referrer answers: round 2 is open.
    await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    await vote(bot, A.NINA, ballot("queries", HEALTH_WHY, question=QUESTION))
    await bot.flush()
    await bot.press(A.RILEY, ANSWER, {**find_action(latest_to(bot, A.RILEY), ANSWER), "answer": "Last Tuesday."})
    await bot.flush()
    assert (await case_row(bot)).vote_round == 2

    forgeries = [
        ("non-member", A.MALLORY, _vote_data(2), 403, CASE_DENIED),
        ("another partner", A.DAN, _vote_data(2, partner="health"), 400, "This card could not be read."),
        ("identity in the card", A.MALLORY, _vote_data(2, aadObjectId=A.NINA.aad), 400,
         "This card could not be read."),
        ("tampered reference", A.LAURA, _vote_data(2, ref="RR-2026-9999"), 403, "That case could not be found."),
        ("unknown verb", A.LAURA, {"verb": "panel.close", "action": "panel.close", "ref": REF, "v": 2}, 400,
         "That button is not recognised."),
        ("stale card", A.LAURA, _vote_data(1), 200, "This card was out of date"),
    ]
    channel_before = (len(bot.connector.activities_to(PANEL)), len(bot.connector.updates()))
    for name, person, data, status, message in forgeries:
        before = await snapshot(bot)
        got_status, told = await press_via(bot, route, person, data)
        assert message in told, (name, told)
        if route == "execute":
            assert got_status == status, (name, got_status)
        assert await snapshot(bot) == before, name
    assert [v for v in await stored_votes(bot) if v.round == 2] == []

    denied = [e.detail.get("reason", "") for e in await events(bot, "access_denied")]
    assert any("unexpected keys: partner" in r for r in denied)
    assert any("unexpected keys: aadObjectId" in r for r in denied)
    assert any("unknown verb panel.close" in r for r in denied)
    assert sum(e.detail.get("action") == VOTE for e in await events(bot, "access_denied")) == 1
    assert [e.detail["reason"] for e in await events(bot, "tamper")] == ["unknown case reference"]

    await bot.flush()
    if route == "execute":
        assert (len(bot.connector.activities_to(PANEL)), len(bot.connector.updates())) == channel_before
    else:  # each Submit press got one answer in the channel, and the card was not touched
        assert len(bot.connector.updates()) == channel_before[1]
        assert len(bot.connector.activities_to(PANEL)) == channel_before[0] + len(forgeries)

    # Decided: a vote on the decided case is refused, whichever way it comes.
    for person, why in ((A.LAURA, LA_WHY), (A.DAN, POLICE_WHY), (A.NINA, HEALTH_WHY)):
        await vote(bot, person, ballot("rapid_review", why, BASIS))
    await bot.flush()
    before = await snapshot(bot)
    assert before["case"][0] in ("decided", "meeting_scheduled")  # the meeting may already be booked
    _, told = await press_via(bot, route, A.DEE, _vote_data(2, choice="escalation"))
    assert "already decided" in told
    assert await snapshot(bot) == before
    assert len(case_posts(bot)) == 1
    assert_no_identifiers(panel_payload(bot))


async def test_a_double_click_records_one_vote_and_a_redelivered_activity_has_one_effect(bot):
    data = {**find_action(await open_card(bot, A.DAN), VOTE), **ballot("rapid_review", POLICE_WHY, BASIS)}
    first = await bot.press(A.DAN, VOTE, data, channel=True)
    second = await bot.press(A.DAN, VOTE, data, channel=True)  # a new activity id: the second click
    assert "Vote recorded." in said(first)
    assert "already recorded" in said(second)
    assert len(await events(bot, "vote_cast")) == 1
    assert len(await stored_votes(bot)) == 1

    # Teams delivering the same activity twice: one effect, the same answer.
    activity = A.invoke(bot.url, A.LAURA, VOTE, {**data, **ballot("practice_review", LA_WHY)}, channel=True)
    status_a, body_a = await bot.post(activity)
    status_b, body_b = await bot.post(activity)
    assert status_a == status_b == 200
    assert body_a == body_b and "Vote recorded." in said(body_a)
    assert len(await events(bot, "vote_cast")) == 2
    assert [(v.partner, v.choice) for v in await stored_votes(bot)] == [
        ("local_authority", "practice_review"), ("police", "rapid_review")]
    await bot.flush()
    assert len(case_posts(bot)) == 1


@pytest.mark.parametrize(("status", "faults"), [(503, 5), (429, 4)])
async def test_a_failed_card_update_keeps_the_vote_and_a_later_pass_brings_the_card_up_to_date(bot, status, faults):
    """Edge-specific in one point: botbuilder's connector client re-sends a PUT three times on
    429/503 itself (msrest's retry policy, kept by bot/teams/sdk.py), the Agents SDK's never
    (bot/agents/notifier.py); on both, the outbox tries again later."""
    post = the_post(bot)
    channel_before = len(bot.connector.activities_to(PANEL))
    # botbuilder re-sends a PUT three times on 429/503 (honouring Retry-After: 1 s), so `faults` is
    # what fails its whole first pass; on the Agents SDK one fault does.
    in_client = bot.served_on == "botbuilder"
    faults = faults if in_client else 1
    bot.connector.fail_next(faults, status=status, retry_after=1, route_kind="update")
    body = await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    assert "Vote recorded." in said(body)
    assert [(v.partner, v.choice) for v in await stored_votes(bot)] == [("local_authority", "rapid_review")]

    assert await bot.flush() == 0
    assert bot.connector.updates() == [] and len(bot.connector.faulted) == (4 if in_client else 1)
    assert bot.sdk_sleeps == ([1.0, 1.0, 1.0] if in_client else []), "each re-sent PUT waited for Retry-After (1 s)"
    assert len(bot.connector.activities_to(PANEL)) == channel_before, "nothing new is posted in the channel"
    puts = len(bot.connector.requests_of("update"))
    assert await bot.flush() == 0 and len(bot.connector.requests_of("update")) == puts, "it waits before retrying"

    bot.clock.advance(minutes=10)
    assert await bot.flush() == 1
    assert "Rapid review\n — Laura LocalAuthority" in texts(channel_card(bot))
    await vote(bot, A.DAN, ballot("rapid_review", POLICE_WHY, BASIS))
    await bot.flush()
    assert "Rapid review\n — Dan Police" in texts(channel_card(bot))
    assert {u.activity_id for u in bot.connector.updates()} == {post.activity_id}
    assert len(bot.connector.activities_to(PANEL)) == channel_before
    assert len(case_posts(bot)) == 1


async def test_a_crash_between_the_vote_and_the_card_update_loses_nothing_and_posts_nothing_twice(bot):
    post = the_post(bot)
    body = await vote(bot, A.LAURA, ballot("escalation", LA_WHY))
    assert "Vote recorded." in said(body)

    await bot.restart()  # a new process on the same database; the card was never updated
    assert bot.connector.sent_activities() == [] and bot.connector.updates() == []
    assert await bot.flush() == 1
    updates = bot.connector.updates()
    assert [(u.conversation_id, u.activity_id) for u in updates] == [(post.conversation_id, post.activity_id)]
    assert "Escalation\n — Laura LocalAuthority" in texts(card_of(updates[0].activity))
    assert await bot.flush() == 0
    assert len(bot.connector.updates()) == 1
    assert bot.connector.activities_to(PANEL) == [], "no second post"

    member = await bot.press(A.DAN, OPEN, find_action(card_of(updates[0].activity), OPEN), channel=True)
    assert "Escalation\n — Laura LocalAuthority" in said(member)


# ---- 6. membership in the channel -------------------------------------------------------------------


async def test_a_partnership_manager_adds_lists_and_removes_members_with_mentions_and_each_change_is_audited(bot):
    refused = await say_in_channel(bot, A.DAN, f"add <at>{A.MALLORY.name}</at> as police", A.MALLORY)
    assert "Only a partnership manager" in str(refused)
    assert not (await bot.c.stores.roster.roles_of(A.MALLORY.aad)).panel_partners
    assert [(e.actor_aad_id, e.detail) for e in await events(bot, "access_denied")] == [
        (A.DAN.aad, {"action": "membership"})]

    added = await say_in_channel(bot, A.PAT, f"add <at>{A.MALLORY.name}</at> as health", A.MALLORY)
    assert added == "Added Mallory Outsider as Health (ICB)."
    [event] = await events(bot, "member_added")
    assert event.actor_aad_id == A.PAT.aad and event.actor_name == "Pat Manager"
    assert event.detail["member"] == A.MALLORY.aad
    assert (event.detail["role"], event.detail["partner"]) == ("panel", "health")

    roster = await say_in_channel(bot, A.PAT, "members")
    assert isinstance(roster, dict)
    listed = texts(roster)
    for name in ("Laura LocalAuthority", "Dan Police", "Dee Deputy", "Nina Health", "Chris Chair", "Pat Manager",
                 "Mallory Outsider (added in Teams)"):
        assert name in listed, name
    assert listed.index("Mallory Outsider") > listed.index("Health (ICB)")

    body = await vote(bot, A.MALLORY, ballot("no_further_action", HEALTH_WHY))
    assert "No further action\n — Mallory Outsider" in said(body)
    assert [(v.partner, v.voter_aad_id) for v in await stored_votes(bot)] == [("health", A.MALLORY.aad)]

    removed = await say_in_channel(bot, A.PAT, f"remove <at>{A.MALLORY.name}</at>", A.MALLORY)
    assert removed == "Removed Mallory Outsider from the panel roster."
    [event] = await events(bot, "member_removed")
    assert event.actor_aad_id == A.PAT.aad and event.detail["member"] == A.MALLORY.aad

    before = await snapshot(bot)
    status, told = await press_via(bot, "execute", A.MALLORY, _vote_data(1, choice="escalation",
                                                                         rationale=HEALTH_WHY))
    assert status == 403 and CASE_DENIED in told  # off the roster: no role on the case any more
    assert await snapshot(bot) == before
    refused = await bot.press(A.MALLORY, OPEN, find_action(channel_card(bot), OPEN), channel=True)
    assert refused["statusCode"] == 403 and without_reference(said(refused)) == CASE_DENIED

