"""The real bot over HTTP, with its outgoing calls captured by a fake Bot Connector.

The aiohttp app is the one `python -m bot` serves (build_web_app over bootstrap), on a
real socket on 127.0.0.1; only the clock and the database location are chosen by the
test.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.clock import FixedClock
from bot.app import Components, bootstrap, build_web_app
from bot.settings import DEFAULT_PARTNERSHIP_FILE, Settings
from bot.teams.pacer import ConversationPacer
from bot.turns.notifier import CardNotifier
from tests.support import activities as A
from tests.support.fake_connector import FakeConnector
from tests.support.fake_time import FakeMonotonic

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
# Outside local mode (Bot Framework credentials set) the bot needs a master key (docs/data-protection.md).
TEST_MASTER_KEY = "dGVzdHMtb25seS1tYXN0ZXIta2V5LW5vdC1hLXNlY3I="  # noqa: S105 - a test key, 32 bytes


def walk(element: Any) -> Iterator[dict[str, Any]]:
    if isinstance(element, dict):
        yield element
        for value in element.values():
            yield from walk(value)
    elif isinstance(element, list):
        for value in element:
            yield from walk(value)


def find_action(card: dict[str, Any], verb: str, **match: Any) -> dict[str, Any]:
    for element in walk(card):
        if element.get("type") == "Action.Execute" and element.get("verb") == verb:
            data = element.get("data", {})
            if all(data.get(k) == v for k, v in match.items()):
                return data
    raise AssertionError(f"no {verb} action {match} on the card")


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in walk(card) if str(e.get("type", "")).startswith("Input.") and "id" in e}


def errors(card: dict[str, Any]) -> list[str]:
    return [e["text"] for e in walk(card) if e.get("type") == "TextBlock" and e.get("color") == "Attention"]


def texts(card: dict[str, Any]) -> str:
    parts = [e.get("text", "") for e in walk(card) if e.get("type") in ("TextBlock", "TextRun")]
    parts += [f"{f['title']}: {f['value']}" for e in walk(card) if e.get("type") == "FactSet" for f in e["facts"]]
    return "\n".join(parts)


class BotHarness:
    def __init__(self, tmp_path: Path, *, database_url: str | None = None, clock: FixedClock | None = None,
                 env: dict[str, Any] | None = None, partnership_file: Path | None = None,
                 edge: str | None = None) -> None:
        # The pacer's clock and the connector's arrival times: pacing a burst of posts to one
        # channel under Teams' limits takes fake seconds, not real ones.
        self.monotonic = FakeMonotonic()
        self.connector = FakeConnector(monotonic=self.monotonic)
        self.clock = clock or FixedClock(NOW)
        self.database_url = database_url or f"sqlite:///{tmp_path / 'bot.db'}"
        self.env = env or {}
        self.partnership_file = partnership_file or DEFAULT_PARTNERSHIP_FILE
        self.components: Components | None = None
        self.client: TestClient | None = None
        # `edge`: served from start-up on (`serve_on`); or as `serve_on` switched, kept across a restart
        self.served_on = edge or str(self.env.get("teams_edge", "botbuilder"))
        self._endpoints: dict[str, Any] = {}
        self._wires: dict[str, Any] = {}
        self.sdk_sleeps: list[float] = []  # what the connector clients waited between retries, not in real time

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def c(self) -> Components:
        assert self.components is not None
        return self.components

    async def __aenter__(self) -> BotHarness:
        await self.connector.start()
        for person in (A.RILEY, A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.DEE, A.MALLORY):
            self.connector.add_user(person.mri, person.name, aad_object_id=person.aad,
                                    email=f"{person.key.replace('-', '.')}@example.org",
                                    user_principal_name=f"{person.key.replace('-', '.')}@example.org")
        settings = Settings.model_validate(
            {"database_url": self.database_url, "partnership_file": str(self.partnership_file),
             "card_update_after_answer_ms": 0,  # no test waits in real time
             **({"master_key": TEST_MASTER_KEY} if self.env.get("app_id") else {}), **self.env}
        )
        settings.check()
        # The Agents SDK edge (TEAMS_EDGE=agents in `env`) is not complete, so start-up refuses it;
        # the tests run what there is of it.
        self.components = bootstrap(settings, clock=self.clock)
        # The kept connector clients (bot/teams/sdk.py) wait out Retry-After and back-offs on this sleep.
        self.components.adapter.bot_framework_authentication.sleep = self._sdk_sleep
        # The fake connector listens on loopback, which only local mode may send to; a test of
        # production mode (credentials set) lets this bot reach loopback too.
        self.components.endpoint.hosts.loopback = True
        notifier = self.components.services.notifier
        assert isinstance(notifier, CardNotifier)
        notifier.pacer = ConversationPacer(monotonic=self.monotonic, sleep=self.monotonic.sleep)
        self._endpoints = {str(settings.teams_edge.value): self.components.endpoint}
        self._wires = {str(settings.teams_edge.value): notifier.wire}
        await self.serve_on(self.served_on)
        app = build_web_app(self.components, run_outbox=False)
        self.client = TestClient(TestServer(app, host="127.0.0.1"))
        await self.client.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.close()
        if self.components is not None:  # what the process kept for its next write, as a stop writes it
            await self.components.db.deferred.close()
        await self.connector.stop()

    async def serve_on(self, edge: str) -> None:
        """From now on `/api/messages` is answered by this edge (TEAMS_EDGE), in the same process,
        database and fake connector: as a deployment switched edge between two turns."""
        self.served_on = edge
        if edge not in self._endpoints:
            from bot.app import agents_endpoint, agents_wire

            assert edge == "agents", f"{edge} is not built by this harness after start-up"
            self._endpoints[edge] = agents_endpoint(self.c, self.c.endpoint.hosts)
            self._wires[edge] = agents_wire(self.c.settings, self.c.endpoint.hosts, self.c.extras)
        self.c.endpoint = self._endpoints[edge]
        notifier = self.c.services.notifier
        assert isinstance(notifier, CardNotifier)
        notifier.wire = self._wires[edge]

    async def _sdk_sleep(self, seconds: float) -> None:
        self.sdk_sleeps.append(seconds)
        await asyncio.sleep(0)

    async def restart(self) -> None:
        """A new process on the same database: new adapter, new bot, nothing in memory."""
        await self.__aexit__(None, None, None)
        self.connector = FakeConnector(port=self.connector.port, monotonic=self.monotonic)
        await self.__aenter__()

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        assert self.client is not None
        response = await self.client.post(
            "/api/messages", data=json.dumps(activity),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        text = await response.text()
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        return response.status, body

    async def say(self, person: A.Person, text: str) -> dict[str, Any] | str:
        """A personal-chat message; returns the bot's reply (card or text)."""
        before = len(self.connector.sent_activities())
        status, _ = await self.post(A.message(self.url, person, text))
        assert status in (200, 201), status
        sent = self.connector.sent_activities()[before:]
        assert sent, f"the bot did not answer {text!r}"
        return reply_of(sent[-1].activity)

    async def press(self, person: A.Person, verb: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """An Action.Execute press; returns the invoke response body."""
        status, body = await self.post(A.invoke(self.url, person, verb, data, **kw))
        assert status == 200, (status, body)
        return body

    async def flush(self) -> int:
        return await self.c.outbox.dispatch_due()


def without_reference(text: str) -> str:
    """An error reply without the turn's " (reference ab12cd34)" (bot/domain/trace.py)."""
    return re.sub(r" \(reference [0-9a-f]{8}\)$", "", text)


def reply_of(activity: dict[str, Any]) -> dict[str, Any] | str:
    attachments = activity.get("attachments") or []
    if attachments:
        return attachments[0]["content"]
    return activity.get("text", "")


# ---- a complete, valid referral --------------------------------------------------------------

CANARY_CHILD = "Zqxwv Canary"
CANARY_DOB = "2017-02-03"
CANARY_ADDRESS = "ZZ99 9ZZ Canary Lane"

VALID = {
    "referrer": {"agency": "Education (school or college)", "name": "Riley Referrer",
                 "email": "riley.referrer@example.org", "job_title": "Designated safeguarding lead",
                 "telephone": "0161 000 0000", "discussed_with": "Head teacher; children's social care duty team",
                 "lead_name": "Sam Lead", "lead_role": "Deputy head", "lead_contact": "sam.lead@example.org"},
    "pathway": {"pathway": "A"},
    "incident": {"incident_date": "2026-11-20", "incident_time": "14:30", "incident_location": CANARY_ADDRESS,
                 "outcome": "seriously_harmed", "abuse_or_neglect": "suspected", "looked_after": "no",
                 "outside_england": "no", "institutional_setting": "no", "other_areas": "",
                 "la_aware_date": "2026-11-21", "summary": "Admitted to hospital with unexplained injuries."},
    "children": {"c1_name": CANARY_CHILD, "c1_date_of_birth": CANARY_DOB, "c1_gender": "female",
                 "c1_disability": "", "c1_ethnicity": "White British", "c1_current_location": "Hospital ward",
                 "c1_care_status": "none", "family_members": "Mother, stepfather"},
    "views": {"meets_criteria": "Serious injury with suspected abuse.", "worked_well": "Quick hospital referral",
              "not_worked_well": "Information sharing between school and GP", "key_issues": "Missed signs",
              "family_consulted": "no", "family_not_consulted_reason": "Police investigation ongoing",
              "key_worker_consulted": "yes"},
}
SECTION_ORDER = ["referrer", "pathway", "incident", "children", "views"]


async def fill_referral(h: BotHarness, person: A.Person = A.RILEY, answers: dict[str, dict[str, str]] | None = None,
                        *, submit: bool = True) -> dict[str, Any]:
    """Walk the whole form through HTTP invokes on the edge serving (`served_on`); returns the
    last card shown."""
    answers = answers or VALID
    card = await h.say(person, "refer")
    assert isinstance(card, dict)
    for section in SECTION_ORDER:
        data = find_action(card, "form.next")
        body = await h.press(person, "form.next", {**data, **answers[section]})
        card = body["value"]
        assert not errors(card), (section, errors(card))
    if submit:
        data = find_action(card, "form.submit")
        body = await h.press(person, "form.submit", {**data, "senior_manager_reviewed": "true"})
        card = body["value"]
    return card
