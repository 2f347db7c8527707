"""The fake Bot Connector works with botbuilder's real ConnectorClient (msrest + requests)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ErrorResponseException
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from botframework.connector.teams import TeamsConnectorClient

from tests.support.fake_connector import FakeConnector

pytestmark = pytest.mark.asyncio

REPO_ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "19:0f4c1a7e5d2b4a8e9c3f6b1d2e7a8c90@thread.tacv2"
THREAD = f"{CHANNEL};messageid=1712000000000"


def message(text: str, **kwargs) -> Activity:
    return Activity(type="message", text=text, **kwargs)


@pytest_asyncio.fixture
async def fake():
    async with FakeConnector() as server:
        yield server


@pytest_asyncio.fixture
async def client(fake: FakeConnector):
    async with ConnectorClient(MicrosoftAppCredentials("", ""), base_url=fake.url) as connector:
        yield connector


async def test_send_reply_update_delete_are_recorded(fake: FakeConnector, client: ConnectorClient):
    canary = "CANARY-7f3a Ünïcødé child name"
    sent = await client.conversations.send_to_conversation(THREAD, message(f"hello {canary}"))
    reply = await client.conversations.reply_to_activity(THREAD, sent.id, message("a reply"))
    updated = await client.conversations.update_activity(THREAD, sent.id, message("edited", id=sent.id))
    await client.conversations.delete_activity(THREAD, reply.id)

    assert sent.id and reply.id and sent.id != reply.id
    assert updated.id == sent.id

    activities = fake.sent_activities()
    assert [(a.kind, a.conversation_id) for a in activities] == [("send", THREAD), ("reply", THREAD)]
    assert activities[0].text == f"hello {canary}"
    assert activities[0].activity_id == sent.id
    assert activities[1].reply_to_id == sent.id
    assert [(u.activity_id, u.text) for u in fake.updates()] == [(sent.id, "edited")]
    assert fake.activities_to(CHANNEL) == activities
    assert fake.activities_to("a:") == []

    assert [(r.method, r.kind, r.status) for r in fake.requests] == [
        ("POST", "send", 200),
        ("POST", "reply", 200),
        ("PUT", "update", 200),
        ("DELETE", "delete", 200),
    ]
    first = fake.requests[0]
    assert first.path == f"/v3/conversations/{THREAD}/activities"  # msrest percent-encodes; we decode
    assert first.conversation_id == THREAD
    assert first.headers["Content-Type"].startswith("application/json")
    assert "Authorization" not in first.headers  # anonymous credentials send no token
    assert fake.requests[2].activity_id == sent.id
    # the wire body is \u-escaped JSON; the canary search must still find the real characters
    assert canary in fake.all_payload_text()

    stats = fake.stats()
    assert (stats["sends"], stats["replies"], stats["updates"], stats["deletes"]) == (2, 1, 1, 1)
    assert stats["by_conversation"][THREAD]["sends"] == 2

    fake.clear()
    assert fake.requests == [] and fake.sent_activities() == [] and fake.stats()["sends"] == 0


async def test_create_conversation_one_to_one_and_channel_thread(
    fake: FakeConnector, client: ConnectorClient
):
    one_to_one = ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id="28:bot"),
        members=[ChannelAccount(id="29:alice")],
        tenant_id="tenant-1",
    )
    first = await client.conversations.create_conversation(one_to_one)
    again = await client.conversations.create_conversation(one_to_one)
    assert first.id.startswith("a:")
    assert again.id == first.id  # Teams returns the same 1:1 chat for the same user
    assert first.activity_id is None
    assert first.service_url == fake.url

    thread = await client.conversations.create_conversation(
        ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id="28:bot"),
            channel_data={"channel": {"id": CHANNEL}},
            activity=message("New rapid review started"),
        )
    )
    assert thread.activity_id
    assert thread.id == f"{CHANNEL};messageid={thread.activity_id}"

    created = fake.sent_activities()
    assert [(a.kind, a.conversation_id, a.activity_id) for a in created] == [
        ("create", thread.id, thread.activity_id)
    ]
    assert created[0].text == "New rapid review started"
    assert fake.requests[-1].conversation_id == thread.id
    assert fake.stats()["creates"] == 3


async def test_get_conversation_member_found_by_id_or_aad_and_404(
    fake: FakeConnector, client: ConnectorClient
):
    alice = fake.add_user(
        "29:alice",
        "Alice Smith",
        aad_object_id="aad-alice",
        email="alice@example.org",
        user_role="user",
    )
    fake.add_user("29:bob", "Bob Jones", conversations=["19:other@thread.tacv2"])

    by_id = await client.conversations.get_conversation_member(THREAD, "29:alice")
    by_aad = await client.conversations.get_conversation_member(THREAD, "aad-alice")
    assert (by_id.id, by_id.name, by_id.aad_object_id) == ("29:alice", "Alice Smith", "aad-alice")
    assert by_aad.id == "29:alice"
    assert by_id.additional_properties["email"] == "alice@example.org"
    assert by_id.additional_properties["userPrincipalName"] == "alice@example.org"
    assert by_id.additional_properties["tenantId"] == alice["tenantId"]
    assert by_id.additional_properties["userRole"] == "user"

    for missing in ("29:nobody", "29:bob"):  # bob exists but is not in this conversation
        with pytest.raises(ErrorResponseException) as caught:
            await client.conversations.get_conversation_member(THREAD, missing)
        assert caught.value.response.status_code == 404
        assert caught.value.error.error.code == "MemberNotFoundInConversation"

    members = await client.conversations.get_conversation_members(THREAD)
    assert [m.id for m in members] == ["29:alice"]
    assert fake.stats()["not_found"] == 2


async def test_paged_members(fake: FakeConnector, client: ConnectorClient):
    for i in range(5):
        fake.add_user(f"29:user{i}", f"User {i}")
    page = await client.conversations.get_teams_conversation_paged_members(CHANNEL, page_size=2)
    assert [m.id for m in page.members] == ["29:user0", "29:user1"]
    assert page.continuation_token
    seen = [m.id for m in page.members]
    while page.continuation_token:
        page = await client.conversations.get_teams_conversation_paged_members(
            CHANNEL, page_size=2, continuation_token=page.continuation_token
        )
        seen += [m.id for m in page.members]
    assert seen == [f"29:user{i}" for i in range(5)]
    assert fake.requests[0].query == {"pageSize": "2"}


async def test_429_fault_surfaces_as_error_response_with_retry_after(
    fake: FakeConnector, client: ConnectorClient
):
    fake.fail_next(1, status=429, retry_after=1, route_kind="send")

    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.send_to_conversation(THREAD, message("throttled"))
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    assert caught.value.error.error.code == "TooManyRequests"
    assert fake.sent_activities() == []
    assert [r.status for r in fake.faulted] == [429]

    # the fault is used up; POSTs are never retried by msrest, so exactly one more request arrives
    await client.conversations.send_to_conversation(THREAD, message("fine now"))
    assert [r.status for r in fake.requests] == [429, 200]
    assert fake.stats()["faulted"] == 1


async def test_fault_matches_route_kind_only(fake: FakeConnector, client: ConnectorClient):
    fake.fail_next(1, status=403, retry_after=None, route_kind="create", code="ConversationBlockedByUser")
    await client.conversations.send_to_conversation(THREAD, message("not a create"))
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.create_conversation(
            ConversationParameters(members=[ChannelAccount(id="29:alice")])
        )
    assert caught.value.response.status_code == 403
    assert "Retry-After" not in caught.value.response.headers
    assert caught.value.error.error.code == "ConversationBlockedByUser"


async def test_msrest_silently_retries_idempotent_verbs_on_429(fake: FakeConnector, client: ConnectorClient):
    """urllib3's Retry (configured by msrest) re-sends PUT/GET/DELETE after honouring Retry-After."""
    fake.fail_next(1, status=429, retry_after=1, route_kind="update")
    started = time.monotonic()
    result = await client.conversations.update_activity(THREAD, "42", message("edit"))
    assert result.id == "42"
    assert [r.status for r in fake.requests] == [429, 200]
    assert time.monotonic() - started >= 0.9


async def test_rate_limiter_throttles_the_eighth_send_in_a_second(
    fake: FakeConnector, client: ConnectorClient
):
    fake.enforce_rate(7)
    for i in range(7):
        await client.conversations.send_to_conversation(THREAD, message(f"burst {i}"))
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.send_to_conversation(THREAD, message("burst 8"))
    assert caught.value.response.status_code == 429
    assert int(caught.value.response.headers["Retry-After"]) >= 1

    await client.conversations.send_to_conversation("a:other-chat", message("another thread is fine"))

    assert len(fake.throttled) == 1 and fake.throttled[0].conversation_id == THREAD
    stats = fake.stats()
    assert stats["throttled"] == 1
    assert stats["by_conversation"][THREAD]["throttled"] == 1
    assert stats["by_conversation"][THREAD]["peak_per_second"] == 7
    assert len(fake.activities_to(THREAD)) == 7


async def test_latency_and_wait_for(fake: FakeConnector, client: ConnectorClient):
    fake.set_latency(0.2, route_kind="send")
    started = time.monotonic()
    task = asyncio.create_task(client.conversations.send_to_conversation(THREAD, message("slow")))
    sent = await fake.wait_for_sent(1, CHANNEL, timeout=5)
    assert sent[0].text == "slow"
    await task
    assert time.monotonic() - started >= 0.2
    assert await fake.wait_for(lambda f: f.requests[0].status == 200) is True

    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda: False, timeout=0.05)


async def test_unknown_route_is_404_and_recorded(fake: FakeConnector, client: ConnectorClient):
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.get_activity_members(THREAD, "1")
    assert caught.value.response.status_code == 404
    assert fake.requests[-1].kind == "other"
    assert fake.requests[-1].path == f"/v3/conversations/{THREAD}/activities/1/members"


async def test_team_details_via_sync_teams_client_needs_thread_mode():
    """TeamsInfo.get_team_details/get_team_channels use the *blocking* TeamsConnectorClient; an
    in-loop fake could never answer them, so serve from a thread."""
    with FakeConnector() as fake:
        fake.add_team("19:team@thread.tacv2", "Safeguarding", channels={"19:reviews@thread.tacv2": "Reviews"})
        fake.add_user("29:alice", "Alice Smith")
        teams = TeamsConnectorClient(MicrosoftAppCredentials("", ""), fake.url).teams
        details = teams.get_team_details("19:team@thread.tacv2")
        channels = teams.get_teams_channels("19:team@thread.tacv2")
        assert (details.name, details.channel_count, details.member_count) == ("Safeguarding", 2, 1)
        assert details.aad_group_id
        assert {c.id: c.name for c in channels.conversations} == {
            "19:reviews@thread.tacv2": "Reviews",
            "19:team@thread.tacv2": None,  # General has the team's id and no name
        }
        # the async API also works against the threaded server
        async with ConnectorClient(MicrosoftAppCredentials("", ""), base_url=fake.url) as client:
            await client.conversations.send_to_conversation(THREAD, message("from the loop"))
        assert (await fake.wait_for_sent(1))[0].text == "from the loop"
        assert fake.stats()["teams"] == 2


async def test_cli_mode_ready_stats_faults_and_sigterm():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.fake_connector",
        "--port",
        "0",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode().strip()
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split(" ", 1)[1]
        assert url.endswith("/")

        async with aiohttp.ClientSession() as http:
            async with http.post(url + "_users", json=[{"id": "29:alice", "name": "Alice"}]) as r:
                assert (await r.json())["users"] == 1
            async with http.post(url + "_faults", json={"enforce_rate": 7}) as r:
                assert (await r.json())["enforce_rate"] == 7
            async with http.post(
                url + "_faults",
                json={"fail_next": 1, "status": 429, "retry_after": 1, "route_kind": "create"},
            ) as r:
                assert r.status == 200

        async with ConnectorClient(MicrosoftAppCredentials("", ""), base_url=url) as client:
            for i in range(8):
                try:
                    await client.conversations.send_to_conversation(THREAD, message(f"m{i}"))
                except ErrorResponseException as exc:
                    assert exc.response.status_code == 429
            member = await client.conversations.get_conversation_member(THREAD, "29:alice")
            assert member.name == "Alice"
            with pytest.raises(ErrorResponseException):
                await client.conversations.create_conversation(
                    ConversationParameters(members=[ChannelAccount(id="29:alice")])
                )

        async with aiohttp.ClientSession() as http:
            async with http.get(url + "_stats") as r:
                stats = await r.json()
        assert (stats["sends"], stats["throttled"], stats["faulted"], stats["creates"]) == (7, 1, 1, 0)
        assert stats["by_conversation"][THREAD]["sends"] == 7

        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, err.decode()
        final = json.loads(out.decode().strip().splitlines()[-1])
        assert final["sends"] == 7 and final["updates"] == 0 and final["throttled"] == 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_one_conversation_is_read_from_its_index_and_trimmed_with_the_records():
    """The benchmark reads one chat's activities between turns; the lookup must not scan the run's
    (and a record the connector forgot is forgotten by the index too)."""
    async with FakeConnector(max_records=4) as fake, ConnectorClient(
            MicrosoftAppCredentials("", ""), base_url=fake.url) as client:
        root = await client.conversations.send_to_conversation(CHANNEL, message("root"))
        await client.conversations.send_to_conversation(THREAD, message("in the thread"))
        await client.conversations.update_activity(CHANNEL, root.id, message("edited", id=root.id))
        await client.conversations.send_to_conversation(f"{CHANNEL}x", message("another channel"))

        assert [a.text for a in fake.activities_in(CHANNEL)] == ["root", "in the thread"]
        assert [a.text for a in fake.activities_in(CHANNEL, include_updates=True)] == ["root", "in the thread", "edited"]
        assert [a.text for a in fake.activities_in(THREAD)] == ["in the thread"]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{fake.url}_sent", params={"conversation": CHANNEL, "exact": "1"}) as r:
                assert [a["activity"]["text"] for a in await r.json()] == ["root", "in the thread", "edited"]
            async with session.get(f"{fake.url}_sent", params={"conversation": CHANNEL, "exact": "1", "last": "1"}) as r:
                found = await r.json()
                assert (found["count"], found["last"]["activity"]["text"]) == (3, "edited")

        for n in range(4):  # past max_records: the oldest sends go, from the index too
            await client.conversations.send_to_conversation(f"{CHANNEL}x", message(f"more {n}"))
        assert [a.text for a in fake.activities_in(CHANNEL, include_updates=True)] == ["edited"]
        assert len(fake.activities_in(f"{CHANNEL}x")) == len(fake.sent_activities())
