"""The data protection officer's retention commands and buttons, in personal chat.

    erase RR-2026-0001            the dry run and a reason to give, then "Erase RR-… now"
    hold RR-2026-0001 inquest     a legal hold (inquest | criminal | complaint | other)
    lift hold RR-2026-0001        every hold on the case lifted
    holds                         the cases on hold
    retention                     the cases past their retention period now (the daily list)

The use cases (bot/services/retention.py) decide who may; here commands are read and cards
rendered. Only in personal chat: a press of these buttons anywhere else is refused (a non-DPO
gets the one denial wherever they press).
"""

from __future__ import annotations

from bot.domain.case import Actor, parse_reference
from bot.domain.retention import ErasureBasis, hold_kind
from bot.services import retention
from bot.services.context import ServiceContext
from bot.services.ports import RetentionStore
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import retention_cards as cards

COMMANDS = ("erase", "hold", "lift hold", "holds", "retention")


class RetentionActions:
    def __init__(self, services: ServiceContext, store: RetentionStore) -> None:
        self.services = services
        self.store = store

    async def _names(self) -> dict[str, str]:
        return {m.aad_object_id: m.name for m in await self.services.roster.members() if m.aad_object_id}

    # ---- typed commands ------------------------------------------------------------------------------

    async def command(self, actor: Actor, text: str) -> Reply | None:
        """The reply to a retention command typed in personal chat; None for any other text."""
        word = text.split(" ", 1)[0]
        try:
            if text.startswith("lift hold"):
                return await self._lift(actor, text.removeprefix("lift hold"))
            if word == "erase":
                return await self._erase_command(actor, text.removeprefix("erase"))
            if word == "hold":
                return await self._hold(actor, text.removeprefix("hold"))
            if text == "holds":
                found = await retention.holds(self.services, self.store, actor)
                return Reply(card=cards.holds_card(found, self.services.tz))
            if text == "retention":
                await retention.require_dpo(self.services, actor, "retention")
                return await self._list_now()
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))
        return None

    async def _erase_command(self, actor: Actor, argument: str) -> Reply:
        reference = parse_reference(argument)
        if reference is None:
            await retention.require_dpo(self.services, actor, "erase")
            return Reply(text="Say which case, for example: **erase RR-2026-0001**.")
        plan, record = await retention.dry_run(self.services, self.store, actor, reference)
        if record is not None:
            return Reply(card=cards.erased_card(record, self.services.tz, already=True))
        assert plan is not None
        return Reply(card=cards.erasure_request_card(plan, await self._names(), self.services.tz,
                                                     self.services.partnership.retention,
                                                     self.services.partnership.protective_marking))

    async def _hold(self, actor: Actor, argument: str) -> Reply:
        parts = argument.split()
        reference = parse_reference(parts[0]) if parts else None
        kind = hold_kind(" ".join(parts[1:])) if len(parts) > 1 else None
        if reference is None or kind is None:
            await retention.require_dpo(self.services, actor, "hold")
            return Reply(text="Say which case and why, for example: **hold RR-2026-0001 inquest** (inquest, "
                              "criminal, complaint or other).")
        placed = await retention.place_hold(self.services, self.store, actor, reference, kind)
        if not placed:
            return Reply(text=f"{reference} is already on hold ({kind.title.lower()}). Nothing was changed.")
        return Reply(text=f"{reference} is now on legal hold ({kind.title.lower()}): it will not be erased, by the "
                          f"retention purge or on request, until you type **lift hold {reference}**.")

    async def _lift(self, actor: Actor, argument: str) -> Reply:
        reference = parse_reference(argument)
        if reference is None:
            await retention.require_dpo(self.services, actor, "lift_hold")
            return Reply(text="Say which case, for example: **lift hold RR-2026-0001**.")
        lifted = await retention.lift_hold(self.services, self.store, actor, reference)
        if not lifted:
            return Reply(text=f"{reference} has no legal hold. Nothing was changed.")
        return Reply(text=f"The legal hold on {reference} is lifted. It is erased when it is past its retention "
                          "period and you confirm it.")

    async def _list_now(self) -> Reply:
        plans = await retention.due(self.services, self.store)
        if not plans:
            return Reply(text="No closed case is past its retention period.")
        shown, more = plans[:retention.LIST_SHOWN], max(0, len(plans) - retention.LIST_SHOWN)
        return Reply(card=cards.retention_list_card(shown, more, await self._names(), self.services.tz,
                                                    self.services.partnership.retention,
                                                    self.services.partnership.protective_marking))

    # ---- buttons -------------------------------------------------------------------------------------

    def _in_personal_chat(self, p: Pressed) -> bool:
        conversation = p.turn_context.activity.conversation
        return (getattr(conversation, "conversation_type", None) or "personal") == "personal"

    async def _pressed_reference(self, p: Pressed, action: str) -> str:
        reference = parse_reference(p.press.ref or "")
        await retention.require_dpo(self.services, p.actor, action, reference)  # anyone else: the one denial
        if not self._in_personal_chat(p) or reference is None:
            raise Refused("Erasures are confirmed only in your personal chat with the bot, on the latest card it "
                          "sent you there.")
        return reference

    async def erase(self, p: Pressed) -> Reply:
        """"Erase RR-…" on the list of cases past their retention period."""
        reference = await self._pressed_reference(p, "erase")
        erased = await retention.erase(self.services, self.store, p.actor, reference, ErasureBasis.RETENTION)
        return Reply(card=cards.erased_card(erased.record, self.services.tz, already=erased.already))

    async def confirm_request(self, p: Pressed) -> Reply:
        """"Erase RR-… now" on the erasure-on-request card, with the reason."""
        reference = await self._pressed_reference(p, "erase")
        erased = await retention.erase(self.services, self.store, p.actor, reference, ErasureBasis.REQUEST,
                                       p.press.inputs.get("reason"))
        return Reply(card=cards.erased_card(erased.record, self.services.tz, already=erased.already))

    async def show_reason_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A reason refused (empty, too long, an identifier in it): the card again, the reason kept."""
        if refused.field != "reason" or p.reference is None and p.press.ref is None:
            return None
        reference = parse_reference(p.press.ref or "")
        case_id = await self.store.case_id_of(reference) if reference else None
        plan = await self.store.plan(case_id, self.services.clock.now()) if case_id else None
        if plan is None:
            return None
        return Reply(card=cards.erasure_request_card(plan, await self._names(), self.services.tz,
                                                     self.services.partnership.retention,
                                                     self.services.partnership.protective_marking,
                                                     reason=p.press.inputs.get("reason", ""), error=str(refused)))
