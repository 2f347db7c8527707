"""The timeliness report for the annual report, over HTTP on SQLite and PostgreSQL
(bot/services/timeliness.py): `timeliness 2026` from a partnership manager in personal chat
offers a CSV and a Word document through the file delivery (Teams' file consent card, a
one-time link as the fallback); they count the year's referrals, decisions within 5 working
days and the National Panel notification that is late, with the reason the bot has; they name
cases by reference only. Anyone else is refused."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from cards import chat
from tests.integration.test_file_consent_http import FakeOneDrive, answer, consent_cards, events
from tests.support import activities as A
from tests.support.harness import CANARY_ADDRESS, CANARY_CHILD, BotHarness, fill_referral, find_action, texts

REF = "RR-2026-0001"
EVERYONE = (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.RILEY)
CANARIES = (CANARY_CHILD, CANARY_ADDRESS, "Zqxwv", "2017-02-03")


@pytest.fixture
async def bot(tmp_path: Path, database_url: str):  # noqa: ANN201
    async with BotHarness(tmp_path, database_url=database_url) as h, FakeOneDrive() as onedrive:
        h.onedrive = onedrive  # type: ignore[attr-defined]
        await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        for person in EVERYONE:
            await h.say(person, "hello")
        await fill_referral(h)  # RR-2026-0001: decided the same day
        await h.flush()
        vote = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
                "rationale": "The partners agree on this pathway for the case.",
                "serious_harm_basis": "Long-term impairment of the child's health is likely."}
        for who in (A.LAURA, A.DAN, A.NINA):
            assert (await h.press(who, "panel.vote", vote, channel=True))["statusCode"] == 200
        await h.flush()
        await fill_referral(h)  # RR-2026-0002: withdrawn before a decision
        await h.flush()
        assert "withdrawn and closed" in await h.say(A.PAT, "withdraw RR-2026-0002 referred by mistake")
        # three weeks on: the National Panel notification (5 working days from awareness) was never marked done
        h.clock.advance(days=21)
        yield h


def made(put: dict[str, Any]) -> bytes:
    body = put["body"]
    assert isinstance(body, bytes)
    return body


async def test_a_manager_gets_the_year_as_csv_and_word(bot: BotHarness) -> None:
    h = bot
    onedrive: FakeOneDrive = h.onedrive  # type: ignore[attr-defined]
    before = len(consent_cards(h))
    card = await h.say(A.PAT, "timeliness 2026")
    assert isinstance(card, dict), card
    shown = texts(card)
    assert "Timeliness 2026" in shown and "Referrals: 2" in shown, shown
    assert "Panel decisions within 5 working days: 1 of 1 on time" in shown
    assert "National Panel notifications within 5 working days: 0 of 1 on time" in shown
    await h.flush()
    offers = consent_cards(h)[before:]
    assert [c for c, _ in offers] == [A.PAT.chat, A.PAT.chat]
    assert [o["name"] for _, o in offers] == ["timeliness-2026.csv", "timeliness-2026.docx"]

    csv_context, docx_context = (o["content"]["acceptContext"] for _, o in offers)
    await answer(h, A.PAT, "accept", csv_context, onedrive.upload_url("timeliness-2026.csv"), "timeliness-2026.csv")
    await answer(h, A.PAT, "accept", docx_context, onedrive.upload_url("timeliness-2026.docx"),
                 "timeliness-2026.docx")
    assert len(onedrive.puts) == 2
    table = list(csv.reader(io.StringIO(made(onedrive.puts[0]).decode("utf-8-sig"))))
    assert table[0][0] == "Reference"
    rows = {r[0]: r for r in table[1:] if r and r[0].startswith("RR-")}
    assert set(rows) == {"RR-2026-0001", "RR-2026-0002"}
    assert rows["RR-2026-0001"][3:5] == ["yes", "no"]  # decided in time; notification late
    assert "National Panel notifications within 5 working days: not done yet" in rows["RR-2026-0001"][7]
    assert rows["RR-2026-0002"][3] == "n/a"  # withdrawn before a decision: nothing was due
    doc = Document(io.BytesIO(made(onedrive.puts[1])))
    words = "\n".join(p.text for p in doc.paragraphs)
    assert "Timeliness of rapid reviews: 2026" in words
    assert "RR-2026-0001 — National Panel notifications within 5 working days: not done yet" in words
    everything = made(onedrive.puts[0]).decode("utf-8-sig") + words + "\n".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert not [c for c in CANARIES if c in everything]  # references only
    reported = await events(h, "timeliness_reported")
    assert [e["detail"] for e in reported] == [{"year": 2026, "cases": 2}]
    assert len(await events(h, "file_uploaded")) == 2


async def test_the_link_instead_and_everyone_else_refused(bot: BotHarness) -> None:
    h = bot
    for who in (A.LAURA, A.CHRIS, A.RILEY):
        refused = await h.say(who, "timeliness 2026")
        assert "goes to the partnership managers" in str(refused), who
    assert "Say which year" in await h.say(A.PAT, "timeliness last year")
    assert "from 2000 to 2026" in await h.say(A.PAT, "timeliness 2031")

    card = await h.say(A.PAT, "timeliness 2026")
    assert isinstance(card, dict)
    data = find_action(card, chat.TIMELINESS_DOCX_LINK)
    body = await h.press(A.PAT, chat.TIMELINESS_DOCX_LINK, data)
    assert body["statusCode"] == 200, body
    url = next(a["url"] for a in body["value"]["actions"] if a.get("type") == "Action.OpenUrl")
    assert h.client is not None
    path = "/" + url.split("/", 3)[3]
    first = await h.client.get(path)
    assert first.status == 200
    assert Document(io.BytesIO(await first.read())).paragraphs  # a Word document
    assert (await h.client.get(path)).status == 410  # once only
    # another person pressing the same button gets nothing
    refused = await h.press(A.LAURA, chat.TIMELINESS_DOCX_LINK, data)
    assert refused["statusCode"] == 403 and "goes to the partnership managers" in refused["value"]["message"], refused
