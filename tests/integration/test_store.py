"""The SQL store on SQLite and on PostgreSQL: migrations, dialog-state storage (both SDKs') with
eTags, case numbering, pseudonyms, the outbox's leases and activity de-duplication."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botbuilder.dialogs import DialogInstance, DialogState
from microsoft_agents.hosting.core.state.agent_state import CachedAgentState
from microsoft_agents.hosting.dialogs import DialogInstance as AgentsInstance
from microsoft_agents.hosting.dialogs import DialogState as AgentsState
from sqlalchemy import insert, inspect, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.clock import FixedClock
from bot.adapters.db import schema as t
from bot.agents.storage import AgentsSqlStorage
from bot.app import Stores, sql_stores
from bot.domain.events import Event, EventKind
from bot.services.ports import NewCase, OutboxMessage
from bot.teams.storage import SqlStorage, StateConflict

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = "msteams/conversations/a:personal-riley/"


@pytest.fixture
def repo(db) -> Stores:
    return sql_stores(db, rng=random.Random(7))


@pytest.fixture
def storage(repo):
    return SqlStorage(repo.turns, FixedClock(NOW))


def new_case(referral, *, draft_id: str | None = None, year: int = 2026) -> tuple[NewCase, Event]:
    case_id = str(uuid.uuid4())
    new = NewCase(
        id=case_id,
        draft_id=draft_id or str(uuid.uuid4()),
        year=year,
        case={
            "status": "referred",
            "referrer_aad_id": "00000000-0000-0000-0000-00000000a001",
            "referrer_name": referral.referrer.name,
            "referring_agency": referral.referrer.agency,
            "pathway_sought": "A",
            "incident_kind": "serious_harm",
            "incident_date": referral.incident.incident_date,
            "aware_date": None,
            "likely_notifiable": True,
            "received_at": NOW,
        },
        referral=referral.model_dump(mode="json"),
    )
    event = Event(kind=EventKind.REFERRAL_SUBMITTED, at=NOW, actor_aad_id="a001", actor_name="Riley", detail={})
    return new, event


# ---- migrations -----------------------------------------------------------------------------


async def test_migrations_create_every_table_and_can_run_again(db):
    async with db.read() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert set(t.metadata.tables) <= tables
    assert "alembic_version" in tables
    await db.migrate()  # already at head: a no-op, not an error


# ---- SqlStorage (dialog state) --------------------------------------------------------------


async def test_storage_reads_nothing_for_unknown_keys(storage):
    assert await storage.read([KEY]) == {}
    assert await storage.read([]) == {}


async def test_storage_read_then_write_succeeds_and_changes_the_etag(storage):
    await storage.write({KEY: {"count": 1}})
    first = (await storage.read([KEY]))[KEY]
    assert first["count"] == 1 and first["e_tag"]
    old_etag = first["e_tag"]
    first["count"] = 2
    await storage.write({KEY: first})
    second = (await storage.read([KEY]))[KEY]
    assert second["count"] == 2
    assert second["e_tag"] != old_etag
    assert first["e_tag"] == second["e_tag"]  # the written item carries its new e_tag, ready for the next turn


async def test_a_stale_writer_gets_a_conflict_and_the_newer_state_is_kept(storage):
    await storage.write({KEY: {"who": "nobody"}})
    turn_a = (await storage.read([KEY]))[KEY]
    turn_b = (await storage.read([KEY]))[KEY]
    turn_a["who"] = "a"
    await storage.write({KEY: turn_a})
    turn_b["who"] = "b"
    with pytest.raises(StateConflict):
        await storage.write({KEY: turn_b})
    stored = (await storage.read([KEY]))[KEY]
    assert stored["who"] == "a"
    assert stored["e_tag"] == turn_a["e_tag"]


async def test_a_write_without_an_etag_only_creates(storage):
    await storage.write({KEY: {"v": 1}})
    with pytest.raises(StateConflict):
        await storage.write({KEY: {"v": 2}})
    with pytest.raises(StateConflict):
        await storage.write({KEY: {"v": 3, "e_tag": "*"}})
    assert (await storage.read([KEY]))[KEY]["v"] == 1


async def test_a_write_with_an_etag_for_a_missing_key_creates_it(storage):
    await storage.write({KEY: {"v": 1, "e_tag": "gone"}})
    assert (await storage.read([KEY]))[KEY]["v"] == 1


async def test_reads_return_copies(storage):
    await storage.write({KEY: {"nested": {"list": [1, 2]}, "n": 1}})
    first = (await storage.read([KEY]))[KEY]
    first["nested"]["list"].append(3)
    first["n"] = 99
    second = (await storage.read([KEY]))[KEY]
    assert second["nested"] == {"list": [1, 2]}
    assert second["n"] == 1


async def test_delete_removes_state(storage):
    await storage.write({KEY: {"v": 1}, KEY + "x": {"v": 2}})
    await storage.delete([KEY])
    assert set(await storage.read([KEY, KEY + "x"])) == {KEY + "x"}


async def test_dialog_state_round_trips(storage):
    inner = DialogInstance(id="ReferralDialog", state={"draft_id": "d-1", "raw": {"children": {"c1_name": "X"}},
                                                       "valid": ["referrer"], "children": 2, "editing": False})
    outer = DialogInstance(id="Outer", state={"n": 1.5, "none": None})
    await storage.write({KEY: {"DialogState": DialogState([inner, outer]), "other": [1, "two"]}})
    item = (await storage.read([KEY]))[KEY]
    state = item["DialogState"]
    assert isinstance(state, DialogState)
    assert [type(i) for i in state.dialog_stack] == [DialogInstance, DialogInstance]
    assert [i.id for i in state.dialog_stack] == ["ReferralDialog", "Outer"]
    assert state.dialog_stack[0].state == inner.state
    assert state.dialog_stack[1].state == {"n": 1.5, "none": None}
    assert item["other"] == [1, "two"]
    # and it can be written back as it was read (the e_tag matches)
    state.dialog_stack[0].state["children"] = 3
    await storage.write({KEY: item})
    again = (await storage.read([KEY]))[KEY]
    assert again["DialogState"].dialog_stack[0].state["children"] == 3


async def test_the_agents_sdk_storage_reads_botbuilders_dialog_state_as_its_own_and_keeps_the_etag_check(repo, storage):
    """Both edges' storages share the rows (dialogs/state_rows.py): what botbuilder wrote the
    Agents SDK reads as its own dialog types, writes back with the same e_tag check, and
    botbuilder reads again as it wrote it."""
    agents = AgentsSqlStorage(repo.turns, FixedClock(NOW))
    draft = {"draft_id": "d-1", "raw": {"children": {"c1_name": "X"}}, "v": 3}
    await storage.write({KEY: {"DialogState": DialogState([DialogInstance(id="ReferralDialog", state=draft)])}})

    item = (await agents.read([KEY], target_cls=CachedAgentState))[KEY]
    stack = item.state["DialogState"]
    assert isinstance(stack, AgentsState) and [type(i) for i in stack.dialog_stack] == [AgentsInstance]
    assert stack.dialog_stack[0].id == "ReferralDialog" and stack.dialog_stack[0].state == draft

    stale = (await agents.read([KEY], target_cls=CachedAgentState))[KEY]
    stack.dialog_stack[0].state["v"] = 4
    await agents.write({KEY: item})
    with pytest.raises(StateConflict):
        await agents.write({KEY: stale})
    back = (await storage.read([KEY]))[KEY]["DialogState"]
    assert isinstance(back, DialogState) and back.dialog_stack[0].state["v"] == 4



async def test_storage_refuses_objects_it_cannot_encode(storage):
    with pytest.raises(TypeError):
        await storage.write({KEY: {"when": datetime.now(UTC)}})


# ---- cases ------------------------------------------------------------------------------------


async def test_case_references_are_allocated_in_sequence_per_year(repo, referral_factory):
    refs = []
    for _ in range(3):
        new, event = new_case(referral_factory())
        summary, created = await repo.cases.create_case(new, event, [])
        assert created
        refs.append(summary.reference)
    assert refs == ["RR-2026-0001", "RR-2026-0002", "RR-2026-0003"]
    new, event = new_case(referral_factory(), year=2027)
    summary, _ = await repo.cases.create_case(new, event, [])
    assert summary.reference == "RR-2027-0001"


async def test_the_same_draft_twice_returns_the_existing_case(repo, referral_factory):
    new, event = new_case(referral_factory(), draft_id="draft-1")
    first, created = await repo.cases.create_case(new, event, [OutboxMessage(key=f"panel_card:{new.id}:post",
                                                                        kind="panel_card", case_id=new.id)])
    assert created
    again, event2 = new_case(referral_factory(child_name="Someone Else"), draft_id="draft-1")
    second, created_again = await repo.cases.create_case(again, event2, [])
    assert not created_again
    assert second.id == first.id and second.reference == first.reference == "RR-2026-0001"
    assert await repo.outbox.count("pending") == 1
    assert len(await repo.cases.events_for_case(first.id)) == 1
    # and the number was not consumed: the next case is 0002
    other, event3 = new_case(referral_factory())
    assert (await repo.cases.create_case(other, event3, []))[0].reference == "RR-2026-0002"


async def test_a_case_reads_back_whole(repo, referral_factory):
    new, event = new_case(referral_factory(child_name="Read Back"))
    summary, _ = await repo.cases.create_case(new, event, [])
    case = await repo.cases.get_case(summary.reference)
    assert case is not None
    assert case.referral.children.children[0].name == "Read Back"
    assert case.summary == summary
    assert case.summary.received_at == NOW
    assert await repo.cases.get_case("RR-2026-9999") is None


async def test_pseudonyms_are_unique_among_open_cases(repo, db, referral_factory):
    pseudonyms = []
    for _ in range(30):
        new, event = new_case(referral_factory())
        summary, _ = await repo.cases.create_case(new, event, [])
        pseudonyms.append(summary.pseudonym)
    assert len(set(pseudonyms)) == 30
    assert all(len(p) == len("Child A") for p in pseudonyms[:26])  # single letters first
    assert all(len(p) == len("Child AA") for p in pseudonyms[26:])

    # The database itself refuses a second open case with the same pseudonym …
    taken = pseudonyms[0]
    row = {
        "id": str(uuid.uuid4()), "reference": "RR-2026-9000", "pseudonym": taken, "status": "referred",
        "draft_id": str(uuid.uuid4()), "referrer_aad_id": "a", "referrer_name": "R", "referring_agency": "Police",
        "pathway_sought": "A", "incident_kind": "serious_harm", "incident_date": NOW.date(),
        "likely_notifiable": False, "received_at": NOW, "referral": {}, "updated_at": NOW,
    }
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await conn.execute(insert(t.cases).values(**row))
    # … but a closed case's pseudonym may be used again.
    async with db.write() as conn:
        await conn.execute(update(t.cases).where(t.cases.c.pseudonym == taken).values(closed_at=NOW))
        await conn.execute(insert(t.cases).values(**row))


# ---- outbox ------------------------------------------------------------------------------------


def _message(key: str = "panel_card:c1:post", **kw) -> OutboxMessage:  # noqa: ANN003
    return OutboxMessage(key=key, kind="panel_card", case_id="c1", **kw)


async def test_outbox_enqueue_is_idempotent_by_key(repo):
    await repo.outbox.enqueue([_message()], NOW)
    await repo.outbox.enqueue([_message()], NOW)
    assert await repo.outbox.count("pending") == 1


async def test_outbox_lease_blocks_a_second_claim_until_it_expires(repo):
    await repo.outbox.enqueue([_message(payload={"x": 1})], NOW)
    first = await repo.outbox.claim(NOW, lease_seconds=60, limit=10)
    assert [(i.key, i.attempts, i.payload) for i in first] == [("panel_card:c1:post", 1, {"x": 1})]
    # another process (or pass) while the lease holds gets nothing
    assert await repo.outbox.claim(NOW + timedelta(seconds=59), lease_seconds=60, limit=10) == []
    # the claimer crashed: after the lease the message is due again
    again = await repo.outbox.claim(NOW + timedelta(seconds=61), lease_seconds=60, limit=10)
    assert [(i.id, i.attempts) for i in again] == [(first[0].id, 2)]


async def test_outbox_done_is_never_claimed_again(repo):
    await repo.outbox.enqueue([_message()], NOW)
    (item,) = await repo.outbox.claim(NOW, 60, 10)
    await repo.outbox.done(item.id, NOW)
    assert await repo.outbox.count("sent") == 1
    assert await repo.outbox.claim(NOW + timedelta(hours=1), 60, 10) == []


async def test_outbox_not_yet_due_messages_wait(repo):
    await repo.outbox.enqueue([_message()], NOW + timedelta(minutes=5))
    assert await repo.outbox.claim(NOW, 60, 10) == []
    assert len(await repo.outbox.claim(NOW + timedelta(minutes=5), 60, 10)) == 1


async def test_outbox_retry_reschedules_and_gives_up(repo):
    await repo.outbox.enqueue([_message()], NOW)
    (item,) = await repo.outbox.claim(NOW, 60, 10)
    await repo.outbox.retry(item.id, NOW + timedelta(seconds=30), "connector answered 503", give_up=False)
    assert await repo.outbox.claim(NOW + timedelta(seconds=29), 60, 10) == []  # not before its time
    (item,) = await repo.outbox.claim(NOW + timedelta(seconds=30), 60, 10)  # the lease was cleared
    assert item.attempts == 2
    await repo.outbox.retry(item.id, NOW, "x" * 1000, give_up=True)
    assert await repo.outbox.count("failed") == 1
    assert await repo.outbox.claim(NOW + timedelta(days=1), 60, 10) == []


async def test_outbox_park_and_release(repo):
    await repo.outbox.enqueue([_message("a"), _message("b")], NOW)
    items = await repo.outbox.claim(NOW, 60, 10)
    for item in items:
        await repo.outbox.park(item.id, "waiting_channel", "no panel channel bound")
    assert await repo.outbox.count("waiting_channel") == 2
    assert await repo.outbox.claim(NOW + timedelta(hours=1), 60, 10) == []
    assert await repo.outbox.release("waiting_channel", NOW + timedelta(hours=1)) == 2
    assert await repo.outbox.count("waiting_channel") == 0
    released = await repo.outbox.claim(NOW + timedelta(hours=1), 60, 10)
    assert sorted(i.key for i in released) == ["a", "b"]
    assert await repo.outbox.release("waiting_channel", NOW) == 0


async def test_outbox_claim_respects_the_limit_in_order(repo):
    await repo.outbox.enqueue([_message(f"k{i}") for i in range(5)], NOW)
    first = await repo.outbox.claim(NOW, 60, 2)
    second = await repo.outbox.claim(NOW, 60, 10)
    assert [i.key for i in first] == ["k0", "k1"]
    assert [i.key for i in second] == ["k2", "k3", "k4"]


# ---- activity de-duplication ----------------------------------------------------------------------


async def test_claim_activity_deduplicates_and_returns_the_stored_response(repo):
    assert await repo.turns.claim_activity("act-1", NOW) == (True, None)
    assert await repo.turns.claim_activity("act-1", NOW) == (False, None)  # still being handled
    response = {"status": 200, "body": {"statusCode": 200, "value": "Done."}}
    await repo.turns.remember_response("act-1", response)
    assert await repo.turns.claim_activity("act-1", NOW) == (False, response)
    assert await repo.turns.claim_activity("act-2", NOW) == (True, None)


# ---- the bound channel, read once per turn -----------------------------------------------------


async def test_a_turn_reads_the_bound_channel_once_and_afresh_after_it_rebinds_it(db, repo):
    from bot.domain import trace
    from bot.domain.case import Actor
    from bot.services.ports import Address

    manager = Actor(aad_object_id="00000000-0000-0000-0000-00000000a009", name="Mia Manager")
    first = Address("19:first@thread.tacv2", "https://smba.trafficmanager.net/uk/", "tenant")
    second = Address("19:second@thread.tacv2", "https://smba.trafficmanager.net/uk/", "tenant")
    await repo.roster.bind_channel("panel", first, "team", "channel", manager, NOW)
    token = trace.begin("channel", first.conversation_id)
    try:
        assert await repo.roster.channel("panel") == first
        await _rebind_behind_the_turn(db, second)
        assert await repo.roster.channel("panel") == first  # the turn's read (the access gate's) serves it
        await repo.roster.bind_channel("panel", second, "team", "channel", manager, NOW)  # the turn rebinds it
        assert await repo.roster.channel("panel") == second
    finally:
        trace.end(token)
    await _rebind_behind_the_turn(db, first)
    assert (await repo.roster.channel("panel")).conversation_id == first.conversation_id  # no turn: read each time


async def _rebind_behind_the_turn(db, address) -> None:
    """Rebind the channel without this turn knowing, as another process would."""
    async with db.write() as conn:
        await conn.execute(
            update(t.channels).where(t.channels.c.purpose == "panel").values(conversation_id=address.conversation_id)
        )


async def test_the_access_gate_reads_a_persons_roles_and_the_bound_channel_in_one_read(db, repo):
    from sqlalchemy import event

    from bot.domain import trace
    from bot.domain.case import Actor
    from bot.services.ports import Address

    manager = Actor(aad_object_id="00000000-0000-0000-0000-00000000a009", name="Mia Manager")
    panel = Address("19:panel@thread.tacv2", "https://smba.trafficmanager.net/uk/", "tenant")
    await repo.roster.bind_channel("panel", panel, "team", "channel", manager, NOW)
    reads: list[str] = []
    event.listen(db.engine.sync_engine, "checkout", lambda *_: reads.append("read"))
    token = trace.begin("channel", panel.conversation_id)
    try:
        roles = await repo.roster.roles_of(manager.aad_object_id, channel="panel")
        assert await repo.roster.channel("panel") == panel  # kept from the roles' read
    finally:
        trace.end(token)
    assert reads == ["read"]
    assert roles.aad_object_id == manager.aad_object_id
