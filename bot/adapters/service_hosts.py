"""Which service URLs the bot may send to: Bot Framework and Teams service hosts only.

Every outgoing call carries the bot's Bearer token and, usually, a case card. The URL it goes
to comes from data: an incoming activity's `serviceUrl`, or a conversation reference stored
from one. So the host is checked before any byte is sent (bot/teams/edge.py refuses such an
activity; bot/turns/notifier.py and the kept connector clients in bot/teams/sdk.py refuse
to send there).

The default list is modelled on the Microsoft 365 Agents SDK's `OutboundHostValidator`
(microsoft-agents-hosting-aiohttp, `_DEFAULT_MICROSOFT_HOSTS`): a host is allowed when it is
one of these names or a subdomain of one. Only the Bot Connector / Teams service hosts are
kept; the SDK's Graph, SharePoint and blob-storage entries are for attachment downloads, which
this bot never makes with its token. Sovereign clouds add their hosts with
`ALLOWED_SERVICE_HOSTS` (bot/settings.py). Loopback (the Agents Playground, the tests' fake
connector) is allowed only in local mode, where there is no token to leak.

Pure: no I/O, no SDK; both edges (bot/teams/, bot/agents/) and the notifier use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_SERVICE_HOSTS: tuple[str, ...] = (
    "smba.trafficmanager.net",  # Teams service URLs (smba.trafficmanager.net/emea/, /uk/, ...)
    "botframework.com",         # Bot Connector and channel service URLs
    "botframework.us",          # US Government
    "botframework.azure.us",    # US Government (Azure Government)
    "teams.microsoft.com",      # Teams (GCC, e.g. smba.infra.gcc.teams.microsoft.com)
    "teams.microsoft.us",       # Teams GCC High / DoD
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

REFUSED_REASON = "service host not allowed"

# The authority of a URL we accept: a DNS name or [::1], an optional port; nothing else
# (no userinfo, no percent-escapes, no backslashes — whatever two URL parsers could read
# differently is refused rather than interpreted).
_AUTHORITY = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.?|\[::1\])(?::[0-9]{1,5})?$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_IPV4 = re.compile(r"^[0-9.]+$")
# Whitespace (as `str.isspace` counts it), control characters and backslashes: a URL holding
# any is not judged at all. One regular-expression search: a character-by-character loop in
# Python took 30 µs over a reply's URL, which every reply is checked against twice.
_UNJUDGED_CHARACTER = re.compile(r"[\s\x00-\x1f\\]")


class ServiceHostRefused(Exception):
    """A send to a service URL whose host is not allowed; never retried."""

    def __str__(self) -> str:
        return REFUSED_REASON


def normalise_extra(entries: Iterable[str]) -> tuple[str, ...]:
    """`ALLOWED_SERVICE_HOSTS` entries as host suffixes: lower case, without a leading `*.`
    or `.`. Raises ValueError naming an entry that is not a plain host name with a dot."""
    hosts: list[str] = []
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        host = entry.removeprefix("*.").removeprefix(".").rstrip(".")
        if not _HOST_NAME.match(host) or _IPV4.match(host):
            raise ValueError(f"{raw.strip()!r} is not a host name such as smba.infra.example.us")
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def parse_extra(value: str) -> tuple[str, ...]:
    return normalise_extra(value.split(","))


def _host_and_port(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL we are willing to judge, else None."""
    if not isinstance(url, str) or _UNJUDGED_CHARACTER.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not _AUTHORITY.match(parts.netloc) or parts.hostname is None:
        return None
    return parts.scheme.lower(), parts.hostname.lower().rstrip("."), port


def is_allowed(url: str, *, local_mode: bool, extra: Iterable[str] = ()) -> bool:
    """May the bot send to this service URL? https to a default or `extra` host (or one of
    their subdomains) on the default port; in local mode also http(s) to loopback."""
    return _https_to(url, (*DEFAULT_SERVICE_HOSTS, *extra), local_mode=local_mode)


def origin(url: str) -> str:
    """What a log line may say about a refused URL: scheme and host only (no path, no
    userinfo, at most 100 characters)."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
    except ValueError:
        return "(unparsable)"
    return f"{parts.scheme}://{host}"[:100]


class ServiceHostPolicy:
    """`is_allowed` with the process's settings bound."""

    def __init__(self, *, local_mode: bool, extra: Iterable[str] = ()) -> None:
        self.loopback = local_mode  # tests of production mode set it: their fake connector is on loopback
        self.extra = normalise_extra(extra)

    def allows(self, url: str) -> bool:
        return is_allowed(url, local_mode=self.loopback, extra=self.extra)


PRODUCTION = ServiceHostPolicy(local_mode=False)


# Where a file the person accepted may be uploaded: their OneDrive for Business, which is
# SharePoint (<tenant>-my.sharepoint.com, and the sovereign clouds' SharePoint domains). The
# upload URL comes in the `fileConsent/invoke` activity and is pre-authenticated: the bot sends
# no token with it, only the file, so a URL anywhere else is refused before a byte of the file
# leaves (bot/teams/file_upload.py).
ONEDRIVE_UPLOAD_HOSTS: tuple[str, ...] = (
    "sharepoint.com",     # commercial and GCC
    "sharepoint.us",      # GCC High
    "sharepoint-mil.us",  # DoD
    "sharepoint.cn",      # operated by 21Vianet
    "sharepoint.de",      # Microsoft Cloud Deutschland
)


def upload_allowed(url: str, *, local_mode: bool) -> bool:
    """May the accepted file be PUT to this upload URL? https to a OneDrive / SharePoint host
    (or a subdomain) on the default port; in local mode also loopback (the tests' stand-in
    for OneDrive, the Agents Playground)."""
    return _https_to(url, ONEDRIVE_UPLOAD_HOSTS, local_mode=local_mode)


def _https_to(url: str, hosts: Iterable[str], *, local_mode: bool) -> bool:
    """https on the default port to one of `hosts` or a subdomain, never a bare IPv4 address;
    loopback (http or https) only in local mode."""
    parsed = _host_and_port(url)
    if parsed is None:
        return False
    scheme, host, port = parsed
    if host in LOOPBACK_HOSTS:
        return local_mode and scheme in ("http", "https")
    if scheme != "https" or port not in (None, 443) or _IPV4.match(host):
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)
