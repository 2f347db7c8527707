"""The data protection officer's export: only a DPO gets a link, the link works once, for a
few minutes, and the zip holds every record of the case with third parties marked.
Everyone else gets the same answer whether the case exists or not, and is audited."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.adapters.db import schema as t
from bot.adapters.db.case_export import case_tables
from bot.settings import DEFAULT_PARTNERSHIP_FILE
from tests.integration.test_meeting_graph import OUTCOME, M, decide, open_urls, walk_to_outcome_card
from tests.support import activities as A
from tests.support.harness import BotHarness, find_action, without_reference

DANA = A.Person("dana-dpo", "Dana Protection", "00000000-0000-0000-0000-00000000a008")
REF = "RR-2026-0001"
DOWNLOAD = "Download the export (.zip)"


def _with_dpo(tmp_path: Path) -> Path:
    text = DEFAULT_PARTNERSHIP_FILE.read_text()
    text += (f'\n[[partnership.data_protection_officers]]\nname = "{DANA.name}"\n'
             f'aad_object_id = "{DANA.aad}"\njob_title = "Data Protection Officer"\n')
    path = tmp_path / "partnership.toml"
    path.write_text(text)
    return path


async def _events(h: BotHarness, kind: str) -> list[dict]:
    async with h.c.db.read() as conn:
        rows = await conn.execute(select(t.events).where(t.events.c.kind == kind).order_by(t.events.c.id))
        return [dict(r._mapping) for r in rows]


async def _link(h: BotHarness, who: A.Person = DANA) -> str:
    """`export RR-…` offers the zip as a file; "Get a one-time link instead" gives the link."""
    offer = await h.say(who, f"export {REF}")
    assert isinstance(offer, dict)
    body = await h.press(who, "export.link", find_action(offer, "export.link"))
    assert body["statusCode"] == 200, body
    url = open_urls(body["value"])[DOWNLOAD]
    assert url.startswith("http://localhost:3978/files/once/")
    return url.removeprefix("http://localhost:3978")


async def test_a_dpo_exports_every_record_of_a_case_once(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, partnership_file=_with_dpo(tmp_path)) as h:
        case_id = await decide(h)
        card = await walk_to_outcome_card(h, case_id)
        assert (await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **OUTCOME}))["statusCode"] == 200
        await h.flush()

        path = await _link(h)
        response = await h.client.get(path)
        assert response.status == 200 and response.content_type == "application/zip"
        assert response.headers["Cache-Control"] == "no-store"
        archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        names = set(archive.namelist())
        assert {"READ ME.txt", "case.json", "summary.csv", f"documents/{REF}-rapid-review-record.docx",
                f"documents/{REF}-meeting.ics"} <= names
        assert "OFFICIAL-SENSITIVE" in archive.read("READ ME.txt").decode()

        tables = json.loads(archive.read("case.json"))["tables"]
        assert {table.name for table in case_tables()} | {"cases", "outbox_sends"} == set(tables)
        assert any(send["activity_id"] for send in tables["outbox_sends"])  # what Teams called each message
        assert tables["cases"][0]["referral"]["children"]["children"][0]["name"]
        assert len(tables["votes"]) == 3 and all(v["rationale"] for v in tables["votes"])
        assert tables["meetings"][0]["outcome"]["rationale"] == OUTCOME["rationale"]
        assert tables["deadlines"] and tables["outbox"]
        assert {"referral_submitted", "vote_cast", "panel_decided", "meeting_outcome_recorded",
                "file_link_issued"} <= {e["kind"] for e in tables["events"]}

        rows = list(csv.DictReader(io.StringIO(archive.read("summary.csv").decode("utf-8-sig"))))
        about = {r["field"]: r["about"] for r in rows if r["where"] == "referral"}
        assert about["children.children[0].name"] == "child"
        assert about["children.family_members"] == "family member / third party"
        assert about["referrer.name"].startswith("professional")

        [exported] = await _events(h, "case_exported")
        assert exported["actor_aad_id"] == DANA.aad and exported["actor_name"] == DANA.name
        assert exported["case_id"] == case_id

        again = await h.client.get(path)  # a link works once
        assert again.status == 410 and "already been used or has expired" in await again.text()
        [refused] = await _events(h, "file_link_refused")
        assert refused["detail"]["why"] == "used" and refused["actor_aad_id"] == DANA.aad


async def test_an_export_link_expires_in_minutes_and_unknown_links_give_nothing(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, partnership_file=_with_dpo(tmp_path)) as h:
        await decide(h)
        path = await _link(h)
        h.clock.set(h.clock.now() + timedelta(minutes=11))
        assert (await h.client.get(path)).status == 410
        assert (await h.client.get(path[:-3] + "abc")).status == 410
        assert [e["detail"]["why"] for e in await _events(h, "file_link_refused")] == ["expired", "unknown"]
        assert not await _events(h, "case_exported")
        fresh = await _link(h)  # asking again issues a new one
        assert fresh != path and (await h.client.get(fresh)).status == 200


async def test_nobody_else_can_export_and_the_answer_does_not_tell_which_cases_exist(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, partnership_file=_with_dpo(tmp_path)) as h:
        await decide(h)
        answers = set()
        for person in (A.PAT, A.CHRIS, A.LAURA, A.RILEY, A.MALLORY):
            for reference in (REF, "RR-2026-0042"):
                reply = await h.say(person, f"export {reference}")
                answers.add(without_reference(json.dumps(reply)))
        assert len(answers) == 1 and "data protection officer" in answers.pop()
        assert len(await _events(h, "access_denied")) >= 10
        async with h.c.db.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(t.file_links))).scalar_one() == 0
