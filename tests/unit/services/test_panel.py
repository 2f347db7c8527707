"""The virtual panel's use cases (bot/services/panel.py) on the in-memory stores:
votes, the decision and its lifecycle move, queries back to the referrer, reading the
referral. No HTTP, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.events import EventKind
from bot.domain.lifecycle import CaseStatus
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import DecisionRule, Partner
from bot.domain.timeline import Anchor
from bot.domain.votes import VoteChoice
from bot.services import panel
from bot.services.refusals import NotAuthorised, PanelRefused
from bot.settings import load_partnership
from tests.support.fakes import EXAMPLE_PARTNERSHIP
from tests.unit.services.flow import DAN, DEE, LAURA, NINA, PANEL, PAT, RILEY, db, services, snapshot, submit, vote


async def test_three_partners_agreeing_decide_and_move_the_case_through_the_lifecycle() -> None:
    ctx = await services()
    case = await submit(ctx)
    for who in (LAURA, DAN):
        case, message, view = await vote(ctx, who, case, "rapid_review")
        assert message == "Vote recorded." and not view.decided
    case, message, view = await vote(ctx, NINA, case, "rapid_review")

    assert message == "Vote recorded. The panel has decided: rapid review."
    assert case.summary.status is CaseStatus.DECIDED
    assert view.decided and view.decision.outcome is VoteChoice.RAPID_REVIEW
    assert view.decision.rule is DecisionRule.UNANIMOUS and not view.decision.by_local_authority
    assert [v.voter_name for v in view.decision.votes] == ["Laura LocalAuthority", "Dan Police", "Nina Health"]
    moved = db(ctx).events(case.id, EventKind.CASE_MOVED)
    assert len(moved) == 1
    assert moved[0].detail["from"] == "referred" and moved[0].detail["to"] == "decided"
    assert moved[0].detail["outcome"] == "rapid_review" and moved[0].actor_aad_id == NINA.aad_object_id
    assert len(db(ctx).events(case.id, EventKind.PANEL_DECIDED)) == 1
    assert len(db(ctx).events(case.id, EventKind.VOTE_CAST)) == 3
    kinds = [r["kind"] for r in db(ctx).outbox_rows(case.id)]
    for kind in (OutboxKind.REFERRER_DECISION, OutboxKind.REFRESH_DEADLINES, OutboxKind.AGENCY_PROMPT,
                 OutboxKind.BOOK_MEETING):
        assert kind.value in kinds
    assert OutboxKind.DISAGREEMENT_PROMPT.value not in kinds
    assert (await ctx.deadlines.anchors(case.id))[Anchor.PANEL_DECISION] == ctx.clock.now()


async def test_a_decision_other_than_rapid_review_books_no_meeting() -> None:
    ctx = await services()
    case = await submit(ctx)
    for who in PANEL:
        case, _, _ = await vote(ctx, who, case, "no_further_action")
    assert case.summary.status is CaseStatus.DECIDED
    kinds = [r["kind"] for r in db(ctx).outbox_rows(case.id)]
    assert OutboxKind.BOOK_MEETING.value not in kinds and OutboxKind.AGENCY_PROMPT.value not in kinds
    assert OutboxKind.REFERRER_DECISION.value in kinds


async def test_disagreement_keeps_the_case_open_and_prompts_the_chair_later() -> None:
    ctx = await services()
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "rapid_review")
    await vote(ctx, DAN, case, "practice_review")
    case, message, view = await vote(ctx, NINA, case, "rapid_review")

    assert message == "Vote recorded." and not view.decided and view.disagreement
    assert case.summary.status is CaseStatus.REFERRED
    assert db(ctx).events(case.id, EventKind.CASE_MOVED) == []
    prompts = [r for r in db(ctx).outbox_rows(case.id) if r["kind"] == OutboxKind.DISAGREEMENT_PROMPT.value]
    assert len(prompts) == 1  # once, when the partners first disagreed (at Dan's vote)
    assert prompts[0]["not_before"] == ctx.clock.now() + timedelta(hours=ctx.partnership.disagreement_prompt_hours)


async def test_changing_a_vote_to_agree_decides() -> None:
    ctx = await services()
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "rapid_review")
    await vote(ctx, DAN, case, "practice_review")
    await vote(ctx, NINA, case, "rapid_review")
    case, message, _ = await vote(ctx, DAN, case, "rapid_review")
    assert case.summary.status is CaseStatus.DECIDED
    cast = db(ctx).events(case.id, EventKind.VOTE_CAST)[-1]
    assert cast.detail["before"] == "practice_review" and cast.detail["after"] == "rapid_review"


async def test_a_deputy_votes_for_their_partner_and_replaces_the_vote() -> None:
    ctx = await services()
    case = await submit(ctx)
    await vote(ctx, DAN, case, "practice_review")
    _, _, view = await vote(ctx, DEE, case, "rapid_review")
    assert set(view.votes) == {Partner.POLICE}
    assert view.votes[Partner.POLICE].voter_name == "Dee Deputy"
    assert view.votes[Partner.POLICE].choice is VoteChoice.RAPID_REVIEW
    cast = db(ctx).events(case.id, EventKind.VOTE_CAST)[-1]
    assert cast.detail["replaced_vote_of"] == DAN.aad_object_id


async def test_the_same_vote_twice_records_nothing_new() -> None:
    ctx = await services()
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "practice_review")
    _, message, _ = await vote(ctx, LAURA, case, "practice_review")
    assert message == "Your partner's vote is already recorded."
    assert len(db(ctx).events(case.id, EventKind.VOTE_CAST)) == 1


@pytest.mark.parametrize("who", [RILEY, PAT], ids=["referrer", "partnership_manager"])
async def test_someone_not_on_the_panel_cannot_vote(who) -> None:  # noqa: ANN001
    ctx = await services()
    case = await submit(ctx)
    before = len(db(ctx).outbox_rows())
    with pytest.raises(PanelRefused, match="Only the statutory partners"):
        await vote(ctx, who, case, "rapid_review")
    state = await ctx.panel.panel_state(case.id)
    assert state.votes == {} and state.version == 1
    assert len(db(ctx).outbox_rows()) == before
    denied = db(ctx).events(kind=EventKind.ACCESS_DENIED)
    assert [e.actor_aad_id for e in denied] == [who.aad_object_id] and denied[0].detail["action"] == "vote"


async def test_a_vote_on_a_decided_case_is_refused_and_changes_nothing() -> None:
    ctx = await services()
    case = await submit(ctx)
    for who in PANEL:
        case, _, _ = await vote(ctx, who, case, "rapid_review")
    before = snapshot(ctx)
    with pytest.raises(PanelRefused, match="already decided"):
        await vote(ctx, DAN, case, "no_further_action")
    assert db(ctx).state == before  # not even the version the lock took


async def test_a_vote_for_an_unknown_case_is_refused() -> None:
    ctx = await services()
    case = await submit(ctx)
    with pytest.raises(PanelRefused, match="could not be found"):
        await panel.cast_vote(ctx, DAN, "RR-2026-0999", choice="rapid_review", rationale="x" * 30,
                              serious_harm_basis="y" * 30, question=None, card_round=None)
    assert (await ctx.panel.panel_state(case.id)).votes == {}


@pytest.mark.parametrize(("choice", "rationale", "basis", "question", "field"), [
    ("maybe", "x" * 30, None, None, "choice"),
    ("practice_review", "too short", None, None, "rationale"),
    ("rapid_review", "x" * 30, None, None, "serious_harm_basis"),
    ("queries", "x" * 30, None, "why?", "question"),
])
async def test_a_bad_ballot_is_refused_next_to_its_field(choice, rationale, basis, question, field) -> None:  # noqa: ANN001
    ctx = await services()
    case = await submit(ctx)
    with pytest.raises(PanelRefused) as refused:
        await panel.cast_vote(ctx, LAURA, case.reference, choice=choice, rationale=rationale,
                              serious_harm_basis=basis, question=question, card_round=None)
    assert refused.value.field == field
    assert (await ctx.panel.panel_state(case.id)).votes == {}


# ---- queries back to the referrer ---------------------------------------------------------------


async def test_a_queries_vote_asks_the_referrer_and_the_answer_starts_a_new_round() -> None:
    ctx = await services()
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "rapid_review")
    case, _, view = await vote(ctx, DAN, case, "queries")
    assert [q.question for q in view.open_queries] == ["Was the GP told about the earlier bruising?"]
    query = view.open_queries[0]
    assert query.partner is Partner.POLICE and query.asked_by_name == "Dan Police" and query.round == 1
    assert f"query:{query.id}" in db(ctx).outbox_keys(case.id)
    await vote(ctx, NINA, case, "rapid_review")  # queries never decide
    assert (await ctx.cases.get_case_by_id(case.id)).summary.status is CaseStatus.REFERRED

    case = await panel.answer_query(ctx, RILEY, case.reference, query.id, "Yes, on 3 November.")
    state = await ctx.panel.panel_state(case.id)
    assert state.round == 2 and state.votes == {}  # the votes start again
    assert [(q.status, q.answer) for q in state.queries] == [("answered", "Yes, on 3 November.")]
    answered = db(ctx).events(case.id, EventKind.QUERY_ANSWERED)
    assert len(answered) == 1 and answered[0].detail["new_round"] == 2
    assert f"answer:{query.id}" in db(ctx).outbox_keys(case.id)

    with pytest.raises(PanelRefused, match="out of date"):  # a card from round 1
        await vote(ctx, LAURA, case, "rapid_review", card_round=1)
    for who in PANEL:
        case, _, _ = await vote(ctx, who, case, "rapid_review", card_round=2)
    assert case.summary.status is CaseStatus.DECIDED


async def test_only_the_referrer_answers_and_only_once() -> None:
    ctx = await services()
    case = await submit(ctx)
    _, _, view = await vote(ctx, DAN, case, "queries")
    query = view.open_queries[0]
    before = snapshot(ctx)
    with pytest.raises(PanelRefused, match="Only the referrer"):
        await panel.answer_query(ctx, LAURA, case.reference, query.id, "An answer from someone else")
    assert db(ctx).state == before
    with pytest.raises(PanelRefused, match="Write your answer"):
        await panel.answer_query(ctx, RILEY, case.reference, query.id, " ")
    await panel.answer_query(ctx, RILEY, case.reference, query.id, "The answer.")
    with pytest.raises(PanelRefused, match="already answered"):
        await panel.answer_query(ctx, RILEY, case.reference, query.id, "The answer again.")
    with pytest.raises(PanelRefused, match="could not be found"):
        await panel.answer_query(ctx, RILEY, case.reference, 999, "An answer.")


async def test_changing_a_queries_vote_withdraws_the_question() -> None:
    ctx = await services()
    case = await submit(ctx)
    _, _, view = await vote(ctx, DAN, case, "queries")
    query = view.open_queries[0]
    _, _, view = await vote(ctx, DAN, case, "practice_review")
    assert view.open_queries == []
    assert (await ctx.panel.panel_state(case.id)).queries[0].status == "withdrawn"
    with pytest.raises(PanelRefused, match="withdrew"):
        await panel.answer_query(ctx, RILEY, case.reference, query.id, "Too late.")


# ---- the decision rule ----------------------------------------------------------------------------


def _partnership(rule: DecisionRule):  # noqa: ANN202
    return load_partnership(EXAMPLE_PARTNERSHIP).model_copy(update={"decision_rule": rule})


async def test_local_authority_decides_when_all_three_have_voted_and_disagree() -> None:
    ctx = await services(partnership=_partnership(DecisionRule.LOCAL_AUTHORITY_DECIDES))
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "rapid_review")
    case, _, view = await vote(ctx, DAN, case, "no_further_action")
    assert not view.decided  # not before all three have voted
    case, message, view = await vote(ctx, NINA, case, "practice_review")
    assert case.summary.status is CaseStatus.DECIDED
    assert view.decision.outcome is VoteChoice.RAPID_REVIEW and view.decision.by_local_authority
    assert view.decision.rule is DecisionRule.LOCAL_AUTHORITY_DECIDES
    assert db(ctx).events(case.id, EventKind.PANEL_DECIDED)[0].detail["by_local_authority"] is True
    assert message.endswith("rapid review.")


async def test_local_authority_asking_a_question_does_not_decide() -> None:
    ctx = await services(partnership=_partnership(DecisionRule.LOCAL_AUTHORITY_DECIDES))
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "queries")
    await vote(ctx, DAN, case, "rapid_review")
    case, _, view = await vote(ctx, NINA, case, "rapid_review")
    assert case.summary.status is CaseStatus.REFERRED and not view.decided


async def test_unanimous_rule_does_not_let_the_local_authority_decide() -> None:
    ctx = await services(partnership=_partnership(DecisionRule.UNANIMOUS))
    case = await submit(ctx)
    await vote(ctx, LAURA, case, "rapid_review")
    await vote(ctx, DAN, case, "no_further_action")
    case, _, view = await vote(ctx, NINA, case, "practice_review")
    assert case.summary.status is CaseStatus.REFERRED and not view.decided


# ---- reading the referral -------------------------------------------------------------------------


async def test_panel_members_chairs_and_managers_may_read_the_referral_and_it_is_audited() -> None:
    ctx = await services()
    case = await submit(ctx, child_name="Amelia Example")
    read = await panel.view_referral(ctx, NINA, case.reference)
    assert read.referral.children.children[0].name == "Amelia Example"
    viewed = db(ctx).events(case.id, EventKind.IDENTIFIERS_VIEWED)
    assert [e.actor_aad_id for e in viewed] == [NINA.aad_object_id]
    await panel.view_referral(ctx, PAT, case.reference)


async def test_the_referrer_cannot_read_referrals_through_the_panel() -> None:
    ctx = await services()
    case = await submit(ctx)
    with pytest.raises(NotAuthorised):
        await panel.view_referral(ctx, RILEY, case.reference)
    assert db(ctx).events(case.id, EventKind.IDENTIFIERS_VIEWED) == []
    assert [e.detail["action"] for e in db(ctx).events(kind=EventKind.ACCESS_DENIED)] == ["view_referral"]


class _NoReadOutsideTheVote:
    """The panel's store outside any transaction: a vote must not need it."""

    async def panel_state(self, case_id: str) -> object:
        raise AssertionError("the panel was read outside the vote's transaction")


async def test_a_vote_answers_from_what_its_own_transaction_wrote() -> None:
    ctx = await services()
    case = await submit(ctx)
    ctx = replace(ctx, panel=_NoReadOutsideTheVote())

    case, message, view = await vote(ctx, LAURA, case, "rapid_review")

    assert message == "Vote recorded."
    assert view.votes[Partner.LOCAL_AUTHORITY].choice is VoteChoice.RAPID_REVIEW
    assert view.version == case.version  # the case as the vote left it
    _, again, view = await vote(ctx, LAURA, case, "rapid_review")  # the same vote: answered from the transaction too
    assert again == "Your partner's vote is already recorded." and view.votes[Partner.LOCAL_AUTHORITY]


async def test_an_undecided_vote_shows_what_it_read_and_wrote_without_reading_the_round_again(monkeypatch) -> None:
    """Reading the round back inside the vote would unseal every rationale of it a second
    time: an undecided vote's view is made from the votes it read and the one it wrote, and
    from the queries it read unless it asked or withdrew one. Each view is the one a fresh
    read of the panel gives."""
    from tests.support.memory_stores import MemoryPanelTransaction

    reads: list[str] = []
    for name in ("panel_state", "queries"):
        original = getattr(MemoryPanelTransaction, name)

        async def counted(self, case_id, _original=original, _name=name):  # noqa: ANN001, ANN202
            reads.append(_name)
            return await _original(self, case_id)

        monkeypatch.setattr(MemoryPanelTransaction, name, counted)
    ctx = await services()
    case = await submit(ctx)

    steps = [(LAURA, "rapid_review", ["queries"]),  # read once, nothing changed
             (DAN, "queries", ["queries", "queries"]),  # asked one: read back
             (DAN, "practice_review", ["queries", "queries"]),  # withdrew it: read back
             (DAN, "practice_review", ["queries"]),  # the same vote again
             (NINA, "rapid_review", ["queries"]),
             (DAN, "rapid_review", ["queries", "panel_state"])]  # the decision: the panel read back
    for who, choice, expected in steps:
        reads.clear()
        case, _, view = await vote(ctx, who, case, choice)
        assert reads == expected, (who.name, choice)
        assert view == await panel.panel_view(ctx, case), (who.name, choice)
    assert view.decided and case.summary.status is CaseStatus.DECIDED
