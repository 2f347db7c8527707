"""No message twice after a crash (README, Security: what happens on a bad day).

Real `python -m bot` processes on one SQLite database, killed with SIGKILL at the worst
moment: the fake Bot Connector has recorded and accepted a post but holds back its answer,
so the message is in Teams and the bot does not know it. The restarted process (its outbox
lease is 2 s here, OUTBOX_LEASE_SECONDS) must settle that send before posting anything:

* in the panel channel with Microsoft Graph, by reading the channel's messages back (the fake
  Graph answers them from what the connector accepted) and adopting the one whose card carries
  the send's key, so nothing is posted twice and the case card's later updates go to it;
* without Graph, or in a personal chat (which the bot cannot read back), by sending it once
  more with a visible "Re-sent after a restart" line and an audited event, and never a third time.

The state before the crash is made in-process (BotHarness, fixed clock) on the same database;
only the deliveries run in the real processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from bot.adapters.db import schema as t
from bot.domain.case import Actor
from bot.services import deadlines
from bot.services.referrals import submit_referral
from bot.settings import DEFAULT_PARTNERSHIP_FILE, REPO_ROOT
from tests.conftest import make_referral
from tests.support import activities as A
from tests.support import reminders as sent_reminders
from tests.support.fake_connector import FakeConnector
from tests.support.fake_graph import FakeGraph
from tests.support.harness import BotHarness, fill_referral, texts, walk

# The team's Microsoft 365 group id, which Teams sends in channelData.team.aadGroupId and Graph
# addresses the team by (the thread id in channelData.team.id is not a Graph id).
GROUP_ID = "6f4b3a2e-1c5d-4e8f-9a0b-1c2d3e4f5a6b"
RESENT = "Re-sent after a restart"
REF = "RR-2026-0001"
LEASE_SECONDS = 2
HOLD_SECONDS = 120.0
START_TIMEOUT = 60.0


# ---- real bot processes -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    """`python -m bot` in local mode on the test's database, its output in a log file."""

    def __init__(self, tmp_path: Path, database_url: str, name: str, graph: FakeGraph | None) -> None:
        self.port = _free_port()
        self.log = tmp_path / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "GRAPH_", "RR_"))}
        env.update({"PORT": str(self.port), "DATABASE_URL": database_url, "BOT_ENV": "local", "LOG_LEVEL": "INFO",
                    "MicrosoftAppId": "", "MicrosoftAppPassword": "", "PARTNERSHIP_FILE": str(DEFAULT_PARTNERSHIP_FILE),
                    "PUBLIC_BASE_URL": f"http://localhost:{self.port}", "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
                    "PYTHONPATH": str(REPO_ROOT)})
        if graph is not None:  # msal (requests) reaches the fake identity platform over https it must trust
            env.update({"GRAPH_TENANT_ID": graph.tenant_id, "GRAPH_CLIENT_ID": graph.client_id,
                        "GRAPH_CLIENT_SECRET": graph.client_secret, "GRAPH_ORGANISER": graph.organiser,
                        "GRAPH_BASE_URL": graph.graph_base, "GRAPH_AUTHORITY_HOST": graph.login_url,
                        "REQUESTS_CA_BUNDLE": str(graph.ca_file), "NO_PROXY": "127.0.0.1,localhost"})
        with self.log.open("wb") as handle:
            self.popen = subprocess.Popen([sys.executable, "-m", "bot"], cwd=tmp_path, env=env,
                                          stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.popen.poll() is None, f"the bot exited:\n{self.tail()}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the bot did not start:\n{self.tail()}")

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.post(f"{self.url}/api/messages",
                                                                     json=activity) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last write."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for proc in started:
        proc.kill()


async def start_bot(processes: list[BotProcess], tmp_path: Path, database_url: str,
                    graph: FakeGraph | None) -> BotProcess:
    proc = BotProcess(tmp_path, database_url, f"bot-{len(processes) + 1}", graph)
    processes.append(proc)
    await proc.ready()
    return proc


async def wait_until(condition: Callable[[], Any], what: str, procs: list[BotProcess],
                     timeout: float = 100.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs)
            raise AssertionError(f"{what}: not within {timeout:.0f}s\n{logs}")
        await asyncio.sleep(0.05)


# ---- what the database and the connector hold --------------------------------------------------------


def sql(database: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as conn:
        return conn.execute(query, args).fetchall()


def events(database: Path, kind: str) -> list[dict[str, Any]]:
    return [json.loads(detail) if isinstance(detail, str) else detail
            for (detail,) in sql(database, "SELECT detail FROM events WHERE kind = ?", kind)]


def outbox_done(database: Path, kind: str) -> bool:
    rows = sql(database, "SELECT status FROM outbox WHERE kind = ?", kind)
    return bool(rows) and all(status == "sent" for (status,) in rows)


def cards_in(connector: FakeConnector, conversation: str) -> list[tuple[str, dict[str, Any]]]:
    """(activity id, card) of every new message the connector accepted in the conversation."""
    return [(sent.activity_id, a["content"]) for sent in connector.activities_to(conversation)
            if sent.kind == "send" for a in sent.attachments]


def case_cards(connector: FakeConnector) -> list[tuple[str, dict[str, Any]]]:
    return [(activity_id, card) for activity_id, card in cards_in(connector, A.PANEL_CHANNEL_ID)
            if any(e.get("type") == "Action.Execute" and e.get("verb") == "case.view" for e in walk(card))]


def reminder_messages(connector: FakeConnector) -> list[tuple[str, dict[str, Any]]]:
    """(conversation, card) of every message carrying reminders, to anyone, in order."""
    return [(sent.conversation_id, a["content"]) for sent in connector.sent_activities()
            if sent.kind == "send" for a in sent.attachments[:1]
            if isinstance(a.get("content"), dict) and sent_reminders.cards_of(a["content"])]


def reminders(connector: FakeConnector) -> list[tuple[tuple[str, str, str], dict[str, Any]]]:
    """((reminder line, headline, conversation), card) of every reminder sent, digests unpacked:
    the same triple twice is the same reminder sent twice to the same person."""
    return [((*sent_reminders.identity(one.card), one.conversation), one.card)
            for one in sent_reminders.delivered(connector.sent_activities())]


def bind_in(connector_url: str) -> dict[str, Any]:
    """"use this channel for the panel", as Teams sends it: the team with its group id."""
    activity = A.channel_message(connector_url, A.PAT, "use this channel for the panel")
    activity["channelData"]["team"]["aadGroupId"] = GROUP_ID
    return activity


def add_people(connector: FakeConnector) -> None:
    for person in (A.RILEY, A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.DEE, A.MALLORY):
        connector.add_user(person.mri, person.name, aad_object_id=person.aad)


# ---- (a) the case card ----------------------------------------------------------------------------


async def test_a_case_card_accepted_just_before_a_kill_is_found_and_updated_never_posted_again(
        tmp_path: Path, processes: list[BotProcess]) -> None:
    database = tmp_path / "bot.db"
    url = f"sqlite:///{database}"
    async with BotHarness(tmp_path, database_url=url) as h:  # a referral submitted; its card not yet posted
        status, _ = await h.post(bind_in(h.url))
        assert status in (200, 201)
        for person in (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA):
            await h.say(person, "hello")
        await fill_referral(h)
        port = h.connector.port

    with FakeGraph() as graph:
        async with FakeConnector(port=port) as connector:
            add_people(connector)
            graph.show_channel(GROUP_ID, A.PANEL_CHANNEL_ID, connector)
            connector.hold_answers(HOLD_SECONDS, A.PANEL_CHANNEL_ID)
            first = await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: case_cards(connector), "the case card reached the channel", processes)
            first.kill()  # Teams has the card; the bot never heard its id
            connector.hold_answers(0)
            [(card_id, card)] = case_cards(connector)
            assert sql(database, "SELECT panel_activity_id FROM cases") == [(None,)]

            second = await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: sql(database, "SELECT panel_activity_id FROM cases") != [(None,)],
                             "the case's card settled", processes)
            assert len(case_cards(connector)) == 1, "the case card was posted twice"
            assert sql(database, "SELECT panel_activity_id FROM cases") == [(card_id,)]
            ballot = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
                      "rationale": "Serious injuries and suspected abuse by a carer.",
                      "serious_harm_basis": "Long-term impairment of the child's physical health is likely."}
            status, body = await second.post(A.invoke(connector.url, A.LAURA, "panel.vote", ballot, channel=True))
            assert status == 200 and body["statusCode"] == 200, body
            await wait_until(lambda: any(u.activity_id == card_id for u in connector.updates()),
                             "the vote shown on the adopted card", processes)

            assert len(case_cards(connector)) == 1, "the case card was posted twice"
            assert {u.activity_id for u in connector.updates()
                    if u.conversation_id.startswith(A.PANEL_CHANNEL_ID)} == {card_id}
            assert RESENT not in texts(card)
            assert graph.requests_of("channelMessages"), "the channel was not read back"
            assert events(database, "send_adopted") == [{"outbox_kind": "panel_card", "read_back": True}]
            assert len(events(database, "case_posted_to_panel")) == 1


# ---- (b) a backlog of reminders ----------------------------------------------------------------------


BACKLOG = 6
ALREADY_ANSWERED = 2  # the third reminder is the one in flight when the bot is killed


async def _reminder_backlog(tmp_path: Path, url: str) -> int:
    """Six cases whose panel vote is due: six reminders recorded while the bot was down,
    none of them posted yet. Returns the fake connector's port."""
    async with BotHarness(tmp_path, database_url=url) as h:
        status, _ = await h.post(bind_in(h.url))
        assert status in (200, 201)
        ctx = h.c.services
        riley = Actor(aad_object_id=A.RILEY.aad, name=A.RILEY.name)
        case_ids = [(await submit_referral(ctx, riley, f"draft-{n}", make_referral())).case.id for n in range(BACKLOG)]
        for case_id in case_ids:
            await deadlines.refresh_deadlines(ctx, case_id)
        async with h.c.db.write() as conn:  # the panel cards are not what this test is about
            await conn.execute(update(t.outbox).values(status="sent"))
        h.clock.advance(days=2, hours=-0.5)  # Wednesday 09:30: the panel vote's reminders are due
        assert await deadlines.sweep(ctx) == BACKLOG
        return h.connector.port


@pytest.mark.parametrize("with_graph", [True, False], ids=["graph", "no-graph"])
async def test_a_kill_in_a_reminder_backlog_sends_each_reminder_once_or_once_more_saying_so(
        tmp_path: Path, processes: list[BotProcess], with_graph: bool) -> None:
    """Reminders go to each owner's personal chat (several at once as one digest), which the bot
    cannot read back even with Graph: the message in flight when the bot is killed is sent once
    more, saying it may be a second copy, and never a third time; every other reminder once."""
    database = tmp_path / "bot.db"
    url = f"sqlite:///{database}"
    port = await _reminder_backlog(tmp_path, url)

    with FakeGraph() as fake_graph:
        graph = fake_graph if with_graph else None
        async with FakeConnector(port=port) as connector:
            add_people(connector)
            fake_graph.show_channel(GROUP_ID, A.PANEL_CHANNEL_ID, connector)
            connector.hold_answers(HOLD_SECONDS, "a:", after=ALREADY_ANSWERED)  # the personal chats
            first = await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: len(reminder_messages(connector)) > ALREADY_ANSWERED,
                             "a third reminder message in flight", processes)
            first.kill()
            connector.hold_answers(0)
            # In doubt when killed: the message held on the wire, and any other in flight (people's
            # chats are served side by side) or answered but not yet recorded as sent.
            held = reminder_messages(connector)[ALREADY_ANSWERED][0]

            await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: outbox_done(database, "reminder"), "every reminder delivered", processes)

            counts = Counter(key for key, _ in reminders(connector))
            assert len({(line, headline) for line, headline, _ in counts}) >= BACKLOG  # and later ones, on real time
            twice = {chat for (_, _, chat), n in counts.items() if n > 1}
            assert held in twice
            assert max(counts.values()) == 2
            resent = [chat for chat, card in reminder_messages(connector) if RESENT in texts(card)]
            # Every copy that arrived twice says so. A chat may also get a marked copy that arrived
            # only once: its first send was in doubt (recorded before it left) but never reached
            # Teams before the kill, and the bot cannot read a personal chat back to know.
            assert twice <= set(resent)
            assert len(resent) == len(set(resent))  # one re-send per chat: a person's messages go one at a time
            assert events(database, "send_resent") == [{"outbox_kind": "reminder", "read_back": False}] * len(resent)
            assert events(database, "send_adopted") == []


# ---- (c) a personal chat ------------------------------------------------------------------------------


async def test_a_personal_message_in_doubt_is_sent_once_more_saying_so_and_never_a_third_time(
        tmp_path: Path, processes: list[BotProcess]) -> None:
    """No panel channel yet: the referral's card waits and the partnership manager is told in
    personal chat, which the bot cannot read back even with Graph. Killed while that message is
    in flight, and killed again while its re-send is in flight."""
    database = tmp_path / "bot.db"
    url = f"sqlite:///{database}"
    async with BotHarness(tmp_path, database_url=url) as h:
        await h.say(A.PAT, "hello")
        await fill_referral(h)
        port = h.connector.port

    def notices() -> list[dict[str, Any]]:
        return [card for _, card in cards_in(connector, A.PAT.chat) if "Panel channel needed" in texts(card)]

    with FakeGraph() as graph:
        async with FakeConnector(port=port) as connector:
            add_people(connector)
            connector.hold_answers(HOLD_SECONDS, A.PAT.chat)
            first = await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: len(notices()) == 1, "the notice in flight", processes)
            first.kill()

            second = await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: len(notices()) == 2, "the notice re-sent", processes)
            second.kill()  # and the re-send is in doubt too
            connector.hold_answers(0)

            await start_bot(processes, tmp_path, url, graph)
            await wait_until(lambda: outbox_done(database, "person_notice"), "the notice settled", processes)

            assert len(notices()) == 2, f"sent {len(notices())} times"
            first_copy, second_copy = notices()
            assert RESENT not in texts(first_copy) and RESENT in texts(second_copy)
            assert not graph.requests_of("channelMessages")  # a personal chat is never looked for in Graph
            # (Pat's chat also carries the reminders of steps Pat owns, which do not wait for a panel channel.)
            notice_events = {kind: [e for e in events(database, kind) if e["outbox_kind"] == "person_notice"]
                             for kind in ("send_resent", "send_given_up")}
            assert notice_events["send_resent"] == [{"outbox_kind": "person_notice", "read_back": False}]
            assert notice_events["send_given_up"] == [{"outbox_kind": "person_notice", "read_back": False}]


# ---- (d) a press answered just before a kill, then retried by Teams ------------------------------------


async def test_a_vote_answered_just_before_a_kill_and_retried_is_recorded_once(
        tmp_path: Path, processes: list[BotProcess]) -> None:
    """The answer a retry gets back is written after the answer, with the process's next write
    (bot/adapters/db/deferred_writes.py): a kill in between loses that stored answer, never the
    vote, and the retry (to another process) is not a second vote."""
    database = tmp_path / "bot.db"
    url = f"sqlite:///{database}"
    async with BotHarness(tmp_path, database_url=url) as h:  # a referral posted to the panel channel
        status, _ = await h.post(bind_in(h.url))
        assert status in (200, 201)
        for person in (A.PAT, A.CHRIS, A.LAURA):
            await h.say(person, "hello")
        await fill_referral(h)
        await h.flush()
        port = h.connector.port

    async with FakeConnector(port=port) as connector:
        add_people(connector)
        first = await start_bot(processes, tmp_path, url, None)
        ballot = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
                  "rationale": "Serious injuries and suspected abuse by a carer.",
                  "serious_harm_basis": "Long-term impairment of the child's physical health is likely."}
        press = A.invoke(connector.url, A.LAURA, "panel.vote", ballot, channel=True)
        status, body = await first.post(press)
        first.kill()  # straight after the answer: the stored answer is still waiting for a write
        assert status == 200 and "Vote recorded." in json.dumps(body), body

        second = await start_bot(processes, tmp_path, url, None)
        status, again = await second.post(press)  # Teams' retry of the very same activity
        assert status == 200, again
        assert "Vote recorded." not in json.dumps(again), "the retry was handled as a new vote"
        assert "Still working on your last click" in json.dumps(again), again
        assert len(sql(database, "SELECT id FROM votes")) == 1
        assert len(events(database, "vote_cast")) == 1
