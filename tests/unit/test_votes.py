"""The virtual panel's vote as pure rules: what a ballot accepts, and when the panel has decided.

No I/O: `ballot`, `decide`, `disagreement` and `partner_for` from bot/domain/votes.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.partnership import DecisionRule, Partner
from bot.domain.text import LONG_TEXT
from bot.domain.votes import (
    MIN_QUESTION,
    MIN_RATIONALE,
    BallotError,
    Decision,
    Vote,
    VoteChoice,
    ballot,
    decide,
    disagreement,
    partner_for,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LA, POLICE, HEALTH = Partner.LOCAL_AUTHORITY, Partner.POLICE, Partner.HEALTH
RR = VoteChoice.RAPID_REVIEW
PR = VoteChoice.PRACTICE_REVIEW
ESC = VoteChoice.ESCALATION
NFA = VoteChoice.NO_FURTHER_ACTION
Q = VoteChoice.QUERIES
UNANIMOUS = DecisionRule.UNANIMOUS
LA_DECIDES = DecisionRule.LOCAL_AUTHORITY_DECIDES

REASON = "The injuries are unexplained and serious."  # > MIN_RATIONALE
BASIS = "Serious harm: fractures needing surgery."  # > MIN_RATIONALE
QUESTION = "Was the GP told of the earlier bruising?"  # > MIN_QUESTION


def vote(partner: Partner, choice: VoteChoice) -> Vote:
    return Vote(
        partner=partner,
        choice=choice,
        rationale=REASON,
        serious_harm_basis=BASIS if choice is RR else None,
        question=QUESTION if choice is Q else None,
        voter_aad_id=f"00000000-0000-0000-0000-0000000000{list(Partner).index(partner):02d}",
        voter_name=f"{partner.title} member",
        cast_at=NOW,
    )


def panel(la: VoteChoice | None, police: VoteChoice | None, health: VoteChoice | None) -> dict[Partner, Vote]:
    """The votes in the current round; None: that partner has not voted."""
    return {p: vote(p, c) for p, c in ((LA, la), (POLICE, police), (HEALTH, health)) if c is not None}


# ---- ballot: what a member typed on the voting card ---------------------------------------------


@pytest.mark.parametrize(
    ("choice", "rationale", "basis", "question", "expected"),
    [
        pytest.param("rapid_review", REASON, BASIS, None, (RR, REASON, BASIS, None),
                     id="a rapid review with the serious harm basis is accepted"),
        pytest.param("practice_review", REASON, None, None, (PR, REASON, None, None),
                     id="a practice review needs no serious harm basis"),
        pytest.param("escalation", REASON, None, None, (ESC, REASON, None, None),
                     id="escalation needs only a rationale"),
        pytest.param("no_further_action", REASON, None, None, (NFA, REASON, None, None),
                     id="no further action needs only a rationale"),
        pytest.param("queries", REASON, None, QUESTION, (Q, REASON, None, QUESTION),
                     id="queries with a question is accepted"),
        pytest.param("practice_review", REASON, BASIS, QUESTION, (PR, REASON, None, None),
                     id="a basis and a question left on the card are dropped for other choices"),
        pytest.param("queries", REASON, BASIS, QUESTION, (Q, REASON, None, QUESTION),
                     id="a serious harm basis is dropped from a queries vote"),
        pytest.param("escalation", "x" * MIN_RATIONALE, None, None, (ESC, "x" * MIN_RATIONALE, None, None),
                     id="a rationale of exactly the minimum length is accepted"),
        pytest.param("escalation", "y" * LONG_TEXT, None, None, (ESC, "y" * LONG_TEXT, None, None),
                     id="a rationale of exactly the maximum length is accepted"),
        pytest.param("queries", REASON, None, "q" * MIN_QUESTION, (Q, REASON, None, "q" * MIN_QUESTION),
                     id="a question of exactly the minimum length is accepted"),
        pytest.param("rapid_review", f"  {REASON}\n\n", f"\t{BASIS} ", None, (RR, REASON, BASIS, None),
                     id="surrounding whitespace is trimmed"),
        pytest.param("rapid_review", "The\u202e injuries\x00 are\u200b unexplained\x07 and serious.",
                     "Serious harm:\ufeff fractures\x1b needing surgery.", None, (RR, REASON, BASIS, None),
                     id="control bidi and zero width characters are removed"),
    ],
)
def test_a_valid_ballot_is_accepted_and_cleaned(choice, rationale, basis, question, expected) -> None:  # noqa: ANN001
    assert ballot(choice, rationale, basis, question) == expected


@pytest.mark.parametrize(
    ("choice", "rationale", "basis", "question", "field"),
    [
        pytest.param(None, REASON, None, None, "choice", id="no choice is refused"),
        pytest.param("", REASON, None, None, "choice", id="an empty choice is refused"),
        pytest.param("maybe", REASON, None, None, "choice", id="an unknown choice is refused"),
        pytest.param("RAPID_REVIEW", REASON, BASIS, None, "choice", id="a choice in the wrong case is refused"),
        pytest.param("Rapid review", REASON, BASIS, None, "choice", id="a choice's title is not a choice"),
        pytest.param("escalation", None, None, None, "rationale", id="no rationale is refused"),
        pytest.param("escalation", "x" * (MIN_RATIONALE - 1), None, None, "rationale",
                     id="a rationale one character short is refused"),
        pytest.param("escalation", " " * 40, None, None, "rationale", id="a rationale of spaces is refused"),
        pytest.param("escalation", "short\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b"
                     "\u200b\u200b\u200b\u200b\u200b\u200b", None, None, "rationale",
                     id="zero width characters do not count towards the rationale"),
        pytest.param("escalation", "y" * (LONG_TEXT + 1), None, None, "rationale",
                     id="an over long rationale is refused"),
        pytest.param("rapid_review", REASON, None, None, "serious_harm_basis",
                     id="a rapid review without a serious harm basis is refused"),
        pytest.param("rapid_review", REASON, "   ", None, "serious_harm_basis",
                     id="a rapid review with a blank serious harm basis is refused"),
        pytest.param("rapid_review", REASON, "b" * (MIN_RATIONALE - 1), None, "serious_harm_basis",
                     id="a rapid review with a too short serious harm basis is refused"),
        pytest.param("rapid_review", REASON, "b" * (LONG_TEXT + 1), None, "serious_harm_basis",
                     id="an over long serious harm basis is refused"),
        pytest.param("queries", REASON, None, None, "question", id="queries without a question is refused"),
        pytest.param("queries", REASON, None, "q" * (MIN_QUESTION - 1), "question",
                     id="queries with a too short question is refused"),
        pytest.param("queries", REASON, None, "q" * (LONG_TEXT + 1), "question",
                     id="an over long question is refused"),
    ],
)
def test_an_invalid_ballot_is_refused_naming_the_field(choice, rationale, basis, question, field) -> None:  # noqa: ANN001
    with pytest.raises(BallotError) as refused:
        ballot(choice, rationale, basis, question)
    assert refused.value.field == field
    assert str(refused.value)  # a message for the voter


def test_the_rationale_is_checked_before_the_serious_harm_basis() -> None:
    with pytest.raises(BallotError) as refused:
        ballot("rapid_review", "too short", None, None)
    assert refused.value.field == "rationale"


# ---- partner_for: which partner a member votes for ------------------------------------------------


@pytest.mark.parametrize("partner", list(Partner))
def test_a_member_of_one_partner_votes_for_that_partner(partner: Partner) -> None:
    assert partner_for(frozenset({partner})) is partner


@pytest.mark.parametrize(
    "partners",
    [
        pytest.param(frozenset(), id="someone who is no partner's panel member is refused"),
        pytest.param(frozenset({LA, POLICE}), id="someone listed for two partners is refused"),
        pytest.param(frozenset(Partner), id="someone listed for all three partners is refused"),
    ],
)
def test_a_member_who_is_not_exactly_one_partners_cannot_vote(partners: frozenset[Partner]) -> None:
    with pytest.raises(BallotError) as refused:
        partner_for(partners)
    assert refused.value.field is None


# ---- decide: has the panel decided? ---------------------------------------------------------------


@pytest.mark.parametrize("rule", list(DecisionRule))
@pytest.mark.parametrize("outcome", [RR, PR, ESC, NFA])
def test_three_partners_choosing_the_same_outcome_decide_it(outcome: VoteChoice, rule: DecisionRule) -> None:
    decision = decide(panel(outcome, outcome, outcome), rule, NOW)
    assert decision == Decision(outcome=outcome, decided_at=NOW, rule=rule, by_local_authority=False,
                                votes=[vote(LA, outcome), vote(POLICE, outcome), vote(HEALTH, outcome)])


def test_the_decision_lists_the_votes_in_partner_order_whatever_order_they_came_in() -> None:
    votes = {HEALTH: vote(HEALTH, PR), LA: vote(LA, PR), POLICE: vote(POLICE, PR)}
    decision = decide(votes, UNANIMOUS, NOW)
    assert decision is not None
    assert [v.partner for v in decision.votes] == [LA, POLICE, HEALTH]


@pytest.mark.parametrize(
    ("la", "police", "health"),
    [
        pytest.param(RR, RR, PR, id="health differs"),
        pytest.param(RR, PR, RR, id="police differs"),
        pytest.param(PR, RR, RR, id="the local authority differs"),
        pytest.param(ESC, ESC, NFA, id="two escalate and one says no further action"),
        pytest.param(RR, RR, Q, id="two agree and one has a query"),
        pytest.param(RR, PR, ESC, id="all three differ"),
    ],
)
def test_under_the_unanimous_rule_any_difference_means_no_decision(la, police, health) -> None:  # noqa: ANN001
    assert decide(panel(la, police, health), UNANIMOUS, NOW) is None


@pytest.mark.parametrize("rule", list(DecisionRule))
def test_three_queries_back_to_the_referrer_never_decide(rule: DecisionRule) -> None:
    assert decide(panel(Q, Q, Q), rule, NOW) is None


@pytest.mark.parametrize("rule", list(DecisionRule))
@pytest.mark.parametrize(
    ("la", "police", "health"),
    [
        pytest.param(None, None, None, id="nobody has voted"),
        pytest.param(RR, None, None, id="only the local authority has voted"),
        pytest.param(RR, RR, None, id="two agree and health has not voted"),
        pytest.param(None, PR, PR, id="two agree and the local authority has not voted"),
        pytest.param(ESC, None, NFA, id="two disagree and police has not voted"),
    ],
)
def test_fewer_than_three_votes_never_decide(la, police, health, rule: DecisionRule) -> None:  # noqa: ANN001
    assert decide(panel(la, police, health), rule, NOW) is None


@pytest.mark.parametrize(
    ("la", "police", "health"),
    [
        pytest.param(RR, PR, PR, id="the local authority against the other two"),
        pytest.param(PR, RR, ESC, id="all three differ"),
        pytest.param(NFA, NFA, RR, id="the local authority with police against health"),
        pytest.param(ESC, Q, Q, id="the others have queries and the local authority still decides"),
    ],
)
def test_when_the_local_authority_decides_and_all_three_disagree_its_choice_is_the_decision(
    la, police, health  # noqa: ANN001
) -> None:
    decision = decide(panel(la, police, health), LA_DECIDES, NOW)
    assert decision is not None
    assert decision.outcome is la
    assert decision.by_local_authority is True
    assert decision.rule is LA_DECIDES
    assert decision.decided_at == NOW
    assert [(v.partner, v.choice) for v in decision.votes] == [(LA, la), (POLICE, police), (HEALTH, health)]


@pytest.mark.parametrize(
    ("police", "health"),
    [
        pytest.param(RR, RR, id="the other two agree"),
        pytest.param(RR, PR, id="the other two disagree"),
        pytest.param(Q, RR, id="police also has a query"),
    ],
)
def test_when_the_local_authority_has_a_query_there_is_no_decision(police, health) -> None:  # noqa: ANN001
    assert decide(panel(Q, police, health), LA_DECIDES, NOW) is None


# ---- disagreement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("la", "police", "health", "expected"),
    [
        pytest.param(None, None, None, False, id="no votes are no disagreement"),
        pytest.param(RR, None, None, False, id="one vote is no disagreement"),
        pytest.param(RR, RR, RR, False, id="three alike are no disagreement"),
        pytest.param(RR, PR, None, True, id="two different pathways are a disagreement"),
        pytest.param(RR, RR, ESC, True, id="one different pathway is a disagreement"),
        pytest.param(RR, Q, None, False, id="a query beside a pathway is no disagreement"),
        pytest.param(RR, RR, Q, False, id="a query beside two alike is no disagreement"),
        pytest.param(Q, Q, Q, False, id="queries alone are no disagreement"),
        pytest.param(Q, PR, NFA, True, id="a query does not hide a disagreement between the others"),
    ],
)
def test_disagreement_is_about_pathways_and_ignores_queries(la, police, health, expected: bool) -> None:  # noqa: ANN001
    assert disagreement(panel(la, police, health)) is expected
