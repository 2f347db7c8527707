"""The Notifier port over the Bot Framework: proactive posts and in-place updates.

Proactive sends and updates go straight to the connector client that bot/teams/sdk.py keeps
for the stored address's service URL (no continuation turn), with the card message as wire
JSON. Opening a personal chat uses the adapter's `create_conversation`; with CloudAdapter the
bot's app id must be passed or the call fails ("Invalid app_id"); in local (anonymous) mode it
is the empty string, which the SDK accepts.

The SDK does not retry 429 and never retries POSTs (botbuilder's connector retry policy;
docs/architecture.md, Outbox), so failures become DeliveryError with Teams' Retry-After,
and the outbox retries them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botbuilder.core import BotAdapter, CardFactory, TurnContext
from botbuilder.schema import ChannelAccount, ConversationParameters, ErrorResponseException

from bot.adapters import telemetry
from bot.adapters.links import LinkSigner
from bot.adapters.service_hosts import REFUSED_REASON, ServiceHostPolicy, ServiceHostRefused, origin
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
from bot.teams.message_size import fitted_activity
from bot.teams.pacer import ConversationPacer
from bot.teams.sdk import ManagedIdentityTokenError
from cards import correction_cards, duplicate_cards, file_cards, meeting_cards, pathway_cards, report_cards
from cards.chat import text_card
from cards.clock_cards import agency_prompt_card, escalation_card, reminder_card, reminders_digest_card
from cards.common import escape_markdown
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


def delivery_error(error: Exception) -> DeliveryError:
    """Translate a connector failure into what the outbox needs to know."""
    if isinstance(error, ServiceHostRefused):  # refused by bot/teams/sdk.py before sending: never retried
        return DeliveryError(REFUSED_REASON, permanent=True, answered=True)
    if isinstance(error, ManagedIdentityTokenError):  # no token for the bot, so nothing left it: tried again later
        return DeliveryError("bot token unavailable: managed identity endpoint", answered=True)
    if isinstance(error, ErrorResponseException) and error.response is not None:
        status = error.response.status_code
        retry_after = error.response.headers.get("Retry-After")
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:
            wait = None
        permanent = status in (400, 401, 403, 404, 413)
        return DeliveryError(f"connector answered {status}", retry_after=wait, permanent=permanent, answered=True)
    return DeliveryError(f"connector unreachable: {type(error).__name__}")


class TeamsNotifier:
    def __init__(self, adapter: BotAdapter, app_id: str, roster: RosterStore, deadlines: DeadlineStore,
                 links: LinkSigner, tz: ZoneInfo, clock: Clock, *, uow: UnitOfWork,
                 hosts: ServiceHostPolicy, sends: SendGuard | None = None,
                 marking: str = DEFAULT_PROTECTIVE_MARKING, retention: RetentionPolicy | None = None,
                 pace_each_reply_chain: bool = False) -> None:
        self._adapter = adapter
        self.retention = retention or RetentionPolicy()  # the periods the DPO's list states
        self.marking = marking  # the partnership's protective marking, at the foot of identifying cards
        self._sends = sends  # outbox sends recorded in doubt before they leave (bot/services/sends.py)
        self._uow = uow  # refused service hosts: audited, and told to the managers once
        self._hosts = hosts
        self._clock = clock
        # per thread and per tenant (bot/teams/pacer.py); tests may replace it (a fake clock)
        self.pacer = ConversationPacer(each_reply_chain=pace_each_reply_chain)
        self.links = links
        self.deadlines = deadlines
        self._app_id = app_id or ""
        self._repo = roster
        self._tz = tz
        # The connector clients kept by bot/teams/sdk.py, reached without a continuation turn.
        auth = adapter.bot_framework_authentication  # type: ignore[attr-defined]
        self._connectors = auth.create_connector_factory(adapter.create_claims_identity(self._app_id))  # type: ignore[attr-defined]

    async def _with_connector(self, address: Address, work: Any) -> Any:
        """Run `work(connector_client)` with the client kept by bot/teams/sdk.py for the address's
        service URL, used directly: a continuation turn (claims, connector factory, turn context,
        middleware) only to reach the same client was an eighth of a vote's CPU."""
        await self._check_host(address.service_url)
        try:
            return await work(await self._connectors.create(address.service_url, None))
        except DeliveryError:
            raise
        except Exception as error:  # noqa: BLE001 - every connector failure becomes a retryable delivery error
            raise delivery_error(error) from error

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
        raise DeliveryError(REFUSED_REASON, permanent=True, answered=True)

    def _card_activity(self, address: Address, card: dict[str, Any], activity_id: str | None = None,
                       attachment: dict[str, Any] | None = None) -> Any:
        """The message carrying a card (or another attachment), as the wire JSON itself
        (bot/teams/sdk.py sends a dict as it is)."""
        body: dict[str, Any] = {
            "type": "message",
            "channelId": "msteams",
            "serviceUrl": address.service_url,
            "from": {"id": address.bot_id or self._app_id},
            "conversation": {"id": address.conversation_id, **({"tenantId": address.tenant_id}
                                                               if address.tenant_id else {})},
            "attachments": [attachment or {"contentType": CardFactory.content_types.adaptive_card, "content": card}],
        }
        if activity_id:
            body["id"] = activity_id
        return fitted_activity(body)  # never over the size budget (bot/teams/message_size.py)

    async def send_card(self, address: Address, card: dict[str, Any]) -> str:
        if self._sends is None:
            return await self._send_card(address, card)

        async def post(key: str | None, resent: bool) -> str:
            marked = with_resent_line(card) if resent else card
            return await self._send_card(address, with_send_key(marked, key) if key else marked)

        return await self._sends.send(address.conversation_id, post)

    async def _paced(self, address: Address, work: Any) -> Any:
        """Send when the pacer allows it (bot/teams/pacer.py); a 429's Retry-After holds back
        that conversation's thread before the outbox tries again."""
        counted_at = await self.pacer.wait(address.conversation_id, address.tenant_id)
        try:
            return await self._with_connector(address, work)
        except DeliveryError as error:
            if error.retry_after is not None:
                self.pacer.hold(address.conversation_id, error.retry_after)
            raise
        finally:
            self.pacer.sent(address.conversation_id, counted_at, address.tenant_id)

    async def _send_card(self, address: Address, card: dict[str, Any]) -> str:
        """A new message in the conversation. Sent with the connector's send_to_conversation:
        TurnContext.send_activity in a continuation turn would make it a *reply* to the
        continuation's made-up activity id."""

        async def work(connector: Any) -> str:
            activity = self._card_activity(address, card)
            response = await connector.conversations.send_to_conversation(address.conversation_id, activity)
            return response.id if response else ""

        return await self._paced(address, work)

    async def _posted(self, outbox_key: str, channel: Address) -> str | None:
        """Teams' id of the card an earlier outbox message posted in `channel`, from the send
        ledger (bot/services/sends.py); None when it is not known to have arrived."""
        return await self._sends.activity_of(outbox_key, channel.conversation_id) if self._sends else None

    async def update_card(self, address: Address, activity_id: str, card: dict[str, Any]) -> None:
        async def work(connector: Any) -> None:
            activity = self._card_activity(address, card, activity_id)
            await connector.conversations.update_activity(address.conversation_id, activity_id, activity)

        await self._with_connector(address, work)

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
        await self.send_card(channel, escalation_card(view, self._tz) if escalation else reminder_card(view, self._tz))
        if not escalation:
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

        async def work(connector: Any) -> str:
            activity = self._card_activity(address, {}, attachment=consent)
            response = await connector.conversations.send_to_conversation(address.conversation_id, activity)
            return response.id if response else ""

        try:
            await self._paced(address, work)
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
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=known.bot_id or self._app_id),
            members=[ChannelAccount(id=aad_object_id)],
            tenant_id=known.tenant_id,
            channel_data={"tenant": {"id": known.tenant_id}} if known.tenant_id else None,
        )
        created: dict[str, Address] = {}

        async def callback(turn_context: TurnContext) -> None:
            created["address"] = Address(
                turn_context.activity.conversation.id, known.service_url, known.tenant_id, known.bot_id
            )

        try:
            await self._adapter.create_conversation(
                self._app_id, callback, params, channel_id="msteams", service_url=known.service_url
            )
        except Exception as error:  # noqa: BLE001 - not reachable is an expected answer here
            log.info("could not open a personal chat", extra={"reason": type(error).__name__})
            failure = delivery_error(error)
            if failure.reason in PERSON_GONE:
                return None
            raise failure from error  # Teams itself failed (5xx, throttled, refused the bot): not the person
        address = created.get("address")
        if address:
            await self._repo.save_reference(f"user:{aad_object_id}", address, None, self._clock.now())
        return address

