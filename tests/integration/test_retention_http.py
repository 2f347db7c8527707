"""Retention, erasure and legal holds, end to end through HTTP activities (docs/data-protection.md).

A whole case — referral, votes, a Graph meeting, its outcome, the record handed to the chair —
is closed, and ten years later the daily job lists it for the data protection officer with a
dry run. Her confirmation erases it: nothing of the child, the family or any free text can be
read anywhere in the database any more, every message the bot sent about it is replaced by
the tombstone card, the Graph meeting is scrubbed (cancelled when still to come), reminders and
outbox rows are gone, a `case_erased` audit row is appended and the chain still verifies. A
second confirmation changes nothing. A legal hold stops both the purge and an erasure on
request until it is lifted; nobody but the DPO can do any of it; a crash mid-erasure leaves
nothing half-done, and a restart finishes what the outbox had left.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.db import schema as t
from bot.adapters.db.audit_log import verify_audit_trail
from bot.adapters.db.case_export import SqlCaseRecords
from bot.adapters.db.retention_store import REASON_FIELD, REGISTER_OWNER, SqlRetentionStore
from bot.adapters.db.scope import Scope
from bot.adapters.db.turn_store import RESPONSE_FIELD, RESPONSES_OWNER
from bot.adapters.envelope import is_sealed
from bot.admin import main as admin
from bot.domain.case import Actor
from bot.domain.lifecycle import CaseStatus, Mover
from bot.services import retention
from cards import retention_cards as R
from tests.integration.test_case_export import DANA, _with_dpo
from tests.integration.test_encryption_at_rest import CANARIES, leaked
from tests.integration.test_meeting_graph import (  # noqa: F401 - `graph`: the fake Graph fixture
    OUTCOME,
    M,
    _record_link,
    cards_to,
    decide,
    graph,
    walk_to_outcome_card,
)
from tests.support import activities as A
from tests.support.fake_graph import FakeGraph
from tests.support.harness import BotHarness, find_action, texts, without_reference

REF = "RR-2026-0001"
LIST_TITLE = "Cases past their retention period"
REASON = "Erasure request upheld by the partnership's information governance board"


# ---- a whole case, closed ------------------------------------------------------------------------------


def store(h: BotHarness) -> SqlRetentionStore:
    found = h.c.bot.retention.store
    assert isinstance(found, SqlRetentionStore)
    return found


async def whole_case(h: BotHarness, *, close: bool = True) -> str:
    """Referral, votes, the Graph meeting and its outcome, the record fetched by the chair; then closed."""
    await h.say(DANA, "help")  # the DPO has opened the bot: it can reach her in personal chat
    case_id = await decide(h)
    card = await walk_to_outcome_card(h, case_id)
    body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **OUTCOME})
    assert body["statusCode"] == 200, body
    await h.flush()
    [record_card] = cards_to(h, A.CHRIS.chat, M.RECORD_TITLE)
    path = await _record_link(h, A.CHRIS, record_card)
    assert (await h.client.get(path)).status == 200  # the chair now holds a copy the bot cannot reach
    if close:
        pat = Actor(aad_object_id=A.PAT.aad, name=A.PAT.name)
        for status in (CaseStatus.REPORT_IN_DRAFT, CaseStatus.REPORT_SUBMITTED, CaseStatus.CLOSED):
            await h.c.stores.cases.move(case_id, status, Mover.MANAGER, pat, h.clock.now())
    return case_id


async def readable(h: BotHarness, case_id: str) -> str:
    """Everything the database would show anyone holding the master key: every table as stored,
    and every sealed value opened wherever its key still exists."""
    parts = []
    keyring = h.c.db.keyring
    async with h.c.db.read() as conn:
        for table in t.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).mappings().all()
            parts.append(json.dumps([dict(r) for r in rows], default=str, ensure_ascii=False))
        for response in (await conn.execute(select(t.processed_activities.c.response)
                                            .where(t.processed_activities.c.response.is_not(None)))).scalars():
            parts.append(json.dumps(await keyring.open_json(conn, RESPONSES_OWNER, RESPONSE_FIELD, response),
                                    ensure_ascii=False))
        state_keys = list((await conn.execute(select(t.bot_state.c.key)
                                              .where(t.bot_state.c.key.like("%/conversations/%")))).scalars())
    parts.append(json.dumps(await h.c.stores.turns.read_state(state_keys), default=str, ensure_ascii=False))
    parts.append(json.dumps(await SqlCaseRecords(Scope(h.c.db)).rows_of(case_id), default=str, ensure_ascii=False))
    return "\n".join(parts)


def canaries_in(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


async def count(h: BotHarness, table: Any, *where: Any) -> int:
    async with h.c.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def events(h: BotHarness, kind: str) -> list[dict[str, Any]]:
    async with h.c.db.read() as conn:
        rows = await conn.execute(select(t.events).where(t.events.c.kind == kind).order_by(t.events.c.id))
        return [dict(r._mapping) for r in rows]


def later(h: BotHarness, **delta: int) -> None:
    h.clock.set(h.clock.now() + timedelta(**delta))


async def erase_press(h: BotHarness, who: A.Person, reference: str = REF) -> dict[str, Any]:
    return await h.press(who, R.ERASE, {"verb": R.ERASE, "action": R.ERASE, "ref": reference})


async def confirm_request(h: BotHarness, who: A.Person, reason: str, reference: str = REF) -> dict[str, Any]:
    return await h.press(who, R.CONFIRM_REQUEST, {"verb": R.CONFIRM_REQUEST, "action": R.CONFIRM_REQUEST,
                                                  "ref": reference, "reason": reason})


# ---- the purge -------------------------------------------------------------------------------------------


async def test_the_purge_lists_a_dry_run_erases_on_confirmation_and_is_a_no_op_the_second_time(
        tmp_path: Path, database_url: str, graph: FakeGraph,  # noqa: F811 - the fixture
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async with BotHarness(tmp_path, database_url=database_url, partnership_file=_with_dpo(tmp_path)) as h:
        case_id = await whole_case(h)
        before = await readable(h, case_id)
        assert canaries_in(before), "the case's identifiers were not stored: the test would prove nothing"
        closed = h.clock.now()

        # Not yet past its period (a rapid review: 10 years after closure): nothing listed.
        later(h, days=365 * 9)
        assert await retention.daily(h.c.services, store(h)) == 0
        await h.flush()
        assert not cards_to(h, DANA.chat, LIST_TITLE)

        h.clock.set(closed + timedelta(days=365 * 10 + 5))
        assert await retention.daily(h.c.services, store(h)) == 1
        await h.flush()
        [listed] = cards_to(h, DANA.chat, LIST_TITLE)
        plan = await store(h).plan(case_id, h.clock.now())
        assert plan is not None and plan.meeting_action == "scrub" and plan.meeting_event_id
        shown = texts(listed)
        assert REF in shown and "Rapid review (no practice review)" in shown
        assert f"{len(plan.messages)} of the bot's Teams messages replaced" in shown and len(plan.messages) >= 5
        assert "panel card" not in shown and "the panel's case card" in shown
        assert "subject and description are cleared" in shown
        assert "rapid review record to Chris Chair" in shown and "fetched" in shown
        assert "beyond the bot's reach" in shown
        assert not canaries_in(json.dumps(listed, ensure_ascii=False))
        find_action(listed, R.ERASE)
        # the same list is not sent again the next day
        later(h, days=1)
        assert await retention.daily(h.c.services, store(h)) == 1
        assert await h.flush() == 0

        # Nobody else can confirm: the same answer for a chair, a stranger, and a case that does not exist.
        answers = set()
        for who, reference in ((A.CHRIS, REF), (A.MALLORY, REF), (A.PAT, "RR-2026-0042")):
            body = await erase_press(h, who, reference)
            assert body["statusCode"] == 403, body
            answers.add(without_reference(body["value"]["message"]))
        assert answers == {retention.NOT_DPO}
        assert await count(h, t.erasures) == 0
        assert await h.c.stores.cases.get_case(REF) is not None

        sent_before = len(h.connector.sent_activities())
        body = await erase_press(h, DANA)
        assert body["statusCode"] == 200, body
        assert "has been erased" in texts(body["value"])
        assert await h.c.stores.cases.get_case(REF) is None
        await h.flush()

        # every message the bot knew about is now the tombstone
        updates = {(u.conversation_id, u.activity_id): u for u in h.connector.updates()}
        updated = len(h.connector.updates())
        for message in plan.messages:
            update = updates[(message.conversation_id, message.activity_id)]
            assert R.TOMBSTONE in json.dumps(update.activity), message
        # the Graph meeting's subject and description are scrubbed (it was held: not cancelled)
        [event] = graph.live_events()
        assert event["subject"] == retention.SCRUBBED_SUBJECT and REF not in json.dumps(event)
        assert not graph.requests_of("cancelEvent")

        # nothing of the child, the family or a free text can be read anywhere any more
        after = await readable(h, case_id)
        assert not canaries_in(after), canaries_in(after)
        if database_url.startswith("sqlite"):
            raw = b"".join(p.read_bytes() for p in tmp_path.glob("*.db*"))
            assert not leaked(raw)
        assert not [p for p in tmp_path.rglob("*") if p.suffix in (".docx", ".ics")]  # nothing generated on disk
        assert await count(h, t.reminders, t.reminders.c.case_id == case_id) == 0
        assert await count(h, t.outbox, t.outbox.c.case_id == case_id,
                           t.outbox.c.kind.not_in(("erasure_tombstone", "erasure_meeting"))) == 0
        async with h.c.db.read() as conn:
            keys = (await conn.execute(select(t.case_keys).where(t.case_keys.c.owner == case_id))).one()
            row = (await conn.execute(select(t.cases).where(t.cases.c.id == case_id))).one()
        assert keys.wrapped is None and keys.destroyed_at is not None
        # the anonymised record: reference, dates, status, partners; no name
        assert (row.reference, row.status, row.referrer_name) == (REF, "closed", "(erased)")
        assert row.closed_at is not None and row.received_at is not None and row.erased_at is not None
        assert row.referral == {} and row.decision is None and row.incident_date.day == 1

        [erased] = await events(h, "case_erased")
        assert erased["actor_aad_id"] == DANA.aad and erased["case_id"] == case_id
        assert erased["detail"]["basis"] == "retention" and erased["detail"]["meeting"] == "scrub"
        assert (await verify_audit_trail(h.c.db)).broken is None

        # the register closes once the outbox has nothing left of it
        assert await retention.finish_outstanding(h.c.services, store(h)) == 1
        record = await store(h).erasure(case_id)
        assert record is not None and record.finished_at is not None
        assert record.result == {"tombstones_sent": len(plan.messages), "tombstones_failed": 0, "meeting": "sent"}

        # Running it again changes nothing: no new audit row, no new message, nothing listed.
        audit_rows, sends = await count(h, t.events), len(h.connector.sent_activities())
        body = await erase_press(h, DANA)
        assert body["statusCode"] == 200 and "was erased on" in texts(body["value"])
        reply = await h.say(DANA, f"erase {REF}")
        assert isinstance(reply, dict) and "was erased on" in texts(reply)
        assert await retention.daily(h.c.services, store(h)) == 0
        assert await h.flush() == 0
        assert await count(h, t.events) == audit_rows
        assert len(h.connector.sent_activities()) == sends + 1  # only the answer to the typed command
        assert len(h.connector.updates()) == updated
        assert sent_before <= sends

    # the anonymised record is still in the statistics (`python -m bot admin cases statistics`)
    monkeypatch.setenv("DATABASE_URL", database_url)
    capsys.readouterr()
    assert await asyncio.to_thread(admin, ["cases", "statistics"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split("\t")[:3] == [REF, "closed", "rapid_review"] and listing[1].split("\t")[5]
    assert not canaries_in("\n".join(listing))


# ---- holds and erasure on request ------------------------------------------------------------------------


async def test_a_hold_stops_the_purge_and_an_erasure_on_request_until_it_is_lifted(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, partnership_file=_with_dpo(tmp_path)) as h:
        case_id = await whole_case(h)
        later(h, days=365 * 11)

        # only the DPO may place, lift or list holds, or ask to erase: one answer for everyone else
        for who in (A.CHRIS, A.PAT, A.MALLORY):
            for command in (f"hold {REF} inquest", f"lift hold {REF}", "holds", f"erase {REF}", "erase",
                            "hold RR-2026-0042 other", "retention"):
                reply = await h.say(who, command)
                assert reply == retention.NOT_DPO, (who, command, reply)
        assert await count(h, t.legal_holds) == 0
        denied = await events(h, "access_denied")
        assert len(denied) >= 21 and all("child" not in json.dumps(e["detail"]) for e in denied)

        reply = await h.say(DANA, f"hold {REF} coroner")
        assert isinstance(reply, str) and "legal hold (coroner's inquest)" in reply
        assert "already on hold" in str(await h.say(DANA, f"hold {REF} inquest"))
        [placed] = await events(h, "legal_hold_placed")
        assert placed["detail"] == {"kind": "inquest"} and placed["case_id"] == case_id
        holds_card = await h.say(DANA, "holds")
        assert isinstance(holds_card, dict) and f"{REF}: Coroner's inquest" in texts(holds_card)

        # `retention` shows the list now; the purge lists it as held, with no button, and refuses a press all the same
        now_card = await h.say(DANA, "retention")
        assert isinstance(now_card, dict) and LIST_TITLE in texts(now_card) and "On legal hold" in texts(now_card)
        assert await retention.daily(h.c.services, store(h)) == 1
        await h.flush()
        [_asked, listed] = cards_to(h, DANA.chat, LIST_TITLE)  # the answer to `retention`, then the daily list
        assert "On legal hold (coroner's inquest)" in texts(listed)
        with pytest.raises(AssertionError):
            find_action(listed, R.ERASE)
        body = await erase_press(h, DANA)
        assert "has a legal hold" in json.dumps(body) and await count(h, t.erasures) == 0

        # an erasure on request too
        card = await h.say(DANA, f"erase {REF}")
        assert isinstance(card, dict) and "On legal hold" in texts(card)
        with pytest.raises(AssertionError):
            find_action(card, R.CONFIRM_REQUEST)
        body = await confirm_request(h, DANA, REASON)
        assert "has a legal hold" in json.dumps(body) and await count(h, t.erasures) == 0
        assert await h.c.stores.cases.get_case(REF) is not None

        reply = await h.say(DANA, f"lift hold {REF}")
        assert isinstance(reply, str) and "is lifted" in reply
        assert "has no legal hold" in str(await h.say(DANA, f"lift hold {REF}"))
        assert len(await events(h, "legal_hold_lifted")) == 1

        card = await h.say(DANA, f"erase {REF}")
        assert isinstance(card, dict)
        find_action(card, R.CONFIRM_REQUEST)
        # the reason is required, and refused with an identifier in it (the card comes back with it kept)
        body = await confirm_request(h, DANA, "")
        assert body["statusCode"] == 200 and "Give the reason" in texts(body["value"])
        body = await confirm_request(h, DANA, "Mother asked by phone on 07700 900123")
        assert "phone number" in texts(body["value"]) and await count(h, t.erasures) == 0
        assert (await confirm_request(h, A.CHRIS, REASON))["statusCode"] == 403

        body = await confirm_request(h, DANA, REASON)
        assert body["statusCode"] == 200 and "has been erased" in texts(body["value"])
        async with h.c.db.read() as conn:
            row = (await conn.execute(select(t.erasures))).one()
            assert row.basis == "request" and is_sealed(row.reason) and REASON not in json.dumps(dict(row._mapping),
                                                                                                  default=str)
            opened = await h.c.db.keyring.open_text(conn, REGISTER_OWNER, REASON_FIELD, row.reason)
        assert opened == REASON  # the register keeps the reason after the case's key is gone
        [erased] = await events(h, "case_erased")
        assert REASON not in json.dumps(erased, default=str)  # never in the audit trail
        assert "already been erased" in str(await h.say(DANA, f"hold {REF} other"))  # nothing left to hold
        assert await count(h, t.legal_holds) == 1


async def test_an_open_case_erased_on_request_has_its_coming_meeting_cancelled(tmp_path: Path,
                                                                              graph: FakeGraph) -> None:  # noqa: F811
    async with BotHarness(tmp_path, partnership_file=_with_dpo(tmp_path)) as h:
        await h.say(DANA, "help")
        case_id = await decide(h)  # the meeting is booked, still to come
        card = await h.say(DANA, f"erase {REF}")
        assert isinstance(card, dict) and "is cancelled" in texts(card) and "Still open" in texts(card)
        body = await confirm_request(h, DANA, REASON)
        assert body["statusCode"] == 200, body
        await h.flush()
        [event] = graph.live_events() or [None]
        cancels = graph.requests_of("cancelEvent")
        assert len(cancels) == 1 and R.TOMBSTONE in json.dumps(cancels[0].body)
        assert event is None or event.get("isCancelled") or event["subject"] == retention.SCRUBBED_SUBJECT
        # the erased case leaves the open cases and cannot be voted on
        status = await h.post(A.channel_message(h.url, A.PAT, "status"))
        assert status[0] in (200, 201)
        assert REF not in json.dumps([s.activity for s in h.connector.sent_activities()[-1:]])
        assert await count(h, t.deadlines, t.deadlines.c.case_id == case_id,
                           t.deadlines.c.status.in_(("open", "pending"))) == 0
        # the panel's commands and buttons find no case any more, and nothing fails
        for command in (f"show {REF}", f"timeline {REF}"):
            status, _ = await h.post(A.channel_message(h.url, A.PAT, command))
            assert status in (200, 201)
            answer = json.dumps(h.connector.sent_activities()[-1].activity)
            assert "There is no case" in answer or "could not be found" in answer, command
        vote = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
                "rationale": "Late vote.", "serious_harm_basis": "Long-term impairment likely."}
        body = await h.press(A.LAURA, "panel.vote", vote, channel=True)
        assert body["statusCode"] in (200, 400, 403, 404) and "Late vote" not in await readable(h, case_id)
        assert await count(h, t.votes, t.votes.c.rationale == "Late vote.") == 0


# ---- a crash in the middle ---------------------------------------------------------------------------------


async def test_a_crash_leaves_nothing_half_erased_and_a_restart_finishes_the_outbox(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with BotHarness(tmp_path, database_url=database_url, partnership_file=_with_dpo(tmp_path)) as h:
        case_id = await whole_case(h)
        later(h, days=365 * 11)

        async def crash(*_args: Any, **_kw: Any) -> None:
            raise RuntimeError("killed between the key's destruction and the last clearing step")

        with monkeypatch.context() as patched:
            patched.setattr(SqlRetentionStore, "_clear_dialog_states", crash)
            status, _ = await h.post(A.invoke(h.url, DANA, R.ERASE, {"verb": R.ERASE, "action": R.ERASE,
                                                                     "ref": REF}))
        # rolled back whole: the key, the texts, the register, the audit trail as they were
        assert await count(h, t.erasures) == 0 and not await events(h, "case_erased")
        case = await h.c.stores.cases.get_case(REF)
        assert case is not None and case.referral.children.children[0].name
        async with h.c.db.read() as conn:
            key = (await conn.execute(select(t.case_keys).where(t.case_keys.c.owner == case_id))).one()
        assert key.wrapped is not None

        body = await erase_press(h, DANA)
        assert body["statusCode"] == 200, body
        plan = await store(h).erasure(case_id)
        assert plan is not None and plan.finished_at is None
        # the process dies before the outbox delivered anything; another one takes over
        await h.restart()
        assert await h.c.stores.cases.get_case(REF) is None
        assert await h.flush() >= len(plan.plan["messages"])
        tombstones = [u for u in h.connector.updates() if R.TOMBSTONE in json.dumps(u.activity)]
        assert len(tombstones) == len(plan.plan["messages"])

        # A message another process was sending from one of the erased outbox rows as the erasure
        # committed lands in the send ledger afterwards: the daily job finds it and tombstones it too.
        assert await h.c.services.notifier.send_to_person(A.CHRIS.aad, {"type": "AdaptiveCard", "body": []})
        late = h.connector.sent_activities()[-1]
        async with h.c.db.write() as conn:
            await conn.execute(t.outbox_sends.insert().values(
                send_key="late-send", outbox_id=plan.plan["outbox_ids"][-1], conversation_id=late.conversation_id,
                state="sent", activity_id=late.activity_id, created_at=h.clock.now(), updated_at=h.clock.now()))
        assert await retention.daily(h.c.services, store(h)) == 0
        assert (await store(h).erasure(case_id)).finished_at is None  # type: ignore[union-attr]
        assert await h.flush() == 1
        [replaced] = [u for u in h.connector.updates() if u.activity_id == late.activity_id]
        assert R.TOMBSTONE in json.dumps(replaced.activity)
        assert await count(h, t.outbox_sends, t.outbox_sends.c.send_key == "late-send") == 0

        assert await retention.daily(h.c.services, store(h)) == 0  # it finishes the register's row
        record = await store(h).erasure(case_id)
        assert record is not None and record.finished_at is not None
        assert record.result is not None and record.result["tombstones_sent"] == len(plan.plan["messages"]) + 1
        assert (await verify_audit_trail(h.c.db)).broken is None

