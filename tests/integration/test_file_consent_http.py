"""Records go to a person as a file in their OneDrive, through Teams' file consent card.

Everything through the Bot Framework HTTP path: the record card's button and the `export`
command offer the file; the outbox sends the consent card to that person's personal chat
only; Teams' `fileConsent/invoke` (Allow or Decline) comes back as an activity, and the
accepted file is PUT to an upload URL on a stand-in for OneDrive (an aiohttp server on
loopback, which only local mode may upload to). Refusals — another person, a second answer,
an expired offer, an upload host that is not OneDrive — upload nothing and are audited.
Every test runs on both Teams edges (botbuilder and the Microsoft 365 Agents SDK), SQLite and
PostgreSQL; the referral that starts each case is made on botbuilder, whose form it is so far.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.services.delivery import CONSENT_MINUTES
from bot.teams.exports import OFFER_GONE
from cards import chat, meeting_cards
from cards.file_cards import FILE_CONSENT, FILE_INFO, LINK_INSTEAD
from tests.integration.test_case_export import DANA, _with_dpo
from tests.integration.test_meeting_graph import (
    OUTCOME,
    M,
    cards_to,
    decide,
    meeting_of,
    open_urls,
    walk_to_outcome_card,
)
from tests.support import activities as A
from tests.support.harness import CANARY_ADDRESS, CANARY_CHILD, BotHarness, find_action, texts

REF = "RR-2026-0001"
RECORD_NAME = f"{REF}-rapid-review-record.docx"


@dataclass
class FakeOneDrive:
    """Stands in for a OneDrive upload session: records every PUT (headers and bytes)."""

    status: int = 201
    puts: list[dict[str, Any]] = field(default_factory=list)
    server: TestServer | None = None

    async def _put(self, request: web.Request) -> web.Response:
        self.puts.append({"path": request.path, "headers": dict(request.headers), "body": await request.read()})
        return web.json_response({"id": "01ABC", "name": request.match_info["name"]}, status=self.status)

    async def __aenter__(self) -> FakeOneDrive:
        app = web.Application()
        app.router.add_put("/personal/upload/{name}", self._put)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        await self.server.close()

    def upload_url(self, name: str = RECORD_NAME) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}/personal/upload/{name}"


def consent_invoke(h: BotHarness, person: A.Person, action: str, context: Any, upload_url: str | None,
                   name: str = RECORD_NAME) -> dict[str, Any]:
    """Teams' invoke when `person` presses Allow or Decline on a file consent card."""
    activity = A.invoke(h.url, person, "unused", {})
    value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context}
    if action == "accept":
        value["uploadInfo"] = {"contentUrl": f"https://contoso-my.sharepoint.com/personal/x/Documents/{name}",
                               "fileType": name.rsplit(".", 1)[-1], "name": name, "uploadUrl": upload_url,
                               "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C"}
    activity.update({"name": "fileConsent/invoke", "value": value})
    return activity


async def answer(h: BotHarness, person: A.Person, action: str, context: Any, upload_url: str | None = None,
                 name: str = RECORD_NAME) -> None:
    status, body = await h.post(consent_invoke(h, person, action, context, upload_url, name))
    assert (status, body) == (200, {}), "Teams is answered, with nothing to read: what happened is said in the chat"


def consent_cards(h: BotHarness) -> list[tuple[str, dict[str, Any]]]:
    """(conversation, attachment) of every file consent card the bot sent, anywhere."""
    return [(s.conversation_id, a) for s in h.connector.sent_activities() for a in s.attachments
            if a.get("contentType") == FILE_CONSENT]


async def events(h: BotHarness, kind: str) -> list[dict[str, Any]]:
    async with h.c.db.read() as conn:
        rows = await conn.execute(select(t.events).where(t.events.c.kind == kind).order_by(t.events.c.id))
        return [dict(r._mapping) for r in rows]


async def record_ready(h: BotHarness) -> str:
    """A decided case whose meeting outcome is recorded: the record card is in the chair's chat."""
    case_id = await decide(h)
    card = await walk_to_outcome_card(h, case_id)
    assert (await h.press(A.CHRIS, M.OUTCOME, {**find_action(card, M.OUTCOME), **OUTCOME}))["statusCode"] == 200
    await h.flush()
    return case_id


async def offer_record(h: BotHarness, person: A.Person = A.CHRIS) -> dict[str, Any]:
    """Press "Save the record to my OneDrive" on the record card; the outbox sends the consent
    card. Returns the card's accept context."""
    [record_card] = cards_to(h, person.chat, "Rapid review record")[-1:]
    body = await h.press(person, meeting_cards.RECORD_FILE, find_action(record_card, meeting_cards.RECORD_FILE))
    assert body["statusCode"] == 200 and "Press **Allow**" in texts(body["value"])
    assert find_action(body["value"], meeting_cards.RECORD_LINK)  # the link stays as the fallback
    await h.flush()
    conversation, consent = consent_cards(h)[-1]
    assert conversation == person.chat
    return consent["content"]["acceptContext"]


async def test_the_chair_saves_the_record_to_their_onedrive(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h, FakeOneDrive() as onedrive:
        case_id = await record_ready(h)
        context = await offer_record(h)

        # The consent card went to the chair's personal chat and nowhere else, and says nothing of the case.
        [(conversation, consent)] = consent_cards(h)
        assert conversation == A.CHRIS.chat
        assert consent["name"] == RECORD_NAME and consent["content"]["sizeInBytes"] > 1000
        assert set(context) == {"offer"} and consent["content"]["declineContext"] == context
        assert len(context["offer"]) >= 40  # an opaque one-time id, not a reference or a case id
        assert case_id not in json.dumps(consent)
        assert CANARY_CHILD not in json.dumps(consent) and CANARY_ADDRESS not in json.dumps(consent)
        assert not onedrive.puts  # nothing is uploaded before Allow

        await answer(h, A.CHRIS, "accept", context, onedrive.upload_url())
        [put] = onedrive.puts
        size = len(put["body"])
        assert put["headers"]["Content-Range"] == f"bytes 0-{size - 1}/{size}"
        assert put["headers"]["Content-Length"] == str(size)
        assert "Authorization" not in put["headers"]  # the upload URL is pre-authenticated: no token goes with it
        document = zipfile.ZipFile(io.BytesIO(put["body"]))  # the Word document itself
        assert CANARY_CHILD in document.read("word/document.xml").decode()

        # Teams is shown the file as a file card in the same chat.
        [info] = [a for s in h.connector.activities_to(A.CHRIS.chat) for a in s.attachments
                  if a.get("contentType") == FILE_INFO]
        assert info["name"] == RECORD_NAME and info["contentUrl"].startswith("https://contoso-my.sharepoint.com/")
        assert info["content"]["uniqueId"] == "1150D938-8870-4044-9F2C-5BBDEBA70C8C"

        for kind in ("file_offered", "file_accepted", "file_uploaded"):
            [event] = await events(h, kind)
            assert (event["actor_aad_id"], event["case_id"]) == (A.CHRIS.aad, case_id)
            assert event["detail"]["what"] == "rapid_review_record"
            assert RECORD_NAME not in json.dumps(event["detail"])  # no file names in the audit
        viewed = [e for e in await events(h, "identifiers_viewed") if e["detail"].get("via") == "file consent"]
        assert [e["actor_aad_id"] for e in viewed] == [A.CHRIS.aad]

        # Who received which file: one store method the retention purge can call.
        [delivered] = await h.c.bot.exports.links.deliveries_of(case_id)
        assert (delivered.via, delivered.kind, delivered.issued_to, delivered.outcome) == (
            "consent", "rapid_review_record", A.CHRIS.aad, "uploaded")
        assert delivered.received and delivered.delivered_at == h.clock.now()

        # Allow pressed again (a second window, a replay): refused, nothing uploaded, audited.
        await answer(h, A.CHRIS, "accept", context, onedrive.upload_url())
        assert len(onedrive.puts) == 1
        [refused] = await events(h, "file_offer_refused")
        assert refused["detail"]["why"] == "used" and refused["actor_aad_id"] == A.CHRIS.aad
        assert h.connector.activities_to(A.CHRIS.chat)[-1].text == OFFER_GONE


async def test_another_person_or_an_expired_offer_gets_nothing(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h, FakeOneDrive() as onedrive:
        case_id = await record_ready(h)
        context = await offer_record(h)

        # The manager presses Allow with the chair's offer (the context is only data: who pressed
        # comes from the activity).
        await answer(h, A.PAT, "accept", context, onedrive.upload_url())
        await answer(h, A.MALLORY, "decline", context)
        assert not onedrive.puts
        refused = await events(h, "file_offer_refused")
        assert [(e["actor_aad_id"], e["detail"]["why"], e["detail"]["offered_to"]) for e in refused] == [
            (A.PAT.aad, "not_yours", A.CHRIS.aad), (A.MALLORY.aad, "not_yours", A.CHRIS.aad)]
        assert not await events(h, "file_accepted") and not await events(h, "file_declined")
        assert h.connector.activities_to(A.PAT.chat)[-1].text == OFFER_GONE

        # An hour later the chair's own Allow is refused too: the offer has expired.
        h.clock.set(h.clock.now() + timedelta(minutes=CONSENT_MINUTES, seconds=1))
        await answer(h, A.CHRIS, "accept", context, onedrive.upload_url())
        assert not onedrive.puts
        assert (await events(h, "file_offer_refused"))[-1]["detail"]["why"] == "expired"

        # An id nobody issued, or no id at all: refused alike.
        await answer(h, A.CHRIS, "accept", {"offer": "x" * 43}, onedrive.upload_url())
        await answer(h, A.CHRIS, "accept", {"case": REF}, onedrive.upload_url())
        assert not onedrive.puts
        assert (await events(h, "file_offer_refused"))[-1]["detail"]["why"] == "unknown"

        # Asking again gives a new offer, which works.
        fresh = await offer_record(h)
        assert fresh != context
        await answer(h, A.CHRIS, "accept", fresh, onedrive.upload_url())
        assert len(onedrive.puts) == 1
        deliveries = await h.c.bot.exports.links.deliveries_of(case_id)
        assert [(d.outcome, d.received) for d in deliveries] == [(None, False), ("uploaded", True)]


@pytest.mark.parametrize("upload_url", [
    "https://evil.example.com/upload/file.docx",              # not OneDrive
    "http://contoso-my.sharepoint.com/personal/upload/x",     # OneDrive's host, but not https
    "https://contoso-my.sharepoint.com.evil.example/upload",  # a look-alike host
    "https://user@contoso-my.sharepoint.com@evil.example/x",  # userinfo tricks
])
async def test_an_upload_url_that_is_not_onedrive_gets_nothing(tmp_path: Path, upload_url: str,
                                                               database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h, FakeOneDrive() as onedrive:
        case_id = await record_ready(h)
        context = await offer_record(h)
        await answer(h, A.CHRIS, "accept", context, upload_url)
        assert not onedrive.puts
        refused = [e for e in await events(h, "file_offer_refused") if e["detail"]["why"] == "upload_host"]
        assert [(e["actor_aad_id"], e["case_id"]) for e in refused] == [(A.CHRIS.aad, case_id)]
        assert "/" not in refused[0]["detail"]["host"].removeprefix("https://").removeprefix("http://")
        assert not await events(h, "file_uploaded")
        [delivered] = await h.c.bot.exports.links.deliveries_of(case_id)
        assert (delivered.outcome, delivered.received) == ("failed", False)

        # The chair is offered the one-time link instead, and it works.
        [fallback] = cards_to(h, A.CHRIS.chat, "could not be saved in your OneDrive")
        body = await h.press(A.CHRIS, meeting_cards.RECORD_LINK, find_action(fallback, meeting_cards.RECORD_LINK))
        [url] = open_urls(body["value"]).values()
        response = await h.client.get(url.removeprefix("http://localhost:3978"))
        assert response.status == 200 and (await response.read()).startswith(b"PK")


async def test_a_failed_upload_offers_the_link(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h, FakeOneDrive(status=500) as onedrive:
        case_id = await record_ready(h)
        await answer(h, A.CHRIS, "accept", await offer_record(h), onedrive.upload_url())
        assert len(onedrive.puts) == 1
        [failed] = await events(h, "file_upload_failed")
        assert failed["actor_aad_id"] == A.CHRIS.aad and "500" in failed["detail"]["why"]
        assert not await events(h, "file_uploaded")
        assert cards_to(h, A.CHRIS.chat, LINK_INSTEAD)
        assert not [a for s in h.connector.sent_activities() for a in s.attachments
                    if a.get("contentType") == FILE_INFO]
        [delivered] = await h.c.bot.exports.links.deliveries_of(case_id)
        assert delivered.outcome == "failed"


async def test_decline_is_audited_and_offers_the_link(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h, FakeOneDrive() as onedrive:
        case_id = await record_ready(h)
        context = await offer_record(h)
        await answer(h, A.CHRIS, "decline", context)
        [declined] = await events(h, "file_declined")
        assert (declined["actor_aad_id"], declined["case_id"]) == (A.CHRIS.aad, case_id)
        [fallback] = cards_to(h, A.CHRIS.chat, "You declined the file")
        assert find_action(fallback, meeting_cards.RECORD_LINK)

        # A declined offer cannot be accepted afterwards.
        await answer(h, A.CHRIS, "accept", context, onedrive.upload_url())
        assert not onedrive.puts
        assert (await events(h, "file_offer_refused"))[-1]["detail"]["why"] == "used"
        [delivered] = await h.c.bot.exports.links.deliveries_of(case_id)
        assert (delivered.outcome, delivered.received) == ("declined", False)


async def test_the_dpo_export_goes_to_the_dpo_as_a_file(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, partnership_file=_with_dpo(tmp_path),
                          database_url=database_url, edge=edge) as h, FakeOneDrive() as onedrive:
        case_id = await record_ready(h)
        await h.say(DANA, "help")  # the DPO has talked to the bot: the outbox can reach their chat
        offer = await h.say(DANA, f"export {REF}")
        assert isinstance(offer, dict) and find_action(offer, chat.EXPORT_LINK)
        await h.flush()
        [(conversation, consent)] = consent_cards(h)
        assert conversation == DANA.chat and consent["name"] == f"{REF}-export.zip"

        await answer(h, DANA, "accept", consent["content"]["acceptContext"],
                     onedrive.upload_url(f"{REF}-export.zip"), f"{REF}-export.zip")
        [put] = onedrive.puts
        archive = zipfile.ZipFile(io.BytesIO(put["body"]))
        assert "case.json" in archive.namelist() and "Authorization" not in put["headers"]
        [exported] = await events(h, "case_exported")
        assert exported["actor_aad_id"] == DANA.aad and exported["detail"]["via"] == "file consent"
        [delivered] = await h.c.bot.exports.links.deliveries_of(case_id)
        assert (delivered.kind, delivered.issued_to, delivered.received) == ("case_export", DANA.aad, True)

        # Nobody else is offered anything: the same answer as before, and no offer recorded.
        reply = await h.say(A.PAT, f"export {REF}")
        assert "data protection officer" in json.dumps(reply)
        assert len(consent_cards(h)) == 1


async def test_the_chair_saves_their_notes_as_a_word_document(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h, FakeOneDrive() as onedrive:
        case_id = await decide(h)
        record = await meeting_of(h, case_id)
        h.clock.set(record.start_at - timedelta(minutes=5))
        await h.flush()
        [notes] = cards_to(h, A.CHRIS.chat, "CONFIDENTIAL WHEN COMPLETED")
        assert find_action(notes, meeting_cards.NOTES_LINK)  # the link as the fallback
        body = await h.press(A.CHRIS, meeting_cards.NOTES_FILE, find_action(notes, meeting_cards.NOTES_FILE))
        assert body["statusCode"] == 200 and "Press **Allow**" in texts(body["value"])
        await h.flush()
        [(conversation, consent)] = consent_cards(h)
        name = f"{REF}-chair-notes.docx"
        assert conversation == A.CHRIS.chat and consent["name"] == name
        await answer(h, A.CHRIS, "accept", consent["content"]["acceptContext"], onedrive.upload_url(name), name)
        [put] = onedrive.puts
        text = zipfile.ZipFile(io.BytesIO(put["body"])).read("word/document.xml").decode()
        assert "chair's notes" in text and "Assessment of need by the core panel" in text
        assert "OFFICIAL-SENSITIVE" in zipfile.ZipFile(io.BytesIO(put["body"])).read("word/header1.xml").decode()
        [delivered] = await h.c.bot.exports.links.deliveries_of(case_id)
        assert (delivered.kind, delivered.issued_to, delivered.received) == ("chair_notes", A.CHRIS.aad, True)

        # A panel member cannot have the chair's notes, by file or by link.
        for verb in (meeting_cards.NOTES_FILE, meeting_cards.NOTES_LINK):
            refused = await h.press(A.LAURA, verb, find_action(notes, verb))
            assert refused["statusCode"] == 403
        assert len(consent_cards(h)) == 1

        # The one-time link works once.
        body = await h.press(A.CHRIS, meeting_cards.NOTES_LINK, find_action(notes, meeting_cards.NOTES_LINK))
        [url] = open_urls(body["value"]).values()
        path = url.removeprefix("http://localhost:3978")
        assert (await h.client.get(path)).status == 200 and (await h.client.get(path)).status == 410


async def test_no_file_or_link_is_given_in_a_channel(tmp_path: Path, database_url: str, edge: str) -> None:
    """The buttons are on cards in personal chats only; a press that claims to come from the
    panel channel (a forged or copied card) gets no link and no file offer, and is audited."""
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await record_ready(h)
        [record_card] = cards_to(h, A.CHRIS.chat, "Rapid review record")[-1:]
        for verb in (meeting_cards.RECORD_FILE, meeting_cards.RECORD_LINK):
            body = await h.press(A.CHRIS, verb, find_action(record_card, verb), channel=True)
            assert body["statusCode"] == 403 and "personal chat" in json.dumps(body)
            assert not open_urls(body.get("value") if isinstance(body.get("value"), dict) else {})
        await h.flush()
        assert not consent_cards(h)
        tampers = [e for e in await events(h, "tamper") if "outside personal chat" in e["detail"]["reason"]]
        assert len(tampers) == 2
        async with h.c.db.read() as conn:
            assert not (await conn.execute(select(t.file_links))).first()
