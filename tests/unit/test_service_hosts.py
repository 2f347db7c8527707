"""The service hosts the bot may send to (bot/adapters/service_hosts.py): Bot Framework and
Teams hosts over https, sovereign hosts added by ALLOWED_SERVICE_HOSTS, loopback only in
local mode — and none of the usual tricks to smuggle another host past the check."""

from __future__ import annotations

import pytest

from bot.adapters.service_hosts import DEFAULT_SERVICE_HOSTS, ServiceHostPolicy, is_allowed, origin, parse_extra
from bot.settings import ConfigError, load_settings

ALLOWED = [
    "https://smba.trafficmanager.net/emea/",
    "https://smba.trafficmanager.net/uk/",
    "https://smba.trafficmanager.net",
    "https://SMBA.TrafficManager.NET/amer/",
    "https://smba.trafficmanager.net:443/emea/",
    "https://smba.trafficmanager.net./emea/",  # the same DNS name, fully qualified
    "HTTPS://smba.trafficmanager.net/emea/",
    "https://europe.smba.trafficmanager.net/",
    "https://webchat.botframework.com/",
    "https://directline.botframework.com/v3/",
    "https://smba.infra.gcc.teams.microsoft.com/gcc/",
    "https://smba.infra.gov.teams.microsoft.us/",
    "https://api.botframework.us/",
    "https://api.botframework.azure.us/",
]

REFUSED = [
    "https://evil.example/emea/",
    "https://evil.example/smba.trafficmanager.net",  # the allowed name in the path
    "https://evil.example/?x=smba.trafficmanager.net",
    "https://evil.example#smba.trafficmanager.net",
    "https://smba.trafficmanager.net@evil.example/",  # userinfo: the host is evil.example
    "https://user:pw@smba.trafficmanager.net/",  # userinfo, even in front of an allowed host
    "https://evil.example\\@smba.trafficmanager.net/",
    "https://evil.example%2f@smba.trafficmanager.net/",
    "https://smba.trafficmanager.net.evil.example/",  # suffix trick
    "https://evilsmba.trafficmanager.net/",  # not a subdomain
    "https://notbotframework.com/",
    "https://botframework.com.evil.example/",
    "https://smba.trafficmanager.net%2eevil.example/",
    "https://smba.trafficmanager.net:8443/emea/",  # another port
    "https://smba.trafficmanager.net:0/",
    "https://smba.trafficmanager.net:99999/",
    "http://smba.trafficmanager.net/emea/",  # http in production
    "ftp://smba.trafficmanager.net/",
    "//smba.trafficmanager.net/",
    "smba.trafficmanager.net",
    "https://13.107.64.1/",  # IP literals
    "https://[2603:1000::1]/",
    "https://2130706433/",
    "https://127.0.0.1/",
    "http://127.0.0.1:3978/",
    "http://localhost:56000/",
    "http://[::1]:56000/",
    "https://smba.trafficmanager.net /",
    " https://smba.trafficmanager.net/",
    "https://smba.trafficmanager.net\n.evil.example/",
    "",
    "https://",
    "https:///smba.trafficmanager.net",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_teams_and_bot_framework_hosts_are_allowed(url):
    assert is_allowed(url, local_mode=False)
    assert is_allowed(url, local_mode=True)


@pytest.mark.parametrize("url", REFUSED)
def test_anything_else_is_refused_in_production(url):
    assert not is_allowed(url, local_mode=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:56000/", "https://127.0.0.1:56000", "http://localhost:3978/",
                                 "http://LOCALHOST/", "http://[::1]:56000/", "http://127.0.0.1/"])
def test_loopback_is_allowed_only_in_local_mode(url):
    assert is_allowed(url, local_mode=True)
    assert not is_allowed(url, local_mode=False)


@pytest.mark.parametrize("url", ["http://127.0.0.2/", "http://10.0.0.1/", "http://evil.example/",
                                 "ftp://127.0.0.1/", "http://user@127.0.0.1:56000/",
                                 "http://127.0.0.1@evil.example/", "http://localhost.evil.example/"])
def test_local_mode_allows_loopback_and_nothing_more(url):
    assert not is_allowed(url, local_mode=True)


def test_sovereign_hosts_are_added_by_suffix_and_the_same_rules_apply():
    extra = parse_extra(" *.smba.example.gov.uk , Teams.Example.Sovereign. ,")
    assert extra == ("smba.example.gov.uk", "teams.example.sovereign")
    policy = ServiceHostPolicy(local_mode=False, extra=extra)
    assert policy.allows("https://smba.example.gov.uk/uk/")
    assert policy.allows("https://a.smba.example.gov.uk/")
    assert policy.allows("https://teams.example.sovereign/")
    assert not policy.allows("http://smba.example.gov.uk/")
    assert not policy.allows("https://smba.example.gov.uk.evil.example/")
    assert not policy.allows("https://smba.example.gov.uk@evil.example/")
    assert not is_allowed("https://smba.example.gov.uk/", local_mode=False)  # not without the setting
    assert policy.allows("https://smba.trafficmanager.net/emea/")  # the defaults stay


@pytest.mark.parametrize("entry", ["https://smba.example.gov.uk", "smba.example.gov.uk/path", "com", "10.0.0.1",
                                   "evil example", "*", "user@host.example"])
def test_a_bad_allowed_service_hosts_entry_is_refused(entry):
    with pytest.raises(ValueError):
        parse_extra(entry)
    with pytest.raises(ConfigError, match="ALLOWED_SERVICE_HOSTS"):
        load_settings({"ALLOWED_SERVICE_HOSTS": f"smba.example.gov.uk,{entry}"})


def test_the_setting_reaches_the_policy():
    settings = load_settings({"ALLOWED_SERVICE_HOSTS": "*.smba.example.gov.uk, teams.example.sovereign"})
    assert settings.extra_service_hosts == ("smba.example.gov.uk", "teams.example.sovereign")
    assert load_settings({}).extra_service_hosts == ()


def test_the_defaults_follow_the_agents_sdk_list():
    assert {"smba.trafficmanager.net", "botframework.com", "teams.microsoft.com", "teams.microsoft.us"} <= set(
        DEFAULT_SERVICE_HOSTS)


def test_a_log_line_gets_the_scheme_and_host_only():
    assert origin("https://user:secret@evil.example:8443/v3/conversations/19:abc/activities") == \
        "https://evil.example"
    assert "conversations" not in origin("https://evil.example/v3/conversations/x")


# ---- the kept connector clients (bot/teams/sdk.py): the last line of defence ----------------


class _Credentials:
    microsoft_app_id = "5f0c7a1e-3b7d-4c2a-9e51-0d6f2b8a4c11"

    def __init__(self) -> None:
        self.asked = 0

    def get_access_token(self) -> str:
        self.asked += 1
        return "secret-token"


class _Next:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def send(self, request, **kwargs):
        self.sent.append(dict(request.http_request.headers))
        return "sent"


def _request(url: str):
    from msrest.pipeline import Request
    from msrest.universal_http import ClientRequest

    return Request(ClientRequest("POST", url))


@pytest.mark.parametrize("url", ["https://evil.example/v3/conversations/19:x/activities",
                                 "https://smba.trafficmanager.net@evil.example/v3/conversations",
                                 "http://127.0.0.1:56000/v3/conversations"])
async def test_a_kept_client_neither_fetches_nor_sends_the_token_to_another_host(url):
    from bot.adapters.service_hosts import PRODUCTION, ServiceHostRefused
    from bot.teams.sdk import _AiohttpSender, _BearerToken

    credentials, after = _Credentials(), _Next()
    bearer = _BearerToken(credentials, PRODUCTION)
    bearer.next = after  # type: ignore[assignment]
    with pytest.raises(ServiceHostRefused):
        await bearer.send(_request(url))
    assert credentials.asked == 0 and after.sent == []

    sessions = []

    async def session():
        sessions.append(1)
        raise AssertionError("no connection may be opened")

    with pytest.raises(ServiceHostRefused):
        await _AiohttpSender(session, 5.0, hosts=PRODUCTION).send(_request(url))
    assert sessions == []


async def test_a_kept_client_sends_the_token_to_teams():
    from bot.adapters.service_hosts import PRODUCTION
    from bot.teams.sdk import _BearerToken

    credentials, after = _Credentials(), _Next()
    bearer = _BearerToken(credentials, PRODUCTION)
    bearer.next = after  # type: ignore[assignment]
    assert await bearer.send(_request("https://smba.trafficmanager.net/emea/v3/conversations")) == "sent"
    assert after.sent[0]["Authorization"] == "Bearer secret-token"


def test_a_refused_send_fails_for_good():
    from bot.adapters.service_hosts import ServiceHostRefused
    from bot.teams.notifier import delivery_error

    error = delivery_error(ServiceHostRefused())
    assert error.permanent and error.reason == "service host not allowed"
