"""Panel votes at the same moment, through the real use case and the real store.

`cast_vote` runs in one transaction that first takes the case row (UPDATE … version+1),
then reads the round's votes, saves, decides and records at most one decision. These
tests vote at once, in one process and (with two `Database` stacks) in two, and count
what the database holds afterwards with plain SQL. They run on SQLite and PostgreSQL.
The use-case races have no Teams edge; the last test runs the race through each edge's
`/api/messages`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.clock import FixedClock
from bot.adapters.db import schema as t
from bot.adapters.db.database import Database
from bot.adapters.meetings import OfflineMeetingProvider
from bot.app import build_services, sql_stores
from bot.domain.case import Actor, CaseStatus
from bot.domain.partnership import PartnershipConfig
from bot.domain.referral import FormContext, Referral, Section
from bot.services.channels import seed_members_from_config
from bot.services.panel import cast_vote
from bot.services.referrals import submit_referral
from bot.services.refusals import PanelRefused
from bot.settings import DEFAULT_PARTNERSHIP_FILE, load_partnership
from cards.referral_form import answers_from_raw
from scheduler.profiles import load_profile
from tests.support import activities as A
from tests.support.fakes import RecordingNotifier
from tests.support.harness import VALID

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
ROUNDS = 10


def actor(person: A.Person) -> Actor:
    return Actor(aad_object_id=person.aad, name=person.name)


RILEY, LAURA, DAN, NINA, DEE = (actor(p) for p in (A.RILEY, A.LAURA, A.DAN, A.NINA, A.DEE))

RATIONALE = "Unexplained fractures in a child of this age; abuse is suspected."
BASIS = "Serious harm: fractures needing surgery, and long-term impairment is likely."


@pytest.fixture(scope="module")
def partnership() -> PartnershipConfig:
    return load_partnership(DEFAULT_PARTNERSHIP_FILE)


@pytest.fixture(scope="module")
def referral(partnership: PartnershipConfig) -> Referral:
    """The harness's VALID answers, shaped as the dialog shapes them and validated as it does."""
    sections = {"referrer": Section.REFERRER, "pathway": Section.PATHWAY, "incident": Section.INCIDENT,
                "children": Section.CHILDREN, "views": Section.VIEWS}
    data: dict[str, Any] = {key: answers_from_raw(section, VALID[key], 1) for key, section in sections.items()}
    data["declaration"] = {"senior_manager_reviewed": "true"}
    context = FormContext(today=NOW.date(), agencies=tuple(partnership.agencies),
                          incident_date=date.fromisoformat(VALID["incident"]["incident_date"]))
    return Referral.model_validate(data, context=context)


class Process:
    """One bot process: its own engine, repository, panel store and service context, as bot/app.py builds them."""

    def __init__(self, url: str, partnership: PartnershipConfig) -> None:
        self.db = Database(url)
        self.stores = sql_stores(self.db)
        self.ctx = build_services(self.stores, partnership, FixedClock(NOW), RecordingNotifier(),
                                  profile=load_profile("national_minimum"), meetings=OfflineMeetingProvider())

    async def vote(self, who: Actor, reference: str, choice: str, **extra: Any) -> tuple[Any, str]:
        case, message, _view = await cast_vote(
            self.ctx, who, reference, choice=choice, rationale=RATIONALE,
            serious_harm_basis=BASIS if choice == "rapid_review" else None,
            question=extra.get("question"), card_round=extra.get("card_round"),
        )
        return case, message


async def _start(url: str, partnership: PartnershipConfig, count: int) -> list[Process]:
    processes = [Process(url, partnership) for _ in range(count)]
    await processes[0].db.migrate()
    await seed_members_from_config(processes[0].ctx)
    return processes


@pytest.fixture
async def processes(partnership: PartnershipConfig):
    made: list[Process] = []

    async def start(url: str, count: int = 1) -> list[Process]:
        made.extend(await _start(url, partnership, count))
        return made[-count:]

    yield start
    for process in made:
        await process.db.dispose()


async def _submit(process: Process, referral: Referral, draft: str) -> tuple[str, str]:
    submitted = await submit_referral(process.ctx, RILEY, draft, referral)
    assert submitted.created
    return submitted.case.id, submitted.case.reference


async def _count(process: Process, table: Any, *where: Any) -> int:
    async with process.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def _events(process: Process, case_id: str, kind: str) -> list[dict[str, Any]]:
    async with process.db.read() as conn:
        rows = await conn.execute(
            select(t.events.c.detail, t.events.c.actor_aad_id)
            .where(t.events.c.case_id == case_id, t.events.c.kind == kind).order_by(t.events.c.id)
        )
        return [{**r.detail, "actor": r.actor_aad_id} for r in rows]


async def _case_row(process: Process, case_id: str) -> Any:
    """The case row, its decision opened (it holds the votes' rationales: sealed at rest)."""
    async with process.db.read() as conn:
        row = (await conn.execute(select(t.cases).where(t.cases.c.id == case_id))).one()
        decision = await process.db.keyring.open_json(conn, case_id, "cases.decision", row.decision)
    return SimpleNamespace(**{**row._asdict(), "decision": decision})


async def _snapshot(process: Process, case_id: str) -> dict[str, Any]:
    """Everything a vote could change, for a before/after comparison."""
    async with process.db.read() as conn:
        case = (await conn.execute(
            select(t.cases.c.status, t.cases.c.version, t.cases.c.vote_round, t.cases.c.decision,
                   t.cases.c.decided_at, t.cases.c.updated_at).where(t.cases.c.id == case_id)
        )).one()
        votes = (await conn.execute(select(t.votes).where(t.votes.c.case_id == case_id).order_by(t.votes.c.id))).all()
        events = (await conn.execute(select(t.events.c.id, t.events.c.kind).order_by(t.events.c.id))).all()
        outbox = (await conn.execute(select(t.outbox.c.key, t.outbox.c.status).order_by(t.outbox.c.id))).all()
        queries = (await conn.execute(select(t.queries).where(t.queries.c.case_id == case_id))).all()
    return {"case": tuple(case), "votes": [tuple(v) for v in votes], "events": [tuple(e) for e in events],
            "outbox": [tuple(o) for o in outbox], "queries": [tuple(q) for q in queries]}


async def _assert_decided_once(process: Process, case_id: str, outcome: str, votes: int = 3) -> None:
    decided = await _events(process, case_id, "panel_decided")
    assert len(decided) == 1, decided
    assert decided[0]["outcome"] == outcome
    assert await _count(process, t.votes, t.votes.c.case_id == case_id) == votes
    assert await _count(process, t.outbox, t.outbox.c.key == f"decision:{case_id}") == 1
    row = await _case_row(process, case_id)
    assert row.status == CaseStatus.DECIDED.value
    assert row.decision["outcome"] == outcome
    assert [v["partner"] for v in row.decision["votes"]] == ["local_authority", "police", "health"]


# ---- three partners at once -------------------------------------------------------------------------


async def test_three_partners_voting_at_the_same_moment_decide_exactly_once(database_url, processes, referral):
    (one,) = await processes(database_url)
    for round_ in range(ROUNDS):
        case_id, reference = await _submit(one, referral, f"draft-{round_}")
        results = await asyncio.gather(*(one.vote(who, reference, "rapid_review") for who in (LAURA, DAN, NINA)))
        messages = [message for _, message in results]
        assert sum("has decided" in m for m in messages) == 1, (round_, messages)
        assert len(await _events(one, case_id, "vote_cast")) == 3
        await _assert_decided_once(one, case_id, "rapid_review")
    assert await _count(one, t.events, t.events.c.kind == "panel_decided") == ROUNDS


async def test_two_processes_voting_at_the_same_moment_decide_exactly_once(database_url, processes, referral):
    """Two Database/store stacks share the database, like two bot processes.
    On PostgreSQL only the row lock taken by lock_case orders them; on SQLite the file lock does."""
    a, b = await processes(database_url, 2)
    for round_ in range(ROUNDS):
        case_id, reference = await _submit(a if round_ % 2 else b, referral, f"draft-{round_}")
        voters = [(a, LAURA), (b, DAN), (a if round_ % 2 else b, NINA)]
        results = await asyncio.gather(*(p.vote(who, reference, "rapid_review") for p, who in voters))
        assert sum("has decided" in message for _, message in results) == 1, round_
        assert len(await _events(b, case_id, "vote_cast")) == 3
        await _assert_decided_once(b, case_id, "rapid_review")


async def test_a_changed_vote_racing_the_deciding_votes_either_counts_or_is_refused_never_both(
    database_url, processes, referral
):
    """Dee (police deputy) changes police's vote while the other three are deciding: whatever the
    order, the stored votes, the decision and the events tell one consistent story."""
    a, b = await processes(database_url, 2)
    for round_ in range(ROUNDS):
        case_id, reference = await _submit(a, referral, f"draft-{round_}")
        results = await asyncio.gather(
            a.vote(LAURA, reference, "rapid_review"), b.vote(DAN, reference, "rapid_review"),
            a.vote(NINA, reference, "rapid_review"), b.vote(DEE, reference, "practice_review"),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, PanelRefused) and "already decided" in str(r) for r in refused), refused
        cast = await _events(a, case_id, "vote_cast")
        decided = await _events(a, case_id, "panel_decided")
        row = await _case_row(a, case_id)
        assert len(cast) == 4 - len(refused)
        assert len(decided) == (1 if row.status == CaseStatus.DECIDED.value else 0)
        assert await _count(a, t.outbox, t.outbox.c.key == f"decision:{case_id}") == len(decided)
        assert await _count(a, t.votes, t.votes.c.case_id == case_id) == 3
        async with a.db.read() as conn:
            stored = {r.partner: r.choice for r in await conn.execute(
                select(t.votes.c.partner, t.votes.c.choice).where(t.votes.c.case_id == case_id))}
        if refused:  # Dee came after the decision: it stands on the three rapid review votes
            assert len(refused) == 1 and decided
            assert set(stored.values()) == {"rapid_review"}
        if decided:
            assert {v["partner"]: v["choice"] for v in row.decision["votes"]} == stored
            assert decided[0]["outcome"] == "rapid_review"
        else:  # Dee's vote landed after Dan's and before the last one: police disagrees
            assert stored["police"] == "practice_review"
            assert row.status == CaseStatus.REFERRED.value


# ---- one partner, two members at once --------------------------------------------------------------


async def test_two_members_of_one_partner_voting_at_once_leave_one_vote_the_later_one(
    database_url, processes, referral
):
    """Dan and his deputy Dee vote for police at the same moment with different choices."""
    a, b = await processes(database_url, 2)
    for round_ in range(ROUNDS // 2):
        case_id, reference = await _submit(a, referral, f"draft-{round_}")
        await asyncio.gather(a.vote(DAN, reference, "rapid_review"), b.vote(DEE, reference, "practice_review"))
        cast = await _events(a, case_id, "vote_cast")
        assert len(cast) == 2
        first, second = cast
        assert {first["actor"], second["actor"]} == {DAN.aad_object_id, DEE.aad_object_id}
        assert first["partner"] == second["partner"] == "police"
        assert first["before"] is None
        assert second["before"] == first["after"] != second["after"]
        assert first["replaced_vote_of"] is None
        assert second["replaced_vote_of"] == first["actor"]  # replaced another member's vote for the partner
        assert second["cast_by"] == second["actor"]
        async with a.db.read() as conn:
            rows = (await conn.execute(select(t.votes).where(t.votes.c.case_id == case_id))).all()
        assert len(rows) == 1
        (police,) = rows
        assert police.partner == "police"
        assert police.choice == second["after"]
        assert police.voter_aad_id == second["actor"]
        assert (police.serious_harm_basis is not None) is (police.choice == "rapid_review")
        assert (await _case_row(a, case_id)).status == CaseStatus.REFERRED.value
        assert await _count(a, t.events, t.events.c.case_id == case_id, t.events.c.kind == "panel_decided") == 0


# ---- after the decision -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "choice"),
    [
        pytest.param(LAURA, "practice_review", id="a partner changing its mind"),
        pytest.param(DEE, "no_further_action", id="a deputy of a partner that has voted"),
        pytest.param(NINA, "rapid_review", id="the same vote again"),
        pytest.param(LAURA, "queries", id="a query"),
    ],
)
async def test_a_vote_after_the_decision_is_refused_and_changes_nothing(
    database_url, processes, referral, who: Actor, choice: str
):
    (one,) = await processes(database_url)
    case_id, reference = await _submit(one, referral, "draft-1")
    for voter in (LAURA, DAN, NINA):
        await one.vote(voter, reference, "rapid_review")
    await _assert_decided_once(one, case_id, "rapid_review")
    before = await _snapshot(one, case_id)
    with pytest.raises(PanelRefused, match="already decided"):
        await one.vote(who, reference, choice, question="Was the GP told of the earlier bruising?")
    assert await _snapshot(one, case_id) == before


# ---- at once through /api/messages, on either Teams edge ------------------------------------------


async def test_three_partners_pressing_vote_at_once_over_http_decide_once_on_either_edge(tmp_path, database_url,
                                                                                          edge):
    """The same race through the whole HTTP path of each edge (authentication, de-duplication,
    the turn, the invoke answer) and the outbox's sends through that edge's SDK: one decision,
    one decision card to the referrer, and the channel card brought up to date once settled."""
    from tests.integration.test_panel_http import HEALTH_WHY, LA_WHY, POLICE_WHY, VOTE, ballot, open_card, refer
    from tests.support.harness import BotHarness, find_action

    async with BotHarness(tmp_path, database_url=database_url) as h:
        await refer(h)
        await h.serve_on(edge)
        voters = [(A.LAURA, LA_WHY), (A.DAN, POLICE_WHY), (A.NINA, HEALTH_WHY)]
        opened = [find_action(await open_card(h, person), VOTE) for person, _ in voters]
        bodies = await asyncio.gather(*(h.press(person, VOTE, {**data, **ballot("rapid_review", why, BASIS)},
                                                channel=True) for (person, why), data in zip(voters, opened, strict=True)))
        assert all(body["statusCode"] == 200 for body in bodies), bodies
        async with h.c.db.read() as conn:
            case_id = (await conn.execute(select(t.cases.c.id))).scalar_one()
            decided = (await conn.execute(select(func.count()).select_from(t.events).where(
                t.events.c.case_id == case_id, t.events.c.kind == "panel_decided"))).scalar_one()
        assert decided == 1
        await h.flush()
        decisions = [s for s in h.connector.activities_to(A.RILEY.chat) if "The panel has decided" in str(s.activity)]
        assert len(decisions) == 1
        assert h.connector.updates(), "the channel card was brought up to date"
