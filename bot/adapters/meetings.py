"""Meeting providers: Microsoft Graph (app-only) and the offline embedded default.

Graph (docs/architecture.md, Meeting): free/busy with `getSchedule` (findMeetingTimes does not work with
application permissions), then `POST /users/{organiser}/events` with a Teams meeting
(`isOnlineMeeting`, `teamsForBusiness`) so it lands in everyone's calendar. Every create
carries a `transactionId`: Graph answers a retried create with the event it already made,
so a retry never books twice. 429 and 503 honour Retry-After, a few times (tenacity);
a 4xx becomes a plain-words message for the chair.

msal is synchronous (requests), so token calls run in a thread; msal caches the token
and refreshes it itself. Its HTTP goes through the `http_client` given, which is how
tests route it to a local server while keeping msal's own code path.

Every endpoint comes from configuration (bot/settings.py: GRAPH_BASE_URL, GRAPH_AUTHORITY_HOST
and the tenant): msal's instance discovery, which would ask login.microsoftonline.com about
the authority whatever it is, is off. Proxy and CA bundle: bot/adapters/outbound_http.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.adapters.graph_token import GraphToken
from bot.adapters.outbound_http import client_session, proxy_for
from bot.services.ports import Attendee, CreatedEvent, MeetingError

PLAIN_WORDS = {
    400: "Microsoft Graph rejected the meeting request as malformed; ask the bot's administrator to check the logs.",
    401: "The bot could not sign in to Microsoft Graph: check GRAPH_CLIENT_ID, the secret or certificate, and "
         "GRAPH_TENANT_ID.",
    403: "The bot is not allowed to read calendars or create the meeting: an administrator must grant the Graph "
         "application permissions Calendars.ReadWrite (and admin consent) — see README 'Meetings'.",
    404: "The organiser mailbox was not found: check GRAPH_ORGANISER (the partnership business unit's mailbox).",
}


class OfflineMeetingProvider:
    """The embedded default: no Graph. Everyone counts as free, so the first slot of the
    window is taken; the event is recorded exactly as a Graph one would be, and the chair
    gets an .ics invitation to send."""

    offline = True

    async def busy(self, attendees: Sequence[Attendee], start: datetime, end: datetime
                   ) -> dict[str, list[tuple[datetime, datetime]] | None]:
        return {a.email: [] for a in attendees}

    async def create_event(self, *, subject: str, body_html: str, start: datetime, end: datetime,
                           attendees: Sequence[Attendee], transaction_id: str) -> CreatedEvent:
        return CreatedEvent(event_id=f"offline-{transaction_id}", join_url=None)

    async def move_event(self, event_id: str, start: datetime, end: datetime) -> None:
        return None

    async def cancel_event(self, event_id: str, comment: str) -> None:
        return None

    async def scrub_event(self, event_id: str, subject: str, body_html: str) -> None:
        return None  # no calendar event exists: the chair's .ics link stops working with the case
    async def set_attendees(self, event_id: str, attendees: Sequence[Attendee]) -> None:
        return None  # nothing is in anyone's calendar: the .ics invitation lists them


def _graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _parse_graph_time(value: dict[str, str]) -> datetime:
    text = value["dateTime"].split(".")[0]
    moment = datetime.fromisoformat(text)
    zone = value.get("timeZone", "UTC")
    if zone not in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        raise ValueError(f"unexpected time zone {zone}")
    return moment.replace(tzinfo=UTC)


class _Throttled(Exception):
    def __init__(self, status: int, retry_after: float) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


def _wait_for_retry_after(retry_state: Any) -> float:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    return error.retry_after if isinstance(error, _Throttled) else 1.0


class GraphMeetingProvider:
    offline = False

    def __init__(self, *, tenant_id: str, client_id: str, client_credential: str | dict[str, str], organiser: str,
                 base_url: str = "https://graph.microsoft.com/v1.0",
                 authority_host: str = "https://login.microsoftonline.com", http_client: Any = None,
                 session: aiohttp.ClientSession | None = None, max_attempts: int = 4,
                 max_retry_after: float = 60.0) -> None:
        self._graph = GraphToken(tenant_id=tenant_id, client_id=client_id, client_credential=client_credential,
                                 authority_host=authority_host, http_client=http_client)
        self._organiser = organiser
        self._base = base_url.rstrip("/")
        self._session = session
        self._attempts = max_attempts
        self._max_wait = max_retry_after

    async def _token(self) -> str:
        try:
            result = await asyncio.to_thread(self._graph.acquire)
        except Exception as error:  # noqa: BLE001 - msal raises on unreachable or invalid authorities
            raise MeetingError("The bot could not reach the Microsoft sign-in service; it will try again shortly.",
                               retryable=True) from error
        if "access_token" not in result:
            raise MeetingError(PLAIN_WORDS[401] + f" ({result.get('error', 'no token')})", retryable=False,
                               status=401)
        return str(result["access_token"])

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
        # lazy: only Graph needs it, and only the Graph provider calls this (start-up time: README, Performance)
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        session = self._session or client_session()
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda e: isinstance(e, _Throttled)),
                wait=_wait_for_retry_after, stop=stop_after_attempt(self._attempts), reraise=True,
            ):
                with attempt:
                    return await self._once(session, method, path, body, headers)
        except _Throttled as throttled:
            raise MeetingError("Microsoft Graph is busy; the bot will try again shortly.", retryable=True,
                               status=throttled.status, retry_after=throttled.retry_after) from throttled
        except aiohttp.ClientError as error:
            raise MeetingError("Microsoft Graph could not be reached; the bot will try again shortly.",
                               retryable=True) from error
        finally:
            if self._session is None:
                await session.close()
        raise AssertionError("unreachable")

    async def _once(self, session: aiohttp.ClientSession, method: str, path: str, body: dict[str, Any] | None,
                    headers: dict[str, str] | None) -> dict[str, Any]:
        token = await self._token()
        url = f"{self._base}{path}"
        async with session.request(
            method, url, json=body, proxy=proxy_for(url),
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:
            if response.status in (429, 503, 504):
                retry_after = min(float(response.headers.get("Retry-After", "2") or 2), self._max_wait)
                raise _Throttled(response.status, retry_after)
            if response.status >= 400:
                detail = ""
                with contextlib.suppress(aiohttp.ContentTypeError, ValueError):  # Graph's error body is optional
                    detail = (await response.json()).get("error", {}).get("code", "")
                status = response.status
                words = PLAIN_WORDS.get(status, f"Microsoft Graph refused the request ({status}).")
                raise MeetingError(f"{words} [{detail}]" if detail else words, retryable=status >= 500,
                                   status=status)
            if response.status in (202, 204) or response.content_length == 0:  # e.g. POST …/cancel: 202, no body
                return {}
            return await response.json()

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One Graph call with this provider's credentials, token cache and throttling policy
        (used by bot/adapters/teams_apps.py); failures raise MeetingError."""
        return await self._call(method, path, body)

    async def busy(self, attendees: Sequence[Attendee], start: datetime, end: datetime
                   ) -> dict[str, list[tuple[datetime, datetime]] | None]:
        body = {"schedules": [a.email for a in attendees], "startTime": _graph_time(start),
                "endTime": _graph_time(end), "availabilityViewInterval": 30}
        data = await self._call("POST", f"/users/{self._organiser}/calendar/getSchedule", body,
                                {"Prefer": 'outlook.timezone="UTC"'})
        result: dict[str, list[tuple[datetime, datetime]] | None] = {}
        for schedule in data.get("value", []):
            email = schedule.get("scheduleId", "").lower()
            if schedule.get("error"):
                result[email] = None  # not readable (e.g. a guest in another tenant): unknown, not free
                continue
            result[email] = [
                (_parse_graph_time(item["start"]), _parse_graph_time(item["end"]))
                for item in schedule.get("scheduleItems", [])
                if str(item.get("status", "")).lower() in ("busy", "oof", "tentative")  # tentative counts: it may be firmed up
            ]
        return result

    async def create_event(self, *, subject: str, body_html: str, start: datetime, end: datetime,
                           attendees: Sequence[Attendee], transaction_id: str) -> CreatedEvent:
        body = {
            "subject": subject,
            "body": {"contentType": "HTML", "content": body_html},
            "start": _graph_time(start),
            "end": _graph_time(end),
            "attendees": [{"emailAddress": {"address": a.email, "name": a.name}, "type": "required"}
                          for a in attendees],
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "allowNewTimeProposals": False,
            "transactionId": transaction_id,
        }
        data = await self._call("POST", f"/users/{self._organiser}/events", body)
        return CreatedEvent(event_id=data["id"], join_url=(data.get("onlineMeeting") or {}).get("joinUrl"))

    async def move_event(self, event_id: str, start: datetime, end: datetime) -> None:
        await self._call("PATCH", f"/users/{self._organiser}/events/{event_id}",
                         {"start": _graph_time(start), "end": _graph_time(end)})

    async def set_attendees(self, event_id: str, attendees: Sequence[Attendee]) -> None:
        """PATCH replaces the attendee list, so it is sent whole; Outlook sends the new ones the invitation."""
        await self._call("PATCH", f"/users/{self._organiser}/events/{event_id}",
                         {"attendees": [{"emailAddress": {"address": a.email, "name": a.name}, "type": "required"}
                                        for a in attendees]})

    async def cancel_event(self, event_id: str, comment: str) -> None:
        await self._call("POST", f"/users/{self._organiser}/events/{event_id}/cancel", {"comment": comment})

    async def scrub_event(self, event_id: str, subject: str, body_html: str) -> None:
        """The event's subject and description replaced (an erased case): the organiser's copy and,
        through Exchange's update, the attendees' copies."""
        await self._call("PATCH", f"/users/{self._organiser}/events/{event_id}",
                         {"subject": subject, "body": {"contentType": "HTML", "content": body_html}})
