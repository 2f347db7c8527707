"""The typed commands, for either edge: personal chat (`my referrals`, `show RR-…`,
`timeline RR-…`, `export RR-…`, …) and the panel channel (`use this channel for the panel`,
`add @… as police`, `members`, `show RR-…`, …).

The referral form's words (`refer`, `resume`, `cancel`) and training mode's are the edge's
(they need its dialog and its turn), so an edge asks for those first and hands the rest here,
saying whether a referral is in progress (the help card offers to resume it).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from bot.domain.case import Actor, parse_reference
from bot.domain.limits import cap
from bot.services import access, referrals
from bot.services.channels import WAITING_FOR_CHANNEL, bind_panel_channel
from bot.services.context import ServiceContext
from bot.services.ports import Address
from bot.services.refusals import NotAuthorised
from bot.turns.clock_actions import ClockActions
from bot.turns.correction_actions import CorrectionActions
from bot.turns.owner_actions import OwnerActions
from bot.turns.panel_actions import MEMBER_LISTING, SHOW, PanelActions
from bot.turns.places import tenant_of, where_of
from bot.turns.ports import TurnContext
from bot.turns.replies import Reply
from bot.turns.retention_actions import RetentionActions
from cards import chat

MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
BIND_PHRASES = ("use this channel for the panel", "use this channel", "set panel channel")
HELP_WORDS = ("help", "?", "hi", "hello")
# The referral form's words, answered by the edge's dialog.
REFER_WORDS = ("refer", "start", "new referral", "chat.refer")
RESUME_WORDS = ("resume", "continue")
CANCEL_WORDS = ("cancel", "discard")
# The records handed to one person (bot/teams/exports.py, botbuilder's until its file consent is ported).
EXPORT, RECORD_COMMAND, NOTES_COMMAND, TIMELINESS = "export", "record", "notes", "timeliness"
# Training mode's commands (bot/turns/training.py); outside training mode they are refused.
TRAINING_STARTS = ("act as", "advance")
TRAINING_COMMANDS = ("inbox", "today", "time", "training date", "demo case")
# Typed commands that name one case, and the action their refusal is audited as.
CASE_COMMANDS = {
    "notification summary": "notification_summary",
    "timeline": "timeline",
    SHOW: "show_card",
    "pathway": "pathway",
    RECORD_COMMAND: "record_link",
    NOTES_COMMAND: "notes_link",
}


def is_training_command(text: str) -> bool:
    return text in TRAINING_COMMANDS or any(text == s or text.startswith(s + " ") for s in TRAINING_STARTS)


def command_text(activity: Any) -> str:
    """The typed command, normalised; a message longer than any command (bot/domain/limits.py)
    is no command at all and is answered with the help card."""
    text = " ".join(MENTION.sub(" ", activity.text or "").split()).strip().lower()
    return text if len(text) <= cap("command.text") else ""


def typed_text(activity: Any) -> str:
    """The message as typed (mentions removed, spaces collapsed, case kept), within the cap of a
    command: for a command whose argument is kept as written (a withdrawal's reason)."""
    text = " ".join(MENTION.sub(" ", activity.text or "").split()).strip()
    return text if len(text) <= cap("command.text") else ""


def actor_of(activity: Any) -> Actor | None:
    sender = activity.from_property
    aad = getattr(sender, "aad_object_id", None) if sender else None
    if not aad:
        return None
    name = (sender.name or "Unknown")[: cap("person.display_name")]
    return Actor(aad_object_id=str(aad).lower(), name=name, tenant_id=tenant_of(activity))


class RecordCommands(Protocol):
    """The typed commands that hand a record to one person (bot/teams/exports.py)."""

    async def command(self, actor: Actor, argument: str) -> Reply: ...
    async def typed(self, actor: Actor, command: str, argument: str) -> Reply: ...
    async def timeliness_command(self, actor: Actor, argument: str) -> Reply: ...


class HelpDecoration(Protocol):
    """Training mode's additions to the help card (bot/turns/training.py), or none."""

    def help(self, card: dict[str, Any]) -> dict[str, Any]: ...


class Commands:
    def __init__(
        self,
        services: ServiceContext,
        panel_actions: PanelActions,
        clock_actions: ClockActions,
        records: RecordCommands,
        retention: RetentionActions,
        training: HelpDecoration,
    ) -> None:
        self.services = services
        self.panel_actions = panel_actions
        self.clock_actions = clock_actions
        self.records = records
        self.retention = retention
        self.training = training
        self.corrections = CorrectionActions(services)
        self.owners = OwnerActions(services)

    async def personal(self, turn_context: TurnContext, actor: Actor, text: str, in_progress: bool) -> Reply:
        """A command typed in personal chat, other than the referral form's and training's."""
        if (refused := await self.case_command_gate(turn_context, actor, text)) is not None:
            return refused
        if text in ("my referrals", "my cases", "referrals"):
            cases = await referrals.my_referrals(self.services, actor)
            return Reply(card=chat.my_referrals_card(cases, self.services.tz, in_progress=in_progress))
        if text.startswith("notification summary"):
            return await self._notification_summary(actor, text.removeprefix("notification summary"))
        if text.split(" ", 1)[0] == SHOW:
            return await self.panel_actions.show_command(turn_context, actor, text)
        if text.split(" ", 1)[0] == EXPORT:
            return await self.records.command(actor, text.removeprefix(EXPORT))
        if text.split(" ", 1)[0] in (RECORD_COMMAND, NOTES_COMMAND):
            command, _, argument = text.partition(" ")
            return await self.records.typed(actor, command, argument)
        if text.split(" ", 1)[0] == TIMELINESS:
            return await self.records.timeliness_command(actor, text.removeprefix(TIMELINESS))
        correction_reply = await self.corrections.command(actor, text, typed_text(turn_context.activity))
        if correction_reply is not None:
            return correction_reply
        owner_reply = await self.owners.command(actor, text, typed_text(turn_context.activity))
        if owner_reply is not None:
            return owner_reply
        retention_reply = await self.retention.command(actor, text)
        if retention_reply is not None:
            return retention_reply
        clock_reply = await self.clock_actions.command(actor, text)
        if clock_reply is not None:
            return clock_reply
        roles = await self.services.roster.roles_of(actor.aad_object_id)
        waiting = await self.services.outbox.count(WAITING_FOR_CHANNEL) if roles.manager else 0
        if text in HELP_WORDS:
            return Reply(
                card=self.training.help(
                    chat.help_card(self.services.partnership.name, in_progress=in_progress, waiting_posts=waiting)
                )
            )
        return Reply(
            card=self.training.help(
                chat.help_card(
                    self.services.partnership.name, in_progress=in_progress, unknown=text, waiting_posts=waiting
                )
            )
        )

    async def _notification_summary(self, actor: Actor, argument: str) -> Reply:
        reference = parse_reference(argument)
        if reference is None:
            return Reply(text="Say which case, for example: **notification summary RR-2026-0001**.")
        try:
            case = await referrals.notification_summary(self.services, actor, reference)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except LookupError:  # only the roster gets here (the access gate), and may know which cases exist
            return Reply(text=f"There is no case {reference}.", status=404)
        today = self.services.clock.now().astimezone(self.services.tz).date()
        return Reply(
            card=chat.notification_summary_card(
                case, self.services.tz, today, self.services.partnership.protective_marking
            )
        )

    async def channel(self, turn_context: TurnContext, actor: Actor | None) -> Reply:
        """A command typed in a channel (the bot @mentioned)."""
        text = command_text(turn_context.activity)
        if any(text.startswith(p) for p in BIND_PHRASES):
            if actor is None:
                return Reply(text="I could not tell who you are from Teams.", status=403)
            data = turn_context.activity.channel_data if isinstance(turn_context.activity.channel_data, dict) else {}
            # Graph addresses a team by its Microsoft 365 group id; older activities carry only the thread id.
            team_id = (data.get("team") or {}).get("aadGroupId") or (data.get("team") or {}).get("id")
            channel_id = (data.get("channel") or {}).get("id")
            # Post to the channel itself, not into the thread the command was typed in.
            conversation_id = (turn_context.activity.conversation.id or "").split(";messageid=")[0]
            address = Address(
                conversation_id,
                turn_context.activity.service_url,
                tenant_of(turn_context.activity),
                turn_context.activity.recipient.id if turn_context.activity.recipient else None,
            )
            try:
                released = await bind_panel_channel(self.services, actor, address, team_id, channel_id)
            except NotAuthorised as denied:
                return Reply(text=f"{denied} Ask a partnership manager to do it.", status=403)
            return Reply(card=chat.channel_bound_card(released))
        if await access.outside(self.services, where_of(turn_context.activity)):
            return Reply(text=await access.outside_answer(self.services))
        if actor is not None and (refused := await self.case_command_gate(turn_context, actor, text)) is not None:
            return refused
        if actor is not None and (text.split(" ", 1)[0] in ("add", "remove") or text in MEMBER_LISTING):
            return await self.panel_actions.membership_command(turn_context, actor, text)
        if actor is not None and text.split(" ", 1)[0] == SHOW:
            return await self.panel_actions.show_command(turn_context, actor, text)
        if actor is not None:
            clock_reply = await self.clock_actions.command(actor, text)
            if clock_reply is not None:
                return clock_reply
        return Reply(card=chat.channel_help_card())

    async def case_command_gate(self, turn_context: TurnContext, actor: Actor, text: str) -> Reply | None:
        """A typed command naming a case (`timeline RR-…`, `show RR-…`, `notification summary
        RR-…`) passes the access gate first; the refusal to answer, or None to go on."""
        command = next((c for c in CASE_COMMANDS if text.split(" ", 1)[0] == c or text.startswith(c + " ")), None)
        reference = parse_reference(text.removeprefix(command)) if command else None
        if command is None or reference is None:
            return None
        gate = await access.case_gate(
            self.services, where_of(turn_context.activity), actor, CASE_COMMANDS[command], reference
        )
        return None if gate.allowed else Reply(text=gate.refusal, status=gate.status)
