"""POST /api/messages with Bot Framework credentials configured: forged, broken and
replayed requests (forged, expired and malformed tokens, malformed bodies, GET, one log line per
refusal, and a foreign tenant) — on both edges (`edge`: botbuilder, bot/teams/; the Microsoft 365
Agents SDK, bot/agents/), with the same expectations. One test is for one edge only, saying why.

The bot runs as in production (BotHarness: the real aiohttp app on 127.0.0.1, a fake
Bot Connector). Inbound tokens are minted by a local RSA key preloaded into the bot's key
source for the channel's OpenID metadata URL (tests/support/tokens.py), so nothing reaches
login.botframework.com — a fetch of signing keys (by the bot's key sources, or botbuilder's
own `requests.get`) fails the test. Outbound, the bot's client-credentials token would come
from Entra (msal); `MicrosoftAppCredentials.get_access_token` is patched to return a dummy
token, so replies reach the fake connector with `Authorization: Bearer <dummy>`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from botframework.connector.auth import jwt_token_extractor
from botframework.connector.auth.microsoft_app_credentials import MicrosoftAppCredentials
from sqlalchemy import select

from bot.adapters.db import schema
from bot.teams import signing_keys
from tests.support import activities as A
from tests.support.harness import BotHarness
from tests.support.tokens import LocalSigningKey

APP_ID = "5f0c7a1e-3b7d-4c2a-9e51-0d6f2b8a4c11"
OTHER_APP_ID = "9d1e6b2c-7a4f-4e8b-b3c5-2f9a0e1d7c66"
FOREIGN_TENANT = "11111111-2222-4333-8444-555555555555"
OUTBOUND_TOKEN = "dummy-outbound-token-for-the-fake-connector"
CANARY = "Zqxwv Canary 9990001112"

CREDENTIALS = {
    "app_id": APP_ID,
    "app_password": "secret",
    "app_tenant_id": A.TENANT,
    "app_type": "SingleTenant",
    "environment": "production",
}


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def no_key_download(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every key is preloaded (tests/support/tokens.py): a fetch of signing keys by the bot's key
    sources (bot/teams/signing_keys.py), or by botbuilder's own blocking requests.get, fails the
    test (checked at teardown, because the edge turns any error into a 401)."""
    calls: list[str] = []

    def refuse(url: str, *args: Any, **kwargs: Any) -> None:
        calls.append(url)
        raise AssertionError(f"the SDK tried to download signing keys from {url}")

    monkeypatch.setattr(jwt_token_extractor.requests, "get", refuse)
    before = {id(source): source.fetches for source in signing_keys.key_sources().values()}
    yield calls
    calls += [source.url for source in signing_keys.key_sources().values()
              if source.fetches > before.get(id(source), 0)]
    assert calls == [], f"the bot went to the network for signing keys: {calls}"


@pytest.fixture
def outbound_token(monkeypatch: pytest.MonkeyPatch) -> str:
    """The bot's own token for calling the Bot Connector (msal → Entra) is not available
    offline; the SDK asks `MicrosoftAppCredentials.get_access_token` for it on every call."""
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", lambda self, force_refresh=False: OUTBOUND_TOKEN)
    return OUTBOUND_TOKEN


@pytest.fixture
def webchat_key() -> LocalSigningKey:
    """A second trusted key, endorsed for webchat only."""
    return LocalSigningKey.webchat_only_key()


@pytest.fixture
def signing_key(no_key_download: list[str], webchat_key: LocalSigningKey) -> Iterator[LocalSigningKey]:
    with LocalSigningKey(extra_keys=[webchat_key]) as key:
        yield key


@pytest.fixture(params=["botbuilder", "agents"])
def edge(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which edge serves /api/messages (TEAMS_EDGE). The Agents SDK edge asks Entra for its own
    token through the SDK's MsalAuth, which is not available offline either."""
    if request.param == "agents":
        from microsoft_agents.authentication.msal import MsalAuth

        async def token(self: Any, *args: Any, **kwargs: Any) -> str:
            return OUTBOUND_TOKEN

        monkeypatch.setattr(MsalAuth, "get_access_token", token)
    return str(request.param)


@pytest.fixture
async def bot(tmp_path, signing_key, outbound_token, edge) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, env={**CREDENTIALS, "teams_edge": edge}) as harness:
        harness.turns = []  # type: ignore[attr-defined]
        # The turn's logic: botbuilder's activity handler, or the Agents SDK application's on_turn.
        holder, name = (harness.c.endpoint, "logic") if edge == "agents" else (harness.c.bot, "on_turn")
        real_on_turn = getattr(holder, name)

        async def spy(turn_context: Any) -> None:
            harness.turns.append(turn_context.activity.id)  # type: ignore[attr-defined]
            await real_on_turn(turn_context)

        setattr(holder, name, spy)
        yield harness


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# ---- helpers ---------------------------------------------------------------------------------


async def snapshot(h: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, once what the process keeps for its next write is written."""
    await h.c.db.deferred.flush()
    async with h.c.db.read() as conn:
        return {
            table.name: sorted((tuple(map(repr, row)) for row in await conn.execute(select(table))), key=repr)
            for table in schema.metadata.sorted_tables
        }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def canary_message(h: BotHarness, **changes: Any) -> dict[str, Any]:
    activity = A.message(h.url, A.RILEY, f"help {CANARY}")
    activity.update(changes)
    return activity


def app_lines(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """What an operator would see as the app's log for a request: our own loggers, and
    anything at WARNING or above from any library."""
    return [r for r in records if r.name == "bot" or r.name.startswith("bot.") or r.levelno >= logging.WARNING]


_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could print for a record: message, extras, exception."""
    parts = [record.getMessage()]
    parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD_ATTRS]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def assert_no_leak(records: list[logging.LogRecord], *secrets: str) -> None:
    for record in records:
        text = record_text(record)
        for secret in secrets:
            for fragment in {secret, secret[:40], secret[-40:]}:
                assert fragment not in text, (record.name, record.levelname, record.getMessage())


def assert_one_line_rejection(records: list[logging.LogRecord], *secrets: str) -> logging.LogRecord:
    lines = app_lines(records)
    assert len(lines) == 1, [(r.name, r.levelname, r.getMessage()) for r in lines]
    line = lines[0]
    assert line.levelno == logging.WARNING, line.levelname
    assert "\n" not in line.getMessage()
    assert line.exc_info is None and not line.exc_text, "a rejection must not log a stack trace"
    assert_no_leak(records, *secrets)
    return line


# ---- A1–A13: forged or missing credentials → 401, nothing happens ----------------------------------

FORGED = [
    "expired",  # A4
    "expired_beyond_leeway",  # A5 (second half)
    "wrong_aud",  # A6
    "wrong_iss",  # A7
    "no_iss",  # A8
    "wrong_key",  # A9
    "unknown_kid",  # A10
    "alg_none",  # A11
    "hs256",  # A11b
    "serviceurl_mismatch",  # A12
    "not_endorsed",  # A13 (token side: a trusted key not endorsed for msteams)
]


async def _assert_refused(bot: BotHarness, logs: pytest.LogCaptureFixture, activity: dict[str, Any],
                          headers: dict[str, str], secret: str | None) -> None:
    before = await snapshot(bot)
    logs.clear()
    status, body = await bot.post(activity, headers)
    assert status == 401, (status, body)
    assert bot.turns == []  # type: ignore[attr-defined]
    assert bot.connector.requests == []
    assert await snapshot(bot) == before
    line = assert_one_line_rejection(logs.records, CANARY, *([secret] if secret else []))
    assert "authentication failed" in line.getMessage()


@pytest.mark.parametrize("kind", FORGED)
async def test_a_forged_token_gets_401_and_changes_nothing(bot, signing_key, logs, kind):
    activity = canary_message(bot)
    token = signing_key.forge(kind, app_id=APP_ID, service_url=activity["serviceUrl"])
    await _assert_refused(bot, logs, activity, bearer(token), token)


@pytest.mark.parametrize(
    "header",
    [
        None,  # A1: no Authorization
        "Bearer not.a.jwt",  # A2
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",  # A3
        "Bearer",  # scheme without a token
        "Bearer " + "A" * 6_000,  # long, but under aiohttp's 8 KiB header limit
    ],
    ids=["no-header", "garbage", "basic", "empty-bearer", "huge"],
)
async def test_a_missing_or_malformed_authorization_header_gets_401(bot, logs, header):
    activity = canary_message(bot)
    headers = {} if header is None else {"Authorization": header}
    await _assert_refused(bot, logs, activity, headers, header.split(" ", 1)[-1] if header else None)


async def test_a_webchat_activity_signed_with_a_key_endorsed_only_for_msteams_gets_401(bot, signing_key, logs):
    """A13 as in the matrix: the key is endorsed for msteams, the activity claims webchat."""
    activity = canary_message(bot, channelId="webchat")
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    await _assert_refused(bot, logs, activity, bearer(token), token)


async def test_a_token_issued_for_another_service_url_cannot_be_used_with_the_bots_own(bot, signing_key, logs):
    """A12 the other way round: the token is genuine for the fake connector; the
    activity points the bot at an attacker's URL."""
    activity = canary_message(bot, serviceUrl="https://attacker.example/")
    token = signing_key.token(app_id=APP_ID, service_url=bot.url)
    await _assert_refused(bot, logs, activity, bearer(token), token)


async def test_unknown_kids_in_a_burst_are_refused_without_fetching_keys_or_stalling(bot, signing_key, logs,
                                                                                   no_key_download):
    """A10: 100 unknown kids. Each is a 401; the SDK never goes to the network for them
    (in 4.17.1 an unknown kid raises IndexError before the once-an-hour refresh is
    reached) and the loop keeps answering /healthz."""
    activity = canary_message(bot)
    started = time.monotonic()
    for _ in range(100):
        token = signing_key.forge("unknown_kid", app_id=APP_ID, service_url=activity["serviceUrl"])
        status, _ = await bot.post(activity, bearer(token))
        assert status == 401
    assert time.monotonic() - started < 20
    health = await bot.client.get("/healthz")
    assert health.status == 200
    assert no_key_download == []
    assert bot.turns == []  # type: ignore[attr-defined]
    assert bot.connector.requests == []


# ---- valid tokens -----------------------------------------------------------------------------------


async def test_a_valid_token_is_accepted_and_the_reply_reaches_the_connector_with_the_bots_token(bot, signing_key,
                                                                                                 logs):
    activity = A.message(bot.url, A.RILEY, "help")
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    status, _ = await bot.post(activity, bearer(token))
    assert status in (200, 201)
    assert bot.turns == [activity["id"]]  # type: ignore[attr-defined]
    sent = await bot.connector.wait_for_sent(1, A.RILEY.chat)
    assert sent[0].activity.get("attachments"), "the help card"
    posts = bot.connector.requests_of("send") + bot.connector.requests_of("reply")
    assert posts and all(r.headers.get("Authorization") == f"Bearer {OUTBOUND_TOKEN}" for r in posts)
    assert_no_leak(logs.records, token)
    assert not [r for r in logs.records if r.levelno >= logging.ERROR]


async def test_a_token_expired_inside_the_five_minute_clock_skew_is_accepted(bot, signing_key):
    """A5: documented SDK behaviour (clock_tolerance = 5 min)."""
    from datetime import UTC, datetime, timedelta

    activity = A.message(bot.url, A.RILEY, "help")
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"],
                              expires_at=datetime.now(UTC) - timedelta(minutes=2))
    status, _ = await bot.post(activity, bearer(token))
    assert status in (200, 201)
    assert bot.turns == [activity["id"]]  # type: ignore[attr-defined]


async def test_a_valid_token_from_a_foreign_tenant_gets_403_and_an_audit_event(bot, signing_key, logs):
    """B1: the JWT proves Teams sent it to our app, not that the user is in our tenant."""
    activity = A.message(bot.url, A.MALLORY, f"refer {CANARY}", tenant=FOREIGN_TENANT)
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    before = await snapshot(bot)
    logs.clear()
    status, _ = await bot.post(activity, bearer(token))
    assert status == 403
    assert bot.turns == []  # type: ignore[attr-defined]
    assert bot.connector.requests == []
    after = await snapshot(bot)
    assert {k: v for k, v in after.items() if k != "events"} == {k: v for k, v in before.items() if k != "events"}
    async with bot.c.db.read() as conn:
        rows = (await conn.execute(select(schema.events))).all()
    new = rows[len(before["events"]):]
    assert [r.kind for r in new] == ["foreign_tenant_refused"]
    assert new[0].case_id is None and new[0].actor_aad_id is None
    assert json.loads(json.dumps(new[0].detail)) == {"tenant": FOREIGN_TENANT}
    assert_one_line_rejection(logs.records, token, CANARY)


async def test_a_valid_webchat_token_is_refused_with_403_in_production(bot, webchat_key, logs):
    """A14: a token the SDK accepts for channelId=webchat (key endorsed for webchat);
    the app only serves Teams in production."""
    activity = canary_message(bot, channelId="webchat")
    token = webchat_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    before = await snapshot(bot)
    logs.clear()
    status, _ = await bot.post(activity, bearer(token))
    assert status == 403
    assert bot.turns == []  # type: ignore[attr-defined]
    assert bot.connector.requests == []
    assert await snapshot(bot) == before
    assert_one_line_rejection(logs.records, token, CANARY)


# ---- A16/A17: broken requests ----------------------------------------------------------------------


async def _raw(bot: BotHarness, method: str, data: bytes | str | None, headers: dict[str, str]) -> int:
    assert bot.client is not None
    response = await bot.client.request(method, "/api/messages", data=data, headers=headers)
    await response.read()
    return response.status


async def test_malformed_json_gets_400(bot, signing_key, logs):
    activity = canary_message(bot)
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    body = json.dumps(activity)[:-5]  # cut off mid-object
    before = await snapshot(bot)
    logs.clear()
    status = await _raw(bot, "POST", body, {"Content-Type": "application/json", **bearer(token)})
    assert status == 400
    assert bot.turns == [] and bot.connector.requests == []  # type: ignore[attr-defined]
    assert await snapshot(bot) == before
    assert_one_line_rejection(logs.records, token, CANARY)


async def test_no_content_type_gets_415(bot, signing_key, logs):
    activity = canary_message(bot)
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    logs.clear()
    status = await _raw(bot, "POST", json.dumps(activity).encode(), bearer(token))
    assert status == 415
    assert bot.turns == [] and bot.connector.requests == []  # type: ignore[attr-defined]
    assert_one_line_rejection(logs.records, token, CANARY)


async def test_text_plain_gets_415(bot, signing_key, logs):
    activity = canary_message(bot)
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    logs.clear()
    status = await _raw(bot, "POST", json.dumps(activity), {"Content-Type": "text/plain", **bearer(token)})
    assert status == 415
    assert bot.turns == []  # type: ignore[attr-defined]
    assert_one_line_rejection(logs.records, token, CANARY)


async def test_a_two_mebibyte_body_gets_413(bot, signing_key, logs):
    activity = canary_message(bot)
    activity["text"] = CANARY + " " + "x" * (2 * 1024 * 1024)
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    before = await snapshot(bot)
    logs.clear()
    status = await _raw(bot, "POST", json.dumps(activity), {"Content-Type": "application/json", **bearer(token)})
    assert status == 413
    assert bot.turns == [] and bot.connector.requests == []  # type: ignore[attr-defined]
    assert await snapshot(bot) == before
    assert_one_line_rejection(logs.records, token, CANARY)


@pytest.mark.parametrize("body", ["{}", "[]", '"just a string"', "null", '{"type": ""}'],
                         ids=["empty-object", "array", "string", "null", "empty-type"])
async def test_a_body_that_is_not_an_activity_gets_400(bot, signing_key, logs, body):
    token = signing_key.token(app_id=APP_ID, service_url=bot.url)
    before = await snapshot(bot)
    logs.clear()
    status = await _raw(bot, "POST", body, {"Content-Type": "application/json", **bearer(token)})
    assert status == 400
    assert bot.turns == []  # type: ignore[attr-defined]
    assert await snapshot(bot) == before
    assert_one_line_rejection(logs.records, token)


async def test_get_gets_405(bot, signing_key, logs):
    token = signing_key.token(app_id=APP_ID, service_url=bot.url)
    logs.clear()
    status = await _raw(bot, "GET", None, bearer(token))
    assert status == 405
    assert bot.turns == []  # type: ignore[attr-defined]
    assert_one_line_rejection(logs.records, token)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
async def test_the_playground_probe_gets_405_allow_post_without_a_warning(bot, logs, method):
    """Microsoft 365 Agents Playground sends HEAD /api/messages when it starts: a probe,
    answered like GET but not logged as a rejection worth a warning."""
    assert bot.client is not None
    logs.clear()
    response = await bot.client.request(method, "/api/messages")
    await response.read()
    assert response.status == 405
    assert response.headers.get("Allow") == "POST"
    assert bot.turns == []  # type: ignore[attr-defined]
    assert not [r for r in logs.records if r.levelno >= logging.WARNING], [
        (r.name, r.levelname, r.getMessage()) for r in logs.records if r.levelno >= logging.WARNING]


# ---- A15 / C12: a replayed invoke -----------------------------------------------------------------


async def test_replaying_a_valid_invoke_has_one_effect_and_the_same_answer(bot, signing_key):
    activity = A.invoke(bot.url, A.RILEY, "chat.refer", {"verb": "chat.refer"})
    token = signing_key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    before = await snapshot(bot)

    first_status, first_body = await bot.post(activity, bearer(token))
    after_first = await snapshot(bot)
    requests_after_first = len(bot.connector.requests)
    second_status, second_body = await bot.post(activity, bearer(token))

    assert (first_status, second_status) == (200, 200)
    assert first_body["statusCode"] == 200 and first_body["value"]["type"] == "AdaptiveCard", first_body
    assert second_body == first_body
    assert bot.turns == [activity["id"]]  # type: ignore[attr-defined]
    assert after_first != before, "the first press started a referral (dialog state)"
    assert len(after_first["bot_state"]) == len(before["bot_state"]) + 1
    assert len(after_first["processed_activities"]) == len(before["processed_activities"]) + 1
    assert await snapshot(bot) == after_first
    assert len(bot.connector.requests) == requests_after_first


async def test_proactive_card_posts_and_updates_carry_the_bots_token(bot, edge):
    """The outbox's posts and in-place updates reach the connector through the kept clients
    directly (bot/teams/notifier.py), with the same credentials as a turn's replies."""
    if edge == "agents":
        pytest.skip("edge-specific: proactive sends go through the botbuilder notifier on both edges so far")
    from bot.services.ports import Address

    notifier = bot.c.services.notifier
    channel = Address(A.PANEL_CHANNEL_ID, bot.url, A.TENANT, A.BOT_ID)
    activity_id = await notifier.send_card(channel, {"type": "AdaptiveCard", "version": "1.5", "body": []})
    await notifier.update_card(channel, activity_id, {"type": "AdaptiveCard", "version": "1.5",
                                                      "body": [{"type": "TextBlock", "text": "updated"}]})
    requests = bot.connector.requests_of("send") + bot.connector.requests_of("update")
    assert len(requests) == 2
    assert all(r.headers.get("Authorization") == f"Bearer {OUTBOUND_TOKEN}" for r in requests)
    [update] = bot.connector.updates()
    assert update.activity_id == activity_id and "updated" in json.dumps(update.activity)
