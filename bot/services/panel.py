"""Use cases of the virtual panel: vote, queries back to the referrer, reading the referral.

Who may do what comes from the roster in the database, looked up by the Entra object
id of the activity (never from card data). State is committed first; the channel
card, the referrer's messages and prompts follow through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

from bot.domain.case import Actor, Case, CaseSummary
from bot.domain.events import Event, EventKind
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.limits import cap, too_long
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Partner
from bot.domain.redaction import redact
from bot.domain.text import clean_text
from bot.domain.timeline import Anchor, step_due
from bot.domain.votes import BallotError, Decision, Vote, VoteChoice, ballot, decide, disagreement, partner_for
from bot.services import pathways
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.deadlines import case_anchor_dates
from bot.services.ports import (
    OUTBOX_LEASE_SECONDS,
    OutboxItem,
    OutboxMessage,
    PanelState,
    QueryRecord,
    Roles,
    Transaction,
)
from bot.services.referrals import PANEL_CHANNEL
from bot.services.refusals import NotAuthorised, PanelRefused, Refused
from bot.services.shared_text import refuse_identifiers
from bot.services.signal import HandedCard


@dataclass(frozen=True)
class ShownVote:
    """A vote as a channel may show it: rationale with the case's identifiers removed."""

    partner: Partner
    choice: VoteChoice
    voter_name: str
    organisation: str | None
    cast_at: object
    rationale: str
    serious_harm_basis: str | None


@dataclass(frozen=True)
class PanelView:
    case: CaseSummary
    round: int
    votes: dict[Partner, ShownVote]
    decision: Decision | None
    open_queries: list[QueryRecord]
    answered_queries: list[QueryRecord]
    notify_by: date | None
    aware_date_known: bool
    panel_user_ids: list[str] = field(default_factory=list)
    version: int = 0  # the case row's version this view was read at: newer views win
    # How the profile counts the notification, in words ("within 5 working days of the local
    # authority becoming aware"): the card says what the profile says, an override included.
    notify_within: str | None = None
    # Cards rendered from this view, by whoever renders them (cards/vote_card.py): the vote's
    # answer and the channel card's update it hands over share one rendering of the base card.
    rendered: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def decided(self) -> bool:
        return self.decision is not None

    @property
    def disagreement(self) -> bool:
        return disagreement(self.votes)


# ---- reading -----------------------------------------------------------------------------------


def _shown(vote: Vote, case: Case) -> ShownVote:
    return ShownVote(
        partner=vote.partner,
        choice=vote.choice,
        voter_name=vote.voter_name,
        organisation=vote.organisation,
        cast_at=vote.cast_at,
        rationale=redact(vote.rationale, case.referral),
        serious_harm_basis=redact(vote.serious_harm_basis, case.referral) if vote.serious_harm_basis else None,
    )


def _shown_query(query: QueryRecord, case: Case) -> QueryRecord:
    """A query as the referrer and the channel may read it: question and answer redacted."""
    return replace(query, question=redact(query.question, case.referral),
                   answer=redact(query.answer, case.referral) if query.answer is not None else None)


def national_panel_deadline(ctx: ServiceContext, case: Case) -> tuple[date | None, bool]:
    """The date by which the local authority must notify the National Panel, as the
    partnership's timeline profile counts it (the statutory minimum is 5 working days from
    becoming aware; the received date stands in when the referral did not say). None when
    the profile has no such step."""
    step = ctx.profile.recorder_of(Anchor.NATIONAL_PANEL_NOTIFIED)
    known = case.aware_date is not None
    if step is None:
        return None, known
    anchors = case_anchor_dates(ctx, case)
    start = anchors.get(step.anchor)
    if start is None:
        return None, known
    return step_due(step, start, ctx.calendar, ctx.tz).date(), known


def national_panel_rule(ctx: ServiceContext) -> str | None:
    """The profile's notification step in words: "within 5 working days of the local authority
    becoming aware" (an override of the number or the anchor shows here too)."""
    step = ctx.profile.recorder_of(Anchor.NATIONAL_PANEL_NOTIFIED)
    if step is None:
        return None
    return f"within {step.due_offset.words} of {step.anchor.description}"


async def panel_view(ctx: ServiceContext, case: Case) -> PanelView:
    return view_of(ctx, case, await ctx.panel.panel_state(case.id), await ctx.roster.panel_mris())


def view_of(ctx: ServiceContext, case: Case, state: PanelState, panel_user_ids: list[str]) -> PanelView:
    """The panel's view of a case from what has been read: the panel's state and the panel
    members' Teams ids (which the card's refresh lists)."""
    notify_by, known = national_panel_deadline(ctx, case)
    votes, decision = state.votes, state.decision
    if decision is not None:
        votes = {v.partner: v for v in decision.votes}
    return PanelView(
        case=case.summary,
        round=state.round,
        votes={p: _shown(v, case) for p, v in votes.items()},
        decision=decision,
        open_queries=[_shown_query(q, case) for q in state.queries if q.status == "open"],
        answered_queries=[_shown_query(q, case) for q in state.queries if q.status == "answered"],
        notify_by=notify_by,
        aware_date_known=known,
        panel_user_ids=panel_user_ids,
        version=state.version,
        notify_within=national_panel_rule(ctx),
    )


async def load_case(ctx: ServiceContext, reference: str) -> Case:
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise PanelRefused("That case could not be found.", audit="unknown case reference")
    return case


async def view_referral(ctx: ServiceContext, actor: Actor, reference: str, *, record_view: bool = True) -> Case:
    """The full referral, identifiers included, for panel members, chairs and partnership
    managers; every read is in the audit trail. `record_view=False` when it still has to be
    delivered (sent to a personal chat): the caller records it with `referral_viewed` once
    it has arrived, so a send that failed is not audited as a read."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.may_see_identifiers:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "view_referral", "reference": reference[:20]})
        raise NotAuthorised("You are not authorised to see referrals. Panel members, chairs and partnership "
                            "managers can; ask the partnership manager if you should be one.")
    case = await load_case(ctx, reference)
    if record_view:
        await referral_viewed(ctx, actor, case)
    return case


async def referral_viewed(ctx: ServiceContext, actor: Actor, case: Case, *, where: str = "personal_chat") -> None:
    await audit(ctx, actor, EventKind.IDENTIFIERS_VIEWED, case_id=case.id, detail={"where": where})


async def vote_refused(ctx: ServiceContext, actor: Actor, case_id: str, *, partners: int) -> None:
    """Someone who is not exactly one partner's panel member pressed Vote: answered on the
    card, and the attempt audited."""
    await audit(ctx, actor, EventKind.ACCESS_DENIED, case_id=case_id,
                detail={"action": "vote", "panel_partners": partners})


# ---- showing the card again -------------------------------------------------------------------

CANNOT_SHOW = "I can't show that case."
NO_PANEL_CHANNEL_FOR_SHOW = (
    "The panel channel is not set yet, so there is nowhere to post the card. A partnership manager can type "
    "**@Rapid Review use this channel for the panel** in the channel the panel uses.")


async def repost_card(ctx: ServiceContext, actor: Actor, reference: str) -> CaseSummary:
    """`show RR-…`: post the case's live card in the panel channel again and keep the new
    post up to date from then on (a lost channel post is never a dead end).

    Panel members, chairs and partnership managers only (roles from the roster by the
    actor's Entra id). Anyone else is told the same sentence whether or not the case exists,
    and the attempt is audited. The request is audited and its outbox message enqueued in
    one unit of work; the message's key is new for every request, and the dispatcher posts
    at most one card for it (bot/services/outbox.py, `_repost_panel_card`)."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.may_see_identifiers:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "show_card", "reference": reference[:20]})
        raise NotAuthorised(CANNOT_SHOW)
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise PanelRefused(f"There is no case {reference}.")
    if await ctx.roster.channel(PANEL_CHANNEL) is None:
        raise PanelRefused(NO_PANEL_CHANNEL_FOR_SHOW)
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        replaces = await tx.cases.panel_activity(case.id)
        await audit(ctx, actor, EventKind.CASE_CARD_REPOSTED, case_id=case.id, detail={"replaces": replaces},
                    into=tx.cases)
        await tx.outbox.enqueue([repost_message(case.id, replaces, now.strftime("%Y%m%dT%H%M%S%f"))], now)
    ctx.kick_outbox()
    return case.summary


def repost_message(case_id: str, replaces: str | None, stamp: str) -> OutboxMessage:
    """Post the case card again. `replaces` is the post the card was on when it was asked
    for: once the case's card is on any other post, this request has been delivered (or
    overtaken by another), so a retry updates that post instead of posting again."""
    return OutboxMessage(key=f"panel_card:{case_id}:repost:{stamp}:{uuid4().hex[:8]}", kind=OutboxKind.PANEL_CARD,
                         case_id=case_id, payload={"repost": True, "replaces": replaces})


# ---- voting ------------------------------------------------------------------------------------


async def cast_vote(ctx: ServiceContext, actor: Actor, reference: str, *, choice: str | None,
                    rationale: str | None, serious_harm_basis: str | None, question: str | None,
                    card_round: int | None, roles: Roles | None = None) -> tuple[Case, str, PanelView]:
    """Record the actor's partner's vote. Returns the case, a message for the voter and
    the panel's view after the vote. `roles`: the actor's roles when the caller has just
    read them in this turn (one lookup fewer per vote); otherwise they are read here.

    The channel card's update is committed in the vote's transaction like every outbox
    message. While the dispatcher runs, the row is enqueued already leased to this process
    and handed over with the view this turn renders anyway, so the card is updated at once
    without a second read of the case; a crash before it is sent leaves the lease to run
    out and the ordinary outbox pass to deliver it."""
    if roles is None:
        roles = await ctx.roster.roles_of(actor.aad_object_id)
    try:
        partner = partner_for(roles.panel_partners)
    except BallotError as refused:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "vote", "reference": reference[:20]})
        raise PanelRefused(str(refused)) from refused
    try:
        picked, reason, basis, asked = ballot(choice, rationale, serious_harm_basis, question)
    except BallotError as invalid:
        raise PanelRefused(str(invalid), invalid.field) from invalid
    refuse_identifiers({"rationale": reason, "serious_harm_basis": basis, "question": asked}, PanelRefused)
    organisation = roles.organisations.get(partner)
    now = ctx.clock.now()
    vote = Vote(partner=partner, choice=picked, rationale=reason, serious_harm_basis=basis, question=asked,
                voter_aad_id=actor.aad_object_id, voter_name=actor.name, organisation=organisation, cast_at=now)
    async with ctx.uow.begin() as tx:
        locked = await tx.panel.lock_case(reference, now)
        if locked is None:
            raise PanelRefused("That case could not be found.", audit="unknown case reference")
        if locked.status is not CaseStatus.REFERRED:
            raise PanelRefused("The panel has already decided this case, so no vote was changed.")
        if card_round is not None and card_round != locked.vote_round:
            raise PanelRefused("This card was out of date (the votes started again after the referrer answered a "
                               "query), so nothing was recorded. Here is the current card.")
        votes = await tx.panel.votes(locked.id, locked.vote_round)
        previous = votes.get(partner)
        if previous is not None and _same(previous, vote):
            case, view = await _view_in(ctx, tx, reference, locked.id, undecided=(locked.vote_round, votes, None))
            return case, "Your partner's vote is already recorded.", view
        await tx.panel.save_vote(locked.id, locked.vote_round, vote, replace=previous is not None)
        before = dict(votes)
        votes[partner] = vote
        card_update = _card_update(locked.id, locked.version)
        claimed: OutboxItem | None = None
        if ctx.signal.takes_cards and locked.panel_activity_id:
            claimed = await tx.outbox.enqueue_claimed(card_update, now, OUTBOX_LEASE_SECONDS)
        messages = [] if claimed is not None else [card_update]
        queries: list[QueryRecord] | None = await tx.panel.queries(locked.id)  # None once this vote changes one
        for query in list(queries or ()):
            if query.status == "open" and query.partner is partner and (
                    vote.choice is not VoteChoice.QUERIES or query.question != vote.question):
                await tx.panel.close_query(query.id, "withdrawn", now)
                queries = None
        if vote.choice is VoteChoice.QUERIES and not (previous and previous.question == vote.question
                                                     and previous.choice is VoteChoice.QUERIES):
            queries = None
            query_id = await tx.panel.add_query(locked.id, locked.vote_round, vote, now)
            messages.append(OutboxMessage(key=f"query:{query_id}", kind=OutboxKind.REFERRER_QUERY, case_id=locked.id,
                                          payload={"query_id": query_id}))
        await tx.cases.add_event(Event(
            kind=EventKind.VOTE_CAST, at=now, actor_aad_id=actor.aad_object_id, actor_name=actor.name, case_id=locked.id,
            detail={"partner": partner.value, "round": locked.vote_round,
                    "before": previous.choice.value if previous else None, "after": vote.choice.value,
                    "cast_by": actor.aad_object_id,
                    "replaced_vote_of": previous.voter_aad_id if previous else None},
        ))
        decision = decide(votes, ctx.partnership.decision_rule, now)
        if decision is not None:
            await tx.panel.record_decision(locked.id, decision)
            await tx.cases.move(locked.id, CaseStatus.DECIDED, Mover.BOT, actor, now,
                                detail={"outcome": decision.outcome.value}, expect=CaseStatus.REFERRED)
            for query in await tx.panel.open_queries(locked.id):
                await tx.panel.close_query(query.id, "withdrawn", now)
            await tx.cases.add_event(Event(
                kind=EventKind.PANEL_DECIDED, at=now, actor_aad_id=actor.aad_object_id, actor_name=actor.name,
                case_id=locked.id,
                detail={"outcome": decision.outcome.value, "rule": decision.rule.value,
                        "by_local_authority": decision.by_local_authority,
                        "deciders": [{"partner": v.partner.value, "name": v.voter_name,
                                      "organisation": v.organisation} for v in decision.votes]},
            ))
            messages.append(OutboxMessage(key=f"decision:{locked.id}", kind=OutboxKind.REFERRER_DECISION,
                                          case_id=locked.id))
            await tx.deadlines.set_anchor(locked.id, Anchor.PANEL_DECISION, now)
            messages.append(OutboxMessage(key=f"refresh:{locked.id}:decided", kind=OutboxKind.REFRESH_DEADLINES,
                                          case_id=locked.id))
            messages += await pathways.after_decision(ctx, tx, locked.id, decision.outcome, now)
            if decision.outcome is VoteChoice.RAPID_REVIEW:
                messages.append(OutboxMessage(key=f"agency_prompt:{locked.id}", kind=OutboxKind.AGENCY_PROMPT,
                                              case_id=locked.id))
                messages.append(OutboxMessage(key=f"book_meeting:{locked.id}", kind=OutboxKind.BOOK_MEETING,
                                              case_id=locked.id))
        elif disagreement(votes) and not disagreement(before):
            messages.append(OutboxMessage(
                key=f"disagreement:{locked.id}:{locked.vote_round}", kind=OutboxKind.DISAGREEMENT_PROMPT, case_id=locked.id,
                payload={"round": locked.vote_round},
            ))
        await tx.outbox.enqueue([m for m in messages if m.kind != OutboxKind.DISAGREEMENT_PROMPT], now)
        prompts = [m for m in messages if m.kind == OutboxKind.DISAGREEMENT_PROMPT]
        if prompts:
            await tx.outbox.enqueue(prompts, now + timedelta(hours=ctx.partnership.disagreement_prompt_hours))
        case, view = await _view_in(ctx, tx, reference, locked.id,
                                    undecided=(locked.vote_round, votes, queries) if decision is None else None)
    if messages:
        ctx.kick_outbox()
    if claimed is not None and locked.panel_activity_id:
        channel = await ctx.roster.channel(PANEL_CHANNEL)  # the access gate's read, kept for the turn
        ctx.signal.hand_over(HandedCard(claimed, view, locked.panel_activity_id, channel))
    if decision is not None:
        return case, f"Vote recorded. The panel has decided: {decision.outcome.short.lower()}.", view
    return case, "Vote recorded.", view


async def _view_in(ctx: ServiceContext, tx: Transaction, reference: str, case_id: str, *,
                   undecided: tuple[int, dict[Partner, Vote], list[QueryRecord] | None] | None = None,
                   ) -> tuple[Case, PanelView]:
    """The case and the panel's view as this transaction leaves them, read on its own
    connection before it commits: the voter's answer and the channel card's update show
    exactly what was written, without three read transactions after it.

    `undecided`: the round and its votes as this transaction read and wrote them, when it
    recorded no decision. The case was still referred when it was locked, so it has no
    decision, and the round's votes are exactly those: reading them back (and unsealing
    every rationale again) would only repeat what the vote already holds. So are the case's
    queries when the vote read them and changed none (else None: they are read back), and
    the version is the case row's as read here."""
    case = await tx.cases.get_case(reference)
    if case is None:  # the row is locked by this transaction: it cannot have gone
        raise PanelRefused("That case could not be found.", audit="unknown case reference")
    if undecided is None:
        state = await tx.panel.panel_state(case_id)
    else:
        round_, votes, queries = undecided
        if queries is None:
            queries = await tx.panel.queries(case_id)
        state = PanelState(round_, dict(votes), None, queries, case.version)
    return case, view_of(ctx, case, state, await tx.roster.panel_mris())


def _same(a: Vote, b: Vote) -> bool:
    return (a.choice, a.rationale, a.serious_harm_basis, a.question) == (
        b.choice, b.rationale, b.serious_harm_basis, b.question)


def _card_update(case_id: str, version: int) -> OutboxMessage:
    """One outbox row per state version: each renders the card from the database, so the
    latest delivery always shows the truth, and a retry never posts a second message."""
    return OutboxMessage(key=f"panel_card:{case_id}:v{version}", kind=OutboxKind.PANEL_CARD, case_id=case_id)


# ---- queries back to the referrer ---------------------------------------------------------------


async def answer_query(ctx: ServiceContext, actor: Actor, reference: str, query_id: int | None,
                       answer: str | None) -> Case:
    text = clean_text(answer or "")
    over = too_long(text, cap("query.answer"))
    if over is not None:
        raise PanelRefused(over, "answer")
    if len(text) < 2:
        raise PanelRefused("Write your answer to the panel's question.", "answer")
    refuse_identifiers({"answer": text}, PanelRefused)
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        locked = await tx.panel.lock_case(reference, now)
        query = await tx.panel.query(query_id) if query_id is not None else None
        if locked is None or query is None or query.case_id != locked.id:
            raise PanelRefused("That question could not be found.", audit="unknown query")
        if locked.referrer_aad_id != actor.aad_object_id:
            raise PanelRefused("Only the referrer can answer the panel's questions about this referral.",
                               audit="not the referrer")
        if query.status == "answered":
            raise PanelRefused("You have already answered this question; thank you. The panel has your answer.")
        if query.status != "open" or locked.status is not CaseStatus.REFERRED:
            raise PanelRefused("The panel withdrew this question (or has decided the case), so no answer is "
                               "needed.")
        await tx.panel.close_query(query.id, "answered", now, answer=text)
        new_round = await tx.panel.new_round(locked.id)
        await tx.cases.add_event(Event(
            kind=EventKind.QUERY_ANSWERED, at=now, actor_aad_id=actor.aad_object_id, actor_name=actor.name,
            case_id=locked.id, detail={"query_id": query.id, "partner": query.partner.value, "new_round": new_round},
        ))
        await tx.outbox.enqueue([
            _card_update(locked.id, locked.version),
            OutboxMessage(key=f"answer:{query.id}", kind=OutboxKind.QUERY_ANSWER_NOTICE, case_id=locked.id,
                          payload={"query_id": query.id}),
        ], now)
    ctx.kick_outbox()
    return await load_case(ctx, reference)


async def audit_refusal(ctx: ServiceContext, actor: Actor | None, refused: Refused, reference: str | None) -> None:
    if refused.audit and actor is not None:
        await audit(ctx, actor, EventKind.TAMPER, detail={"reason": refused.audit, "reference": (reference or "")[:20]})


def redacted_answer(case: Case, query: QueryRecord) -> str:
    """The answer as the channel may read it (the redaction step is idempotent, so a query
    from a `PanelView`, already redacted, comes out the same)."""
    return redact(query.answer or "", case.referral)
