"""How every outgoing HTTP call of the bot reaches the internet: proxy and certificate authorities.

Local authority networks often let traffic out only through a proxy, and often inspect TLS
with their own certificate authority. So every client the bot builds — the Bot Connector
session (bot/teams/sdk.py), the signing-key fetch (bot/teams/signing_keys.py), Microsoft Graph
(bot/adapters/meetings.py, bot/adapters/channel_messages.py) — takes its proxy and its trusted certificates from here, from the
standard variables:

- `HTTPS_PROXY` / `HTTP_PROXY` (upper or lower case; `ALL_PROXY` as a fallback) and
  `NO_PROXY`, read as `urllib.request` and `requests` read them;
- a CA bundle: `REQUESTS_CA_BUNDLE`, else `CURL_CA_BUNDLE`, else `SSL_CERT_FILE` (and
  `SSL_CERT_DIR`). When one is set, it *replaces* the system's list, as it does for `requests`
  and OpenSSL: a bundle for a TLS-inspecting proxy must hold that proxy's root and any public
  roots still needed.

aiohttp sessions are built with `trust_env=False` and given the proxy per request
(`proxy_for`): with `trust_env=True` aiohttp reads ~/.netrc in a worker thread on every request
(3% of a vote turn's CPU, tests/bench/bench.py), for the same proxy answer.

MSAL (the bot's own token, bot/teams/sdk.py; Graph's token) speaks `requests`, which honours
the proxy variables and `REQUESTS_CA_BUNDLE` itself; `requests_verify` gives it the same bundle
when only `SSL_CERT_FILE` names one, so one setting covers every client, and `MSAL_TIMEOUT`
bounds its calls.
"""

from __future__ import annotations

import functools
import os
import ssl
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.adapters import telemetry

MSAL_TIMEOUT = 10.0  # seconds for each of MSAL's HTTP calls (it waits forever by default)

_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                    "NO_PROXY", "no_proxy")


def ca_bundle(environ: Mapping[str, str] | None = None) -> str | None:
    """The CA bundle file the environment names, or None for the system's certificates."""
    env = os.environ if environ is None else environ
    return next((env[name] for name in _BUNDLE_VARIABLES if env.get(name)), None)


def ssl_context() -> ssl.SSLContext:
    """The TLS context of every aiohttp client: certificate and host name checked, against the
    bundle the environment names (or the system's). Built once per bundle."""
    return _ssl_context(ca_bundle(), os.environ.get("SSL_CERT_DIR") or None)


@functools.lru_cache(maxsize=8)
def _ssl_context(bundle: str | None, directory: str | None) -> ssl.SSLContext:
    if bundle is None and directory is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=bundle, capath=directory)


def requests_verify() -> str | bool:
    """`verify` for a requests-based client (MSAL): the same bundle, else requests' default."""
    return ca_bundle() or True


def proxy_for(url: str) -> str | None:
    """The proxy that applies to this URL (NO_PROXY honoured), as requests would choose it."""
    parts = urlsplit(url)
    return _proxy_for(parts.scheme.lower(), parts.hostname or "",
                      tuple(os.environ.get(name, "") for name in _PROXY_VARIABLES))


@functools.lru_cache(maxsize=256)
def _proxy_for(scheme: str, host: str, _environment: tuple[str, ...]) -> str | None:
    # `_environment` is only the cache key: a changed variable is a new entry, not a stale answer.
    proxies = urllib.request.getproxies_environment()
    if not host or urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]  # untyped in typeshed
        return None
    return proxies.get(scheme) or proxies.get("all")


def client_session(target: str = "graph", **connector: Any) -> aiohttp.ClientSession:
    """An aiohttp session for outgoing calls: the CA bundle's TLS context; callers pass
    `proxy=proxy_for(url)` with each request. `connector` keywords go to the TCPConnector
    (connection limits). `target` names what it calls in telemetry's spans and 429 counts
    (bot/adapters/telemetry.py): connector, graph, signing_keys."""
    return aiohttp.ClientSession(trust_env=False, connector=aiohttp.TCPConnector(ssl=ssl_context(), **connector),
                                 trace_configs=telemetry.trace_configs(target))
