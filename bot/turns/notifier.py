"""The Notifier port for either Teams edge: which card goes to whom, and how it is sent.

Everything here is SDK-neutral: the cards chosen for each message, the addresses (a case's
thread is `<channel>;messageid=<root>`, a person's personal chat, opened when first needed),
the notices' texts, the pacing (a `Pacer`, bot/teams/pacer.py's, given by the composition
root), the service-host gate (bot/adapters/service_hosts.py), the send ledger that records a
send in doubt before it leaves (bot/services/sends.py) and the message's size budget. Each
edge gives only a thin `Wire` — post, update, open a personal chat — over its own SDK's Bot
Connector client (bot/teams/notifier.py for botbuilder, bot/agents/notifier.py for the
Microsoft 365 Agents SDK), which raises every failure as a DeliveryError.

Neither SDK's connector client re-sends a POST, and the Agents SDK's re-sends nothing (each
wire's docstring names the source), so a failed send is the outbox's to retry, after Teams'
Retry-After, which also holds back the conversation's thread in the pacer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.adapters import telemetry
from bot.adapters.links import LinkSigner
from bot.adapters.service_hosts import REFUSED_REASON, ServiceHostPolicy, origin
from bot.domain.case import Case, CaseSummary
from bot.domain.meeting import MeetingOutcome
from bot.domain.partnership import DEFAULT_PROTECTIVE_MARKING, Role
from bot.domain.redaction import redact
from bot.domain.retention import RetentionPolicy
from bot.domain.timeline import Anchor
from bot.services import host_refusals, meeting, pathways
from bot.services.panel import PanelView
from bot.services.ports import (
    Address,
    Clock,
    DeadlineStore,
    DeliveryError,
    ErasurePlan,
    MeetingRecord,
    QueryRecord,
    RosterStore,
    UnitOfWork,
)
from bot.services.referrals import PANEL_CHANNEL
from bot.services.reminder_view import ReminderView
from bot.services.report import ReportView
from bot.services.sends import SendGuard
from bot.turns.oversize import fitted_activity
from cards import correction_cards, duplicate_cards, file_cards, meeting_cards, pathway_cards, report_cards
from cards.chat import text_card
from cards.clock_cards import agency_prompt_card, escalation_card, reminder_card, reminders_digest_card
from cards.common import CONTENT_TYPE, escape_markdown
from cards.retention_cards import retention_list_card, tombstone_card
from cards.sends import with_resent_line, with_send_key
from cards.vote_card import (
    answer_notice_card,
    decision_for_referrer_card,
    disagreement_prompt_card,
    panel_card,
    query_card,
)

log = logging.getLogger(__name__)

NOTICES = {
    "person_unreachable": (
        "Someone could not be reached in Teams",
        "{name} could not be reached in Teams: the Rapid Review app is not installed for them, so the bot cannot "
        "send them their messages. Ask {name} to open the Rapid Review bot in Teams once (find it under Apps and "
        "send it any message, for example **help**); what is waiting for them will then be sent again by itself.",
    ),
    "no_panel_channel": (
        "Panel channel needed",
        "Referral {reference} has been submitted, but no panel channel is set, so the panel has not seen it yet. "
        "It is stored safely. In the channel your panel uses, type **@Rapid Review use this channel for the panel**.",
    ),
    host_refusals.NOTICE: (
        "A message was not sent",
        "The bot refused to send a message to {host}, because that is not a Microsoft Teams or Bot Framework "
        "service address. Nothing was sent there: no message and no credentials. If your partnership uses a "
        "government or sovereign Teams cloud, ask the bot's administrator to add this host to ALLOWED_SERVICE_HOSTS. "
        "Otherwise tell your information governance lead, because a stored Teams address may have been tampered "
        "with. Every refusal is in the audit log; you will not be told again about this address.",
    ),
}


PERSON_GONE = frozenset({"connector answered 403", "connector answered 404"})


def connector_answered(status: int, retry_after: str | None) -> DeliveryError:
    """What the outbox needs to know when the Bot Connector answered `status` (either SDK): a
    client error is not tried again; anything else is, after Teams' Retry-After when given."""
    try:
        wait = float(retry_after) if retry_after is not None else None
    except ValueError:
        wait = None
    permanent = status in (400, 401, 403, 404, 413)
    return DeliveryError(f"connector answered {status}", retry_after=wait, permanent=permanent, answered=True)


def refused_host() -> DeliveryError:
    """A send the service-host gate refused before anything left: never retried."""
    return DeliveryError(REFUSED_REASON, permanent=True, answered=True)


class Wire(Protocol):
    """One edge's Bot Connector calls. Every failure is raised as a DeliveryError."""

    async def post(self, address: Address, message: dict[str, Any]) -> str:
        """A new message (wire JSON) in the address's conversation; returns Teams' activity id."""
        ...

    async def update(self, address: Address, activity_id: str, message: dict[str, Any]) -> None:
        """The message `activity_id` replaced in place."""
        ...

    async def open_personal_chat(self, known: Address, aad_object_id: str, bot_id: str) -> str | None:
        """A 1:1 chat of the bot with the person, through the service and tenant of `known`;
        returns its conversation id (None when Teams answered without one)."""
        ...


class Pacer(Protocol):
    """Teams' rate limits per thread and per tenant (bot/teams/pacer.py)."""

    async def wait(self, conversation_id: str, tenant_id: str | None = None, *, can_wait: bool = False) -> float: ...
    def hold(self, conversation_id: str, seconds: float) -> None: ...
    def sent(self, conversation_id: str, counted_at: float, tenant_id: str | None = None) -> None: ...


class CardNotifier:
    """The Notifier port (bot/services/ports.py) over one edge's `Wire`."""

    def __init__(self, wire: Wire, app_id: str, roster: RosterStore, deadlines: DeadlineStore,
                 links: LinkSigner, tz: ZoneInfo, clock: Clock, *, uow: UnitOfWork,
                 hosts: ServiceHostPolicy, pacer: Pacer, sends: SendGuard | None = None,
                 marking: str = DEFAULT_PROTECTIVE_MARKING, retention: RetentionPolicy | None = None) -> None:
        self.wire = wire  # the edge's Bot Connector calls (TEAMS_EDGE chooses which)
        self.retention = retention or RetentionPolicy()  # the periods the DPO's list states
        self.marking = marking  # the partnership's protective marking, at the foot of identifying cards
        self._sends = sends  # outbox sends recorded in doubt before they leave (bot/services/sends.py)
        self._uow = uow  # refused service hosts: audited, and told to the managers once
        self._hosts = hosts
        self._clock = clock
        self.pacer = pacer  # per thread and per tenant; tests may replace it (a fake clock)
        self.links = links
        self.deadlines = deadlines
        self._app_id = app_id or ""
        self._repo = roster
        self._tz = tz

    async def _check_host(self, service_url: str) -> None:
        """A stored address whose service URL is not a Bot Framework / Teams host (a tampered
        or foreign reference) is never sent to: not the token, not the card
        (bot/adapters/service_hosts.py). The delivery fails for good, the refusal is audited and
        the managers are told once (bot/services/host_refusals.py); the log names the host only,
        never the URL's path."""
        if self._hosts.allows(service_url):
            return
        host = origin(service_url)
        log.warning("refused to send: service host not allowed", extra={"host": host})
        await host_refusals.report_refused_host(self._uow, self._clock, host, "stored address")
        raise refused_host()

    def card_message(self, address: Address, card: dict[str, Any], activity_id: str | None = None,
                     attachment: dict[str, Any] | None = None) -> dict[str, Any]:
        """The message carrying a card (or another attachment), as the wire JSON itself."""
        body: dict[str, Any] = {
            "type": "message",
            "channelId": "msteams",
            "serviceUrl": address.service_url,
            "from": {"id": address.bot_id or self._app_id},
            "conversation": {"id": address.conversation_id, **({"tenantId": address.tenant_id}
                                                               if address.tenant_id else {})},
            "attachments": [attachment or {"contentType": CONTENT_TYPE, "content": card}],
        }
        if activity_id:
            body["id"] = activity_id
        return fitted_activity(body)  # never over the size budget (bot/turns/oversize.py)

    async def send_card(self, address: Address, card: dict[str, Any], *, can_wait: bool = False) -> str:
        """`can_wait`: a post the thread's other waiting sends go ahead of (bot/teams/pacer.py)."""
        if self._sends is None:
            return await self._send_card(address, card, can_wait)

        async def post(key: str | None, resent: bool) -> str:
            marked = with_resent_line(card) if resent else card
            return await self._send_card(address, with_send_key(marked, key) if key else marked, can_wait)

        return await self._sends.send(address.conversation_id, post)

    async def _paced(self, address: Address, message: dict[str, Any], can_wait: bool = False) -> str:
        """Post when the pacer allows it (bot/teams/pacer.py); a 429's Retry-After holds back
        that conversation's thread before the outbox tries again."""
        counted_at = await self.pacer.wait(address.conversation_id, address.tenant_id, can_wait=can_wait)
        try:
            await self._check_host(address.service_url)
            return await self.wire.post(address, message)
        except DeliveryError as error:
            if error.retry_after is not None:
                self.pacer.hold(address.conversation_id, error.retry_after)
            raise
        finally:
            self.pacer.sent(address.conversation_id, counted_at, address.tenant_id)

    async def _send_card(self, address: Address, card: dict[str, Any], can_wait: bool = False) -> str:
        """A new message in the conversation (a reply in a thread when the address is one)."""
        return await self._paced(address, self.card_message(address, card), can_wait)

    async def _posted(self, outbox_key: str, channel: Address) -> str | None:
        """Teams' id of the card an earlier outbox message posted in `channel`, from the send
        ledger (bot/services/sends.py); None when it is not known to have arrived."""
        return await self._sends.activity_of(outbox_key, channel.conversation_id) if self._sends else None

    async def update_card(self, address: Address, activity_id: str, card: dict[str, Any]) -> None:
        await self._check_host(address.service_url)
        await self.wire.update(address, activity_id, self.card_message(address, card, activity_id))

    # ---- the Notifier port --------------------------------------------------------------------

    async def post_panel_card(self, channel: Address, view: PanelView) -> str:
        return await self.send_card(channel, panel_card(view, self._tz))

    async def update_panel_card(self, channel: Address, activity_id: str, view: PanelView) -> None:
        await self.update_card(channel, activity_id, panel_card(view, self._tz))

    async def send_query(self, aad_object_id: str, view: PanelView, query: QueryRecord) -> bool:
        card = query_card(view, query.question, f"{query.partner.title} ({query.asked_by_name})", query.id)
        return await self.send_to_person(aad_object_id, card)

    async def send_decision(self, aad_object_id: str, view: PanelView) -> bool:
        return await self.send_to_person(aad_object_id, decision_for_referrer_card(view, self._tz))

    async def post_answer_notice(self, channel: Address, view: PanelView, partner_title: str,
                                 redacted_answer: str) -> None:
        await self.send_card(channel, answer_notice_card(view, partner_title, redacted_answer))

    async def send_disagreement_prompt(self, aad_object_id: str, view: PanelView, hours: int) -> bool:
        return await self.send_to_person(aad_object_id, disagreement_prompt_card(view, self._tz, hours))

    async def post_reminder(self, channel: Address, view: ReminderView, *, escalation: bool = False) -> None:
        """A reminder nobody on the roster owns, or an escalation's record, in the case's thread.
        The escalation can wait: its step's owners have their own reminders, while a reminder
        posted here is the only one the step gets, so it goes ahead of them in the channel's pace."""
        if escalation:
            await self.send_card(channel, escalation_card(view, self._tz), can_wait=True)
            return
        await self.send_card(channel, reminder_card(view, self._tz))
        telemetry.reminder_sent(view.delayed)

    async def send_reminders(self, aad_object_id: str, views: Sequence[ReminderView]) -> bool:
        """One person's reminders, to their personal chat: one alone as it is, several as one
        digest card (bot/services/reminder_delivery.py)."""
        listed = list(views)
        card = reminder_card(listed[0], self._tz) if len(listed) == 1 else reminders_digest_card(listed, self._tz)
        if not await self.send_to_person(aad_object_id, card):
            return False
        for view in listed:
            telemetry.reminder_sent(view.delayed)
        return True

    async def send_agency_prompt(self, aad_object_id: str, case: CaseSummary, agencies: list[str]) -> bool:
        return await self.send_to_person(aad_object_id, agency_prompt_card(case, agencies))

    async def send_meeting_message(self, kind: str, case: Case, record: MeetingRecord, channel: Address | None,
                                   recipients: list[str], payload: dict[str, Any]) -> bool:
        """Render and send one of the meeting's messages (see bot/services/outbox.py)."""
        tz = self._tz
        summary = case.summary
        # The outcome's texts and a problem's text pass the redaction step before any card is built.
        outcome = (meeting.shareable_outcome(case, MeetingOutcome.model_validate(record.outcome))
                   if record.outcome else None)
        if kind == "meeting_card" and channel is not None:
            old_card = await self._posted(str(payload["replaces"]), channel) if payload.get("replaces") else None
            if payload.get("cancelled"):
                if record.status != "cancelled":
                    return True  # booked again since: the new booking's card says so
                cancelled = meeting_cards.meeting_cancelled_card(summary, record, tz)
                if old_card is not None:  # the card people have: it now says cancelled, and books a new time
                    await self.update_card(channel, old_card, cancelled)
                else:
                    await self.send_card(channel, cancelled)
                return True
            if old_card is not None and record.start_at is not None:
                old_start = datetime.fromisoformat(str(payload["old_start"])) if payload.get("old_start") else None
                await self.update_card(channel, old_card, meeting_cards.meeting_moved_card(summary, old_start,
                                                                                           record, tz))
            papers = next((d for d in await self.deadlines.deadlines(case.id)
                           if d.anchor == "meeting" and d.due_at and d.due_at <= (record.start_at or d.due_at)), None)
            ics = (await self.links.url(case.id, "ics", self._clock.now() + timedelta(days=30))
                   if record.provider == "offline" else None)
            await self.send_card(channel, meeting_cards.meeting_card(summary, record, papers, tz, ics))
            return True
        if kind == "booking_failed" and channel is not None:
            await self.send_card(channel, meeting_cards.booking_failed_card(summary))
            return True
        if kind == "outcome_summary" and channel is not None and outcome is not None:
            await self.send_card(channel, meeting_cards.outcome_summary_card(summary, outcome))
            return True
        card: dict[str, Any] | None = None
        if kind == "chair_notes":
            notified = (await self.deadlines.anchors(case.id)).get(Anchor.NATIONAL_PANEL_NOTIFIED)
            chairs = [m.name for m in await self._repo.members(Role.CHAIR)]
            card = meeting_cards.chair_notes_card(case, record, tz, self.marking,
                                                  await pathways.agency_returns(self.deadlines, case.id),
                                                  notified_on=notified.astimezone(tz).date() if notified else None,
                                                  chair=", ".join(chairs) or None)
        elif kind == "outcome_prompt":
            card = meeting_cards.outcome_card(summary)
        elif kind == "slot_choice":
            card = meeting_cards.slot_choice_card(summary, record, tz)
        elif kind == "meeting_problem":
            card = meeting_cards.problem_card(summary, redact(str(payload.get("message", "")), case.referral))
        elif kind == "outcome_referrer" and outcome is not None:
            card = meeting_cards.outcome_for_referrer_card(summary, outcome)
        elif kind == "record_links" and outcome is not None:
            card = meeting_cards.record_card(summary, outcome)
        if card is None:
            return True
        reached = [await self.send_to_person(aad, card) for aad in recipients]
        return any(reached) or not recipients

    async def send_pathway_message(self, aad_object_id: str, message: pathways.PathwayMessage) -> bool:
        card = pathway_cards.message_card(message, self._tz, self.marking)
        if card is None:
            return True
        return await self.send_to_person(aad_object_id, card)
    async def send_report_message(self, kind: str, view: ReportView, channel: Address | None, to: str | None,
                                  payload: dict[str, Any]) -> bool:
        """The rapid review report's messages (bot/services/outbox.py): a status-only notice in
        the channel; the draft with a comment box, or the sign-off request, in personal chat."""
        summary = view.case.summary
        if channel is not None:
            await self.send_card(channel, report_cards.notice_card(summary, kind, payload, self._tz))
            return True
        if to is None:
            return True
        if kind == "comment":
            card = report_cards.comment_request_card(view, self._tz, self.marking)
        elif kind == "sign_off":
            card = report_cards.sign_off_request_card(summary)
        else:
            return True
        return await self.send_to_person(to, card)

    async def notify_person(self, aad_object_id: str, notice: str, detail: dict[str, Any]) -> bool:
        title, text = NOTICES[notice]
        card = text_card(title, text.format(**{k: escape_markdown(str(v or "")) for k, v in detail.items()}), style="warning")
        return await self.send_to_person(aad_object_id, card)

    async def send_retention_list(self, aad_object_id: str, plans: Sequence[ErasurePlan], more: int) -> bool:
        listed = list(plans)
        names = {m.aad_object_id: m.name for m in await self._repo.members() if m.aad_object_id}
        return await self.send_to_person(aad_object_id, retention_list_card(listed, more, names, self._tz,
                                                                            self.retention, self.marking))

    async def replace_with_tombstone(self, address: Address, activity_id: str) -> None:
        await self.update_card(address, activity_id, tombstone_card())

    async def send_to_person(self, aad_object_id: str, card: dict[str, Any]) -> bool:
        """To the person's personal chat with the bot; False when we have no way to reach
        them yet (they have never talked to the bot and Teams will not open a chat)."""
        address = await self._repo.reference(f"user:{aad_object_id}") or await self._open_personal_chat(aad_object_id)
        if address is None:
            return False
        try:
            await self.send_card(address, card)
        except DeliveryError as error:
            if error.reason in PERSON_GONE:  # the app is not (or no longer) installed for them
                raise DeliveryError(error.reason, permanent=True, unreachable=True,
                                    answered=error.answered) from error
            raise
        return True

    async def send_duplicate_flag(self, aad_object_id: str, case: CaseSummary, first: CaseSummary) -> bool:
        return await self.send_to_person(aad_object_id, duplicate_cards.flag_card(case, first))

    async def post_case_notice(self, channel: Address, case: CaseSummary, what: str) -> None:
        await self.send_card(channel, correction_cards.notice_card(case, what))

    async def send_file_consent(self, aad_object_id: str, offer: dict[str, Any]) -> bool:
        """Teams' file consent card, to the person's personal chat only (files are offered in
        1:1 chats; the address is the person's own, never a channel's). Not through the send
        ledger: a consent card sent twice offers the same one-time id, which works once."""
        address = await self._repo.reference(f"user:{aad_object_id}") or await self._open_personal_chat(aad_object_id)
        if address is None:
            return False
        consent = file_cards.consent_attachment(str(offer.get("name") or "file"), int(offer.get("size") or 0),
                                          str(offer.get("what") or ""), str(offer["offer"]), self.marking)

        try:
            await self._paced(address, self.card_message(address, {}, attachment=consent))
        except DeliveryError as error:
            if error.reason in PERSON_GONE:
                raise DeliveryError(error.reason, permanent=True, unreachable=True,
                                    answered=error.answered) from error
            raise
        return True

    async def _open_personal_chat(self, aad_object_id: str) -> Address | None:
        """Teams lets a bot start a 1:1 chat with a user of its tenant once the app is
        installed for them or in a team they belong to; otherwise this fails and the
        notice waits until they first talk to the bot."""
        # The Bot Connector's address: as last seen in a personal chat, or the panel channel's
        # (the same service and tenant), so that a team whose members never opened the bot is reached.
        known = await self._repo.reference("service") or await self._repo.channel(PANEL_CHANNEL)
        if known is None:
            return None
        await self._check_host(known.service_url)
        try:
            conversation_id = await self.wire.open_personal_chat(known, aad_object_id, known.bot_id or self._app_id)
        except DeliveryError as failure:
            log.info("could not open a personal chat", extra={"reason": failure.reason})
            if failure.reason in PERSON_GONE:  # not reachable is an expected answer here
                return None
            raise  # Teams itself failed (5xx, throttled, refused the bot): not the person
        if not conversation_id:
            return None
        address = Address(conversation_id, known.service_url, known.tenant_id, known.bot_id)
        await self._repo.save_reference(f"user:{aad_object_id}", address, None, self._clock.now())
        return address
