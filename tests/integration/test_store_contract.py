"""The in-memory stores (tests/support/memory_stores.py) against the SQL stores: the same
small behaviour checks on both, so the fakes the service tests run on cannot drift from
what the database does. Memory, SQLite and (where it runs) PostgreSQL."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.db.database import Database
from bot.app import sql_stores
from bot.domain.case import Actor
from bot.domain.events import Event, EventKind
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.partnership import Partner, Role
from bot.domain.timeline import Anchor, Deadline, Owner
from bot.domain.votes import Vote, VoteChoice
from bot.services.ports import MeetingRecord, MemberRecord, NewCase, OutboxMessage, ReviewRecord
from bot.services.refusals import IllegalMove
from tests.conftest import make_referral
from tests.support.memory_stores import memory_stores

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
CHAIR = Actor(aad_object_id="00000000-0000-0000-0000-00000000a003", name="Chris Chair")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def stores(request: pytest.FixtureRequest, tmp_path):  # noqa: ANN001, ANN201
    if request.param == "memory":
        yield memory_stores(random.Random(7))
        return
    url = f"sqlite:///{tmp_path / 'contract.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    db = Database(url)
    await db.migrate()
    try:
        yield sql_stores(db, rng=random.Random(7))
    finally:
        await db.dispose()


def _new_case(draft_id: str | None = None, year: int = 2026) -> tuple[NewCase, Event]:
    referral = make_referral()
    new = NewCase(
        id=str(uuid.uuid4()), draft_id=draft_id or str(uuid.uuid4()), year=year,
        case={"status": "referred", "referrer_aad_id": "00000000-0000-0000-0000-00000000a001",
              "referrer_name": referral.referrer.name, "referring_agency": referral.referrer.agency,
              "pathway_sought": "A", "incident_kind": "serious_harm", "incident_date": referral.incident.incident_date,
              "aware_date": None, "likely_notifiable": True, "received_at": NOW},
        referral=referral.model_dump(mode="json"),
    )
    event = Event(kind=EventKind.REFERRAL_SUBMITTED, at=NOW, actor_aad_id="a", actor_name="Riley")
    return new, event


async def _create(stores, draft_id: str | None = None, **kw):  # noqa: ANN001, ANN202
    new, event = _new_case(draft_id)
    summary, created = await stores.cases.create_case(new, event, kw.get("outbox", ()))
    return summary, created


async def test_create_case_and_read_it_back(stores) -> None:  # noqa: ANN001
    first, created = await _create(stores, outbox=[OutboxMessage(key="k1", kind="panel_card")])
    second, _ = await _create(stores)
    assert created
    assert (first.reference, second.reference) == ("RR-2026-0001", "RR-2026-0002")
    assert first.pseudonym != second.pseudonym and first.pseudonym.startswith("Child ")
    case = await stores.cases.get_case(first.reference)
    assert case is not None and case.summary == first
    assert case.version == 1 and case.summary.status is CaseStatus.REFERRED
    assert case.referral.children.children[0].name == "Test Child"
    assert case.summary.received_at == NOW and case.summary.received_at.utcoffset() == timedelta(0)
    assert (await stores.cases.get_case_by_id(first.id)) == case
    assert await stores.cases.get_case("RR-2026-0099") is None
    events = await stores.cases.events_for_case(first.id)
    assert [e.kind for e in events] == [EventKind.REFERRAL_SUBMITTED] and events[0].case_id == first.id
    assert await stores.outbox.count("pending") == 1


async def test_the_same_draft_submitted_twice_is_one_case(stores) -> None:  # noqa: ANN001
    first, created = await _create(stores, "draft-1")
    again, created_again = await _create(stores, "draft-1")
    assert created and not created_again and again == first
    assert (await stores.cases.summary_by_draft("draft-1")) == first


async def test_outbox_enqueue_is_idempotent_by_key(stores) -> None:  # noqa: ANN001
    message = OutboxMessage(key="panel_card:x:post", kind="panel_card", case_id=None, payload={"n": 1})
    await stores.outbox.enqueue([message, message], NOW)
    await stores.outbox.enqueue([OutboxMessage(key="panel_card:x:post", kind="panel_card", payload={"n": 2})], NOW)
    assert await stores.outbox.count("pending") == 1
    assert await stores.outbox.enqueue_claimed(message, NOW, 60) is None
    claimed_new = await stores.outbox.enqueue_claimed(OutboxMessage(key="other", kind="panel_card"), NOW, 60)
    assert claimed_new is not None and claimed_new.attempts == 1
    items = await stores.outbox.claim(NOW, 60, 10)  # the leased one is not due again until its lease runs out
    assert [(i.key, i.payload, i.attempts) for i in items] == [("panel_card:x:post", {"n": 1}, 1)]
    assert await stores.outbox.claim(NOW, 60, 10) == []
    await stores.outbox.done(items[0].id, NOW)
    assert await stores.outbox.count("sent") == 1
    later = await stores.outbox.claim(NOW + timedelta(seconds=61), 60, 10)
    assert [i.key for i in later] == ["other"] and later[0].attempts == 2


async def test_a_legal_move_writes_status_event_and_outbox(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    source = await stores.cases.move(summary.id, CaseStatus.DECIDED, Mover.BOT, None, NOW,
                                     detail={"outcome": "rapid_review"},
                                     outbox=[OutboxMessage(key="after-move", kind="panel_card")])
    assert source is CaseStatus.REFERRED
    case = await stores.cases.get_case_by_id(summary.id)
    assert case is not None and case.summary.status is CaseStatus.DECIDED and case.version == 2
    moved = [e for e in await stores.cases.events_for_case(summary.id) if e.kind is EventKind.CASE_MOVED]
    assert len(moved) == 1
    assert moved[0].detail["from"] == "referred" and moved[0].detail["to"] == "decided"
    assert moved[0].detail["outcome"] == "rapid_review" and moved[0].actor_name == "Rapid Review bot"
    assert await stores.outbox.count("pending") == 1


@pytest.mark.parametrize(("target", "by", "expect"), [
    (CaseStatus.MEETING_HELD, Mover.CHAIR, None),  # not a move from referred
    (CaseStatus.DECIDED, Mover.CHAIR, None),  # only the bot decides
    (CaseStatus.CLOSED, Mover.MANAGER, CaseStatus.DECIDED),  # the case is not where the caller thought
])
async def test_an_illegal_move_writes_nothing(stores, target, by, expect) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    with pytest.raises(IllegalMove):
        await stores.cases.move(summary.id, target, by, CHAIR, NOW, expect=expect,
                                outbox=[OutboxMessage(key="never", kind="panel_card")])
    case = await stores.cases.get_case_by_id(summary.id)
    assert case is not None and case.summary.status is CaseStatus.REFERRED and case.version == 1
    assert [e.kind for e in await stores.cases.events_for_case(summary.id)] == [EventKind.REFERRAL_SUBMITTED]
    assert await stores.outbox.count("pending") == 0
    with pytest.raises(IllegalMove):
        await stores.cases.move("no-such-case", CaseStatus.DECIDED, Mover.BOT, None, NOW)


async def test_closing_frees_the_pseudonym_and_closes_the_case(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    await stores.cases.move(summary.id, CaseStatus.CLOSED, Mover.MANAGER, CHAIR, NOW)
    case = await stores.cases.get_case_by_id(summary.id)
    assert case is not None and not case.summary.status.is_open
    rows, total = await stores.deadlines.status_rows(10)
    assert (rows, total) == ([], 0)


async def test_roles_of(stores) -> None:  # noqa: ANN001
    records = [
        MemberRecord(role=Role.PANEL, name="Dan Police", partner=Partner.POLICE, aad_object_id="aaa-1",
                     upn="dan@example.org", organisation="Example Police"),
        MemberRecord(role=Role.CHAIR, name="Dan Police", aad_object_id="aaa-1", upn="dan@example.org"),
        MemberRecord(role=Role.MANAGER, name="Pat", aad_object_id="aaa-2", upn="pat@example.org"),
        MemberRecord(role=Role.PANEL, name="Uma Upn", partner=Partner.HEALTH, upn="uma@example.org"),
    ]
    assert await stores.roster.seed_members(records, NOW) == 4
    assert await stores.roster.seed_members(records, NOW) == 0
    dan = await stores.roster.roles_of("AAA-1")  # looked up case-insensitively
    assert dan.panel_partners == frozenset({Partner.POLICE}) and dan.chair and not dan.manager
    assert dan.organisations == {Partner.POLICE: "Example Police"} and dan.may_see_identifiers
    nobody = await stores.roster.roles_of("zzz")
    assert not nobody.panel_partners and not nobody.chair and not nobody.manager and not nobody.may_see_identifiers
    assert await stores.roster.has_unresolved_upns()
    assert await stores.roster.bind_upn("UMA@example.org", "BBB-3", NOW)
    assert (await stores.roster.roles_of("bbb-3")).panel_partners == frozenset({Partner.HEALTH})
    assert not await stores.roster.has_unresolved_upns()
    assert await stores.roster.remove_member("aaa-1", NOW) == 2
    assert (await stores.roster.roles_of("aaa-1")) == nobody.__class__(aad_object_id="aaa-1")
    await stores.roster.seed_members(records, NOW)  # a removal in Teams outlives the file
    assert (await stores.roster.roles_of("aaa-1")).may_see_identifiers is False
    assert [m.name for m in await stores.roster.members(Role.MANAGER)] == ["Pat"]


async def test_panel_lock_bumps_the_version_and_decision_is_recorded_once(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    vote = Vote(partner=Partner.POLICE, choice=VoteChoice.QUERIES, rationale="r" * 20, question="Why was it late?",
                voter_aad_id="aaa-1", voter_name="Dan", cast_at=NOW)
    async with stores.uow.begin() as tx:
        locked = await tx.panel.lock_case(summary.reference, NOW)
        assert locked is not None and locked.version == 2 and locked.vote_round == 1
        assert await tx.panel.lock_case("RR-2026-0404", NOW) is None
        await tx.panel.save_vote(summary.id, 1, vote, replace=False)
        query_id = await tx.panel.add_query(summary.id, 1, vote, NOW)
    state = await stores.panel.panel_state(summary.id)
    assert state.round == 1 and state.version == 2 and state.decision is None
    assert state.votes[Partner.POLICE].choice is VoteChoice.QUERIES
    assert [(q.id, q.status, q.question) for q in state.queries] == [(query_id, "open", "Why was it late?")]
    async with stores.uow.begin() as tx:
        await tx.panel.close_query(query_id, "answered", NOW, answer="Because.")
        assert await tx.panel.new_round(summary.id) == 2
    state = await stores.panel.panel_state(summary.id)
    assert state.round == 2 and state.votes == {} and state.queries[0].answer == "Because."
    assert (await stores.panel.panel_state("nope")) == (1, {}, None, [], 0)


async def test_a_unit_of_work_rolls_back_everything_on_an_exception(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    with pytest.raises(RuntimeError, match="boom"):
        async with stores.uow.begin() as tx:
            await tx.meetings.save(MeetingRecord(case_id=summary.id, status="booked", attempt=1, transaction_id="t",
                                                 provider="offline", start_at=NOW), NOW)
            await tx.deadlines.set_anchor(summary.id, Anchor.MEETING, NOW)
            await tx.cases.move(summary.id, CaseStatus.DECIDED, Mover.BOT, None, NOW)
            await tx.outbox.enqueue([OutboxMessage(key="in-tx", kind="meeting_card")], NOW)
            raise RuntimeError("boom")
    assert await stores.meetings.get(summary.id) is None
    assert await stores.deadlines.anchors(summary.id) == {}
    case = await stores.cases.get_case_by_id(summary.id)
    assert case is not None and case.summary.status is CaseStatus.REFERRED and case.version == 1
    assert await stores.outbox.count("pending") == 0
    assert [e.kind for e in await stores.cases.events_for_case(summary.id)] == [EventKind.REFERRAL_SUBMITTED]


async def test_a_claim_of_addressed_messages_only_leaves_the_others_unleased(stores) -> None:  # noqa: ANN001
    await stores.outbox.enqueue([
        OutboxMessage(key="thread", kind="reminder", case_id=None, payload={"in_thread": True}),
        OutboxMessage(key="person", kind="reminder", case_id=None, payload={"to": "aad-1"}),
        OutboxMessage(key="empty", kind="reminder", case_id=None, payload={"to": None})], NOW)
    assert [i.key for i in await stores.outbox.claim(NOW, 60, 10, addressed_only=True)] == ["person"]
    assert [i.key for i in await stores.outbox.claim(NOW, 60, 10)] == ["thread", "empty"]


async def test_meeting_and_anchor_instants_come_back_in_utc(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    start = datetime(2026, 12, 2, 10, 0, tzinfo=LONDON)
    record = MeetingRecord(case_id=summary.id, status="booked", attempt=1, transaction_id="t", provider="offline",
                           start_at=start, end_at=start + timedelta(hours=2),
                           attendees=[{"name": "Dan", "email": "dan@example.org"}], outcome={"x": "yes"})
    await stores.meetings.save(record, NOW)
    back = await stores.meetings.get(summary.id)
    assert back is not None and back.start_at == start and back.start_at.utcoffset() == timedelta(0)
    assert back.attendees == record.attendees and back.outcome == {"x": "yes"} and back.options == []
    await stores.deadlines.set_anchor(summary.id, Anchor.MEETING, start)
    anchors = await stores.deadlines.anchors(summary.id)
    assert anchors == {Anchor.MEETING: start} and anchors[Anchor.MEETING].utcoffset() == timedelta(0)
    await stores.deadlines.clear_anchor(summary.id, Anchor.MEETING)
    assert await stores.deadlines.anchors(summary.id) == {}


async def test_steps_read_together_are_the_steps_read_one_by_one(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    due = [NOW + timedelta(days=d) for d in (1, 2, 3)]
    await stores.deadlines.sync(summary.id, [
        Deadline(step_id=f"step_{n}", label=f"Step {n}", owner=Owner.PARTNERSHIP_MANAGER, anchor=Anchor.PANEL_DECISION,
                 anchor_at=NOW, due_at=at, source="a test") for n, at in enumerate(due)], {}, keep_open=True)
    ids = [row.id for row in await stores.deadlines.deadlines(summary.id)]
    assert len(ids) == 3
    together = await stores.deadlines.deadlines_by_id([*ids, ids[0], 999_999])  # a repeat, and one that is not there
    assert together == {i: await stores.deadlines.deadline(i) for i in ids}
    assert await stores.deadlines.deadlines_by_id([]) == {}


async def test_agency_requests_are_unique_per_agency(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    assert await stores.deadlines.add_agency_requests(summary.id, [("Police", "DI X"), ("Housing", None)], NOW) == 2
    assert await stores.deadlines.add_agency_requests(summary.id, [("Police", "DI Y")], NOW) == 0
    requests = await stores.deadlines.agency_requests(summary.id)
    assert [(r.agency, r.contact) for r in requests] == [("Police", "DI X"), ("Housing", None)]
    assert await stores.deadlines.mark_agency_returned(summary.id, requests[0].id, NOW, "Pat")
    assert not await stores.deadlines.mark_agency_returned(summary.id, requests[0].id, NOW, "Pat")
    assert not await stores.deadlines.mark_agency_returned("other-case", requests[1].id, NOW, "Pat")


async def test_the_review_its_entries_and_actions_read_back_and_a_done_action_stays_done(stores) -> None:  # noqa: ANN001
    summary, _ = await _create(stores)
    assert await stores.reviews.review(summary.id) is None
    record = ReviewRecord(case_id=summary.id, setup={"lead_reviewer": "Jo", "lines_of_enquiry": ["a", "b", "c"]},
                          agencies_asked=["Police"], learning="Shared chronologies", report_sent_on=None,
                          published_on=None, late_reason=None)
    await stores.reviews.save_review(record, NOW, "Pat")
    await stores.reviews.save_review(replace(record, report_sent_on=date(2027, 5, 1)), NOW, "Pat")
    found = await stores.reviews.review(summary.id)
    assert found is not None and found.setup == record.setup and found.learning == "Shared chronologies"
    assert found.report_sent_on == date(2027, 5, 1) and found.updated_by_name == "Pat"
    first = await stores.reviews.add_entry(summary.id, "agency_report", NOW, "Pat", agency="Police")
    second = await stores.reviews.add_entry(summary.id, "progress_check", NOW, "Pat", on_time=False, note="Late")
    entries = await stores.reviews.entries(summary.id)
    assert [(e.id, e.kind, e.agency, e.on_time, e.note) for e in entries] == [
        (first, "agency_report", "Police", None, None), (second, "progress_check", None, False, "Late")]
    action_id = await stores.reviews.add_action(summary.id, "meeting", "Flag repeat injuries", "Police", "aad-dan",
                                                "Dan", date(2026, 12, 9), NOW, "Chris")
    assert await stores.reviews.action_done(action_id, NOW, "Dan", "Checklist issued")
    assert not await stores.reviews.action_done(action_id, NOW, "Pat", "Again")  # done once, by its first evidence
    [action] = await stores.reviews.actions(summary.id)
    assert (action.status, action.evidence, action.done_by_name, action.description) == (
        "done", "Checklist issued", "Dan", "Flag repeat injuries")
    assert await stores.reviews.action(action_id) == action
    assert await stores.reviews.action(action_id + 100) is None


async def test_gather_takes_one_persons_due_reminders_once_and_the_same_set_again(stores) -> None:  # noqa: ANN001
    """A digest's lead takes the other due rows of its kind for the same person, and only rows no
    one else holds (or this process's own, not started); asked again, it returns the same set."""
    def row(n: int, to: str) -> OutboxMessage:
        return OutboxMessage(key=f"reminder:{n}:due:2026-11-25>{to}", kind="reminder", payload={"deadline_id": n,
                                                                                                  "to": to})

    await stores.outbox.enqueue([row(1, "alice"), row(2, "alice"), row(3, "bob"), row(4, "alice"),
                                 row(5, "alice")], NOW)
    lead, *claimed_too = await stores.outbox.claim(NOW, 60, 2)  # this process holds rows 1 and 2
    other = await stores.outbox.claim(NOW, 60, 3)  # another process holds rows 3 (Bob), 4 and 5
    assert [i.payload["deadline_id"] for i in other] == [3, 4, 5]
    await stores.outbox.retry(other[2].id, NOW, "429", False)  # row 5 let go: no one holds it

    gathered = await stores.outbox.gather(lead, "alice", NOW, 12, mine={claimed_too[0].id})
    assert [i.payload["deadline_id"] for i in gathered] == [1, 2, 5]  # not Bob's, not row 4 (held)
    again = await stores.outbox.gather(lead, "alice", NOW, 12, mine=set())
    assert [i.payload["deadline_id"] for i in again] == [1, 2, 5]
    assert await stores.outbox.claim(NOW + timedelta(seconds=61), 60, 10) != []  # 1 and the others' leases ran out
    assert await stores.outbox.count("gathered") == 2
    await stores.outbox.done_gathered([i.id for i in gathered[1:]], NOW)
    assert await stores.outbox.count("gathered") == 0

    # A lead whose delivery failed is retried with its own set: another lead never takes it.
    for done in (lead, *other):
        await stores.outbox.done(done.id, NOW)
    await stores.outbox.enqueue([row(6, "carol"), row(7, "carol"), row(8, "carol")], NOW)
    later = NOW + timedelta(seconds=200)
    first, *_ = await stores.outbox.claim(later, 60, 1)
    assert [i.payload["deadline_id"] for i in await stores.outbox.gather(first, "carol", later, 2)] == [6, 7]
    await stores.outbox.retry(first.id, later, "429", False)  # its send failed: due again, held by no one
    eighth = next(i for i in await stores.outbox.claim(later, 60, 10) if i.payload["deadline_id"] == 8)
    await stores.outbox.retry(first.id, later, "429", False)
    assert [i.payload["deadline_id"] for i in await stores.outbox.gather(eighth, "carol", later, 12)] == [8]
    again = await stores.outbox.claim(later, 60, 10)
    assert [i.payload["deadline_id"] for i in await stores.outbox.gather(again[0], "carol", later, 12)] == [6, 7]


async def test_a_retried_lead_waiting_first_does_not_make_the_next_digest_smaller(stores) -> None:  # noqa: ANN001
    """A digest whose send was refused (429) waits as the person's oldest row, carrying its own set;
    the next digest passes over it and is still full. A person with hundreds of reminders after
    downtime gets them in as few messages as possible: one more message than needed can cost
    Teams' 60-per-30-seconds window for their chat."""
    def row(n: int) -> OutboxMessage:
        return OutboxMessage(key=f"reminder:{n}:due:2026-11-25>dana", kind="reminder",
                             payload={"deadline_id": n, "to": "dana"})

    await stores.outbox.enqueue([row(n) for n in range(1, 31)], NOW)
    [refused] = await stores.outbox.claim(NOW, 60, 1)
    assert len(await stores.outbox.gather(refused, "dana", NOW, 4)) == 4
    await stores.outbox.retry(refused.id, NOW, "429", False)  # due again at once, ahead of every other row

    [lead] = [i for i in await stores.outbox.claim(NOW, 60, 2) if i.id != refused.id]
    await stores.outbox.retry(refused.id, NOW, "429", False)  # not yet taken up again: held by no one
    gathered = await stores.outbox.gather(lead, "dana", NOW, 12)
    assert len(gathered) == 12
    assert refused.id not in {i.id for i in gathered}
