"""Every outgoing HTTP client takes its proxy and CA bundle from the standard variables
(bot/adapters/outbound_http.py), and its endpoints from configuration (bot/settings.py)."""

from __future__ import annotations

import pytest

from bot.adapters import outbound_http
from bot.app import _meeting_provider, _signing_keys
from bot.settings import ConfigError, load_settings
from bot.teams.signing_keys import CHANNEL_METADATA_URL, EMULATOR_METADATA_URL
from tests.support.tls import make_certificates

NETWORK_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY",
                     "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_no_proxy_variables_means_a_direct_connection():
    assert outbound_http.proxy_for("https://smba.trafficmanager.net/emea/") is None


def test_the_proxy_variables_are_honoured_and_a_change_is_seen_at_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.council.example:8080")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,.internal.council.example")
    assert outbound_http.proxy_for("https://smba.trafficmanager.net/emea/") == "http://proxy.council.example:8080"
    assert outbound_http.proxy_for("https://login.botframework.com/v1/x") == "http://proxy.council.example:8080"
    assert outbound_http.proxy_for("http://127.0.0.1:3978/") is None
    assert outbound_http.proxy_for("https://graph.internal.council.example/v1.0") is None
    assert outbound_http.proxy_for("http://plain.example/") is None  # HTTP_PROXY is not set
    monkeypatch.setenv("https_proxy", "http://other-proxy.council.example:3128")  # lower case wins, as in requests
    assert outbound_http.proxy_for("https://smba.trafficmanager.net/") == "http://other-proxy.council.example:3128"
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.delenv("no_proxy", raising=False)
    assert outbound_http.proxy_for("https://smba.trafficmanager.net/") is None


def test_all_proxy_is_the_fallback(monkeypatch):
    monkeypatch.setenv("ALL_PROXY", "http://proxy.council.example:8080")
    assert outbound_http.proxy_for("https://graph.microsoft.com/v1.0") == "http://proxy.council.example:8080"


def test_the_ca_bundle_comes_from_the_standard_variables_in_requests_order(monkeypatch, tmp_path):
    assert outbound_http.ca_bundle() is None and outbound_http.requests_verify() is True
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/council/ssl.pem")
    assert outbound_http.ca_bundle() == "/etc/council/ssl.pem"
    assert outbound_http.requests_verify() == "/etc/council/ssl.pem"  # msal uses it too
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/council/requests.pem")
    assert outbound_http.ca_bundle() == "/etc/council/requests.pem"


def test_the_tls_context_trusts_the_bundle_and_checks_names(monkeypatch, tmp_path):
    certificates = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    context = outbound_http.ssl_context()
    assert any(dict(part[0] for part in ca["subject"]).get("commonName") == "Rapid Review test CA"
               for ca in context.get_ca_certs())
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


async def test_every_aiohttp_session_uses_that_context_and_no_trust_env(monkeypatch, tmp_path):
    certificates = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    async with outbound_http.client_session() as session:
        assert session.trust_env is False
        assert session.connector._ssl is outbound_http.ssl_context()  # noqa: SLF001 - what the connector will use


def test_signing_keys_come_from_configuration_only():
    default = _signing_keys(load_settings({}))
    assert default.fetch_url(CHANNEL_METADATA_URL) == "https://login.botframework.com/v1/.well-known/openidconfiguration"
    assert default.fetch_url(EMULATOR_METADATA_URL).startswith("https://login.microsoftonline.com/")
    assert default.timeout == 5.0 and default.refresh_floor == 300.0
    sovereign = _signing_keys(load_settings({"OPENID_METADATA_URL": "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
                                             "OPENID_FETCH_TIMEOUT_SECONDS": "2"}))
    assert sovereign.fetch_url(CHANNEL_METADATA_URL) == "https://login.botframework.azure.us/v1/.well-known/openidconfiguration"
    assert sovereign.timeout == 2.0


@pytest.mark.parametrize("environ", [{"OPENID_METADATA_URL": "http://login.botframework.com/v1/x"},
                                     {"EMULATOR_OPENID_METADATA_URL": "login.example/x"},
                                     {"OPENID_FETCH_TIMEOUT_SECONDS": "30"},
                                     {"OPENID_REFRESH_FLOOR_SECONDS": "0"}])
def test_a_metadata_setting_that_could_hang_or_leak_is_refused(environ):
    with pytest.raises(ConfigError):
        load_settings(environ)


def test_graph_and_its_authority_come_from_configuration_only():
    settings = load_settings({"GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s", "GRAPH_TENANT_ID": "t-1",
                              "GRAPH_ORGANISER": "rr@example.org", "GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0",
                              "GRAPH_AUTHORITY_HOST": "https://login.microsoftonline.us"})
    provider = _meeting_provider(settings)
    assert provider._base == "https://graph.microsoft.us/v1.0"  # noqa: SLF001
    assert provider._graph.msal_args["authority"] == "https://login.microsoftonline.us/t-1"  # noqa: SLF001
