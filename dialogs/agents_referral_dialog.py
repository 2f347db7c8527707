"""The referral form as a Microsoft 365 Agents SDK dialog (`microsoft_agents.hosting.dialogs`):
the thin wrapper that runs the SDK-neutral flow (dialogs/referral_flow.py) on that SDK's dialog
stack, as dialogs/referral_dialog.py does on botbuilder's, and the stack as the Agents edge's
port for the form (`FormStack`, bot/turns/referral_form.py).

The draft is saved by the SDK's ConversationState, on the storage the composition root gives it
(bot/agents/storage.py): the same `bot_state` row, key and JSON as on botbuilder, so a half-done
referral goes on whichever edge answers next.
"""

from __future__ import annotations

from microsoft_agents.hosting.core import ConversationState, Storage, TurnContext
from microsoft_agents.hosting.dialogs import Dialog, DialogSet

from dialogs.referral_flow import DIALOG_ID, FlowDialog, FormDialogSet, ReferralFlow


class AgentsReferralDialog(FlowDialog, Dialog):
    def __init__(self, flow: ReferralFlow) -> None:
        Dialog.__init__(self, DIALOG_ID)
        self.flow = flow


class FormConversationState(ConversationState):
    """The SDK's ConversationState (the same storage key, `{channel}/conversations/{id}`, as
    botbuilder's) cached in the turn under a key of its own: `AgentApplication` loads its own
    turn state's ConversationState under the SDK's key on every turn (from a storage that keeps
    nothing, bot/agents/application.py), and the form's would otherwise find that empty one
    cached and never read the stored draft."""

    CONTEXT_SERVICE_KEY = "rr.form.ConversationState"


class AgentsFormStack(FormDialogSet):
    """The referral form's dialog stack on the Agents SDK, loaded from and saved to the
    conversation's `bot_state` row through a `FormConversationState` on `storage`.

    The SDK's `AgentState` keeps the state it last loaded on itself as well as in the turn (its
    `save` writes that one), and one `ConversationState` serves every conversation: so `save`
    first points it back at this turn's state, with no await in between."""

    def __init__(self, storage: Storage, flow: ReferralFlow) -> None:
        self.conversation_state = FormConversationState(storage)
        dialogs = DialogSet(self.conversation_state.create_property("DialogState"))
        dialogs.add(AgentsReferralDialog(flow))
        super().__init__(dialogs)

    async def reload(self, turn_context: TurnContext) -> None:
        await self.conversation_state.load(turn_context, force=True)

    async def save(self, turn_context: TurnContext) -> None:
        if turn_context.turn_state.get(FormConversationState.CONTEXT_SERVICE_KEY) is None:
            return  # the form was not touched this turn: nothing loaded, nothing to save
        await self.conversation_state.load(turn_context)  # this turn's state: cached, so no await happens
        await self.conversation_state.save(turn_context)
