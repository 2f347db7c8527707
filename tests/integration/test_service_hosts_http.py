"""The bot's token and the case cards go only to Bot Framework / Teams service hosts
(bot/adapters/service_hosts.py), over HTTP with the real bot.

A "hostile" host is reached through a recording HTTP proxy on 127.0.0.1 (HTTP(S)_PROXY, which
the kept connector clients honour): had the bot sent anything there, the recorder would hold
the request line, its headers (the Authorization header with a token) and the card.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import select, update

from bot.adapters.db import schema as t
from bot.services.referrals import PANEL_CHANNEL
from tests.integration.test_panel_http import REF, case_posts, events, refer
from tests.support import activities as A
from tests.support.harness import BotHarness


class Recorder:
    """A TCP server that records whatever is sent to it and answers like a connector."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Recorder:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await asyncio.wait_for(reader.read(65536), 2)
        except TimeoutError:
            data = b""
        self.received.append(data)
        body = b'{"id": "stolen"}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()


@pytest.fixture
async def hostile(monkeypatch):
    """Every request to a host other than loopback goes to the recorder."""
    async with Recorder() as recorder:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, recorder.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")
        yield recorder


@pytest.mark.parametrize("service_url", ["http://evil.example/emea/",
                                         "https://smba.trafficmanager.net.evil.example/emea/",
                                         "https://smba.trafficmanager.net@evil.example/emea/"])
async def test_a_stored_reference_to_another_host_is_never_sent_to(tmp_path, database_url, hostile, caplog,
                                                                   service_url):
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await refer(h)
        posts = len(case_posts(h))
        assert await h.say(A.NINA, f"show {REF}")  # enqueues a new post of the card to the panel channel
        async with h.c.db.write() as conn:  # the stored reference, tampered with
            await conn.execute(update(t.channels).where(t.channels.c.purpose == PANEL_CHANNEL)
                               .values(service_url=service_url))
        requests_before = len(h.connector.requests)

        with caplog.at_level(logging.WARNING):
            await h.flush()
            h.clock.advance(minutes=30)
            await h.flush()  # not retried

        assert hostile.received == []  # nothing went to the other host: no token, no card
        assert len(case_posts(h)) == posts
        # what did go out was the partnership manager's notice of the refusal, in a personal chat
        new = h.connector.requests[requests_before:]
        assert new and all(r.conversation_id and "rapid-review-panel" not in r.conversation_id for r in new)
        notices = [s for s in h.connector.sent_activities() if "A message was not sent" in json.dumps(s.activity)]
        assert len(notices) == 1
        async with h.c.db.read() as conn:
            rows = list(await conn.execute(select(t.outbox).where(t.outbox.c.key.like("%:repost:%"))))
        assert [(r.status, r.last_error, r.attempts) for r in rows] == [("failed", "service host not allowed", 1)]
        refused = await events(h, "service_host_refused")
        assert len(refused) == 1 and "emea" not in str(refused[0].detail)
        warnings = [r for r in caplog.records if r.getMessage() == "refused to send: service host not allowed"]
        assert warnings and all(r.levelno == logging.WARNING for r in warnings)
        assert all("/emea" not in str(r.__dict__) for r in caplog.records)


@pytest.mark.parametrize("edge", ["botbuilder", "agents"])
async def test_an_activity_from_another_service_host_is_refused_and_nothing_is_stored(tmp_path, database_url,
                                                                                      hostile, edge):
    """On both edges (TEAMS_EDGE): the gate is the same (bot/adapters/inbound.py)."""
    async with BotHarness(tmp_path, database_url=database_url, env={"teams_edge": edge}) as h:
        for url in ("https://evil.example/emea/", "http://evil.example/", "https://smba.trafficmanager.net.evil.example/"):
            status, _ = await h.post(A.message(url, A.RILEY, "hello"))
            assert status == 403
            status, _ = await h.post(A.channel_message(url, A.PAT, "use this channel for the panel"))
            assert status == 403
        assert hostile.received == [] and h.connector.requests == []
        async with h.c.db.read() as conn:
            assert list(await conn.execute(select(t.conversation_refs))) == []
            assert list(await conn.execute(select(t.channels))) == []
            assert list(await conn.execute(select(t.processed_activities))) == []
        # the loopback fake connector of local mode is still answered
        assert await h.say(A.RILEY, "hello")
