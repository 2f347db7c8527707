"""Identifiers encrypted at rest (docs/data-protection.md): after a whole case through HTTP —
referral, votes with rationales, the meeting and its outcome — and a second referral left
half-finished in the form, the raw database holds none of the fixtures' canary identifiers
or free texts: not the SQLite file, not its write-ahead log, not a PostgreSQL dump; in
UTF-8, UTF-16 or JSON-escaped form."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.adapters.db import schema as t
from bot.domain.case import Actor
from bot.domain.lifecycle import CaseStatus, Mover
from tests.integration.test_meeting_graph import OUTCOME, decide, walk_to_outcome_card
from tests.support import activities as A
from tests.support.harness import (
    CANARY_ADDRESS,
    CANARY_CHILD,
    CANARY_DOB,
    VALID,
    BotHarness,
    fill_referral,
    find_action,
)

RATIONALE = "Serious injuries and suspected abuse by a carer."  # decide()'s votes
HARM = "Long-term impairment likely."
DRAFT_CHILD = "Qxvvjk Draftling"
DRAFT_ADDRESS = "41 Qxzzkj Close"
DRAFT_FAMILY = "Mother Qxkjqz Draftling"
REPORT_COMMENT = "Qxqvzz comment on the draft report"  # the rapid review report's texts (reports.body)
REPORT_PLAN = "Qxzvqq briefing for every agency"
# after the meeting: the local review, an action and the learning (bot/services/review.py)
REVIEW_TEXTS = {"lead_reviewer": "Qzlead Reviewerson", "terms_of_reference": "Qzterms the twelve months before",
                "review_panel": "Qzpanel safeguarding leads", "quality": "Qzquality analysis is thorough",
                "learning": "Qzlearn a shared chronology shows patterns sooner",
                "description": "Qzaction police to flag repeat injuries", "evidence": "Qzevidence checklist issued"}

CANARIES = [
    CANARY_CHILD, "Zqxwv", CANARY_DOB, "03/02/2017", "3 February 2017", CANARY_ADDRESS, "Canary Lane",
    VALID["incident"]["summary"], VALID["views"]["family_not_consulted_reason"], VALID["views"]["key_issues"],
    VALID["views"]["not_worked_well"], VALID["children"]["family_members"],
    RATIONALE, HARM, OUTCOME["rationale"], OUTCOME["immediate_actions"], *REVIEW_TEXTS.values(),
    REPORT_COMMENT, REPORT_PLAN, DRAFT_CHILD, "Qxvvjk", DRAFT_ADDRESS, "Qxzzkj", DRAFT_FAMILY, "Qxkjqz", "2015-07-09",
    "09/07/2015",
]


def _forms(canary: str) -> list[bytes]:
    escaped = json.dumps(canary)[1:-1]
    return sorted({canary.encode("utf-8"), canary.encode("utf-16-le"), canary.encode("utf-16-be"),
                   escaped.encode(), escaped.replace("/", "\\/").encode(), json.dumps(canary, ensure_ascii=True)[1:-1]
                   .encode()})


def leaked(raw: bytes) -> list[str]:
    return [canary for canary in CANARIES if any(form in raw for form in _forms(canary))]


def _draft_answers() -> dict[str, dict[str, str]]:
    answers = copy.deepcopy(VALID)
    answers["children"] = {**answers["children"], "c1_name": DRAFT_CHILD, "c1_date_of_birth": "2015-07-09",
                           "family_members": DRAFT_FAMILY}
    answers["incident"] = {**answers["incident"], "incident_location": DRAFT_ADDRESS}
    return answers


async def _whole_case(h: BotHarness) -> str:
    case_id = await decide(h)
    card = await walk_to_outcome_card(h, case_id)
    body = await h.press(A.CHRIS, "meeting.outcome", {**find_action(card, "meeting.outcome"), **OUTCOME})
    assert body["statusCode"] == 200, body
    await h.flush()
    # the rapid review report: a comment and a text of the National Panel's copy
    await h.say(A.LAURA, "help")
    for who, verb, inputs in ((A.PAT, "report.start", {}), (A.LAURA, "report.comment", {"comment": REPORT_COMMENT}),
                              (A.PAT, "report.save", {"dissemination_plan": REPORT_PLAN})):
        body = await h.press(who, verb, {"verb": verb, "action": verb, "ref": "RR-2026-0001", **inputs})
        assert body["statusCode"] == 200, body
    report = await h.c.stores.reports.get(case_id)
    assert report is not None and report[0].comments[0].text == REPORT_COMMENT
    assert report[0].fields["dissemination_plan"] == REPORT_PLAN
    await _after_the_meeting(h, case_id)
    # a second referral, left at the review step: saved for later in the dialog state
    await fill_referral(h, A.DEE, _draft_answers(), submit=False)
    # the canaries were really stored (and open again): the test is not vacuous
    case = await h.c.stores.cases.get_case("RR-2026-0001")
    assert case is not None and case.referral.children.children[0].name == CANARY_CHILD
    meeting = await h.c.stores.meetings.get(case_id)
    assert meeting is not None and meeting.outcome and meeting.outcome["rationale"] == OUTCOME["rationale"]
    return case_id


async def _after_the_meeting(h: BotHarness, case_id: str) -> None:
    """The review commissioned (through the lifecycle move), set up, checked; the learning; an
    action done with evidence — every free text of them is a canary."""
    def press(who: A.Person, verb: str, **data: str) -> Any:
        return h.press(who, verb, {"verb": verb, "action": verb, "ref": "RR-2026-0001", **data})

    pat = Actor(aad_object_id=A.PAT.aad, name=A.PAT.name)
    # the report was started through HTTP above (report in draft); on to a commissioned review
    for status in (CaseStatus.REPORT_SUBMITTED, CaseStatus.REVIEW_COMMISSIONED):
        await h.c.stores.cases.move(case_id, status, Mover.MANAGER, pat, h.clock.now())
    r = REVIEW_TEXTS
    for verb, data in (
            ("review.setup", {"lead_reviewer": r["lead_reviewer"], "terms_of_reference": r["terms_of_reference"],
                              "review_panel": r["review_panel"],
                              "lines_of_enquiry": "Qzline one\nQzline two\nQzline three"}),
            ("review.progress", {"on_time": "yes", "quality": r["quality"]}),
            ("learning.record", {"learning": r["learning"]}),
            ("action.add", {"description": r["description"], "owner_agency": "Police", "owner_aad_id": A.PAT.aad,
                            "due_on": "2027-01-29", "origin": "review"})):
        body = await press(A.PAT, verb, **data)
        assert body["statusCode"] == 200 and r["lead_reviewer"] in json.dumps(body["value"]), (verb, body)
    [action] = await h.c.services.reviews.actions(case_id)
    body = await press(A.PAT, "action.done", action_item=str(action.id), evidence=r["evidence"])
    assert r["evidence"] in json.dumps(body["value"])


async def _raw_columns(h: BotHarness) -> tuple[Any, list[Any], list[Any]]:
    async with h.c.db.read() as conn:
        referral = (await conn.execute(select(t.cases.c.referral))).scalar_one()
        rationales = list((await conn.execute(select(t.votes.c.rationale))).scalars())
        states = [s.data for s in await conn.execute(select(t.bot_state.c.key, t.bot_state.c.data))
                  if s.key.startswith("msteams/")]
    return referral, rationales, states


def assert_sealed(referral: Any, rationales: list[Any], states: list[Any]) -> None:
    """The columns hold sealed values (bot/adapters/envelope.py), not merely something else."""
    from bot.adapters.envelope import is_sealed, sealed_json_token

    assert sealed_json_token(referral) is not None
    assert rationales and all(is_sealed(r) for r in rationales)
    assert states and all(sealed_json_token(s) for s in states)


async def test_no_canary_in_the_sqlite_file_or_its_wal(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        await _whole_case(h)
        raw = await _raw_columns(h)
        files = {p.name: p.read_bytes() for p in tmp_path.glob("bot.db*")}  # the file, its -wal and -shm, live
        assert "bot.db-wal" in files and files["bot.db-wal"], "no write-ahead log to search"
    files |= {f"{p.name} (closed)": p.read_bytes() for p in tmp_path.glob("bot.db*")}
    found = {name: leaked(raw) for name, raw in files.items()}
    assert not any(found.values()), found
    assert_sealed(*raw)


async def test_no_canary_in_a_postgresql_dump(tmp_path: Path, pg_url: str) -> None:
    async with BotHarness(tmp_path, database_url=pg_url) as h:
        await _whole_case(h)
        raw = await _raw_columns(h)
    url = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(["pg_dump", "--no-owner", url], capture_output=True, check=True, timeout=120).stdout
    assert b"CREATE TABLE public.cases" in dump and b"Riley Referrer" in dump  # a real dump, with the data in it
    assert not leaked(dump), leaked(dump)
    assert_sealed(*raw)


async def test_a_database_written_before_encryption_is_sealed_in_place(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m bot admin keys seal`: what a database held in plain text is sealed, the freed
    pages zeroed and the log emptied; the case still reads back, and running it again is a no-op."""
    from bot.admin import main as admin

    async with BotHarness(tmp_path, env={"encrypt_at_rest": "false"}) as h:  # as before this version
        await _whole_case(h)
    assert leaked(b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*")))  # the canaries are there, in plain

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("ENCRYPT_AT_REST", "true")
    assert await asyncio.to_thread(admin, ["keys", "seal"]) == 0
    files = {p.name: p.read_bytes() for p in tmp_path.glob("bot.db*")}
    found = {name: leaked(raw) for name, raw in files.items()}
    assert not any(found.values()), found
    assert await asyncio.to_thread(admin, ["keys", "seal"]) == 0  # again: nothing left to seal

    async with BotHarness(tmp_path) as h:  # the bot reads it all back (the development key, from the database)
        case = await h.c.stores.cases.get_case("RR-2026-0001")
        assert case is not None and case.referral.children.children[0].name == CANARY_CHILD
        assert_sealed(*await _raw_columns(h))
