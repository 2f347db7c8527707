"""The referral form as a botbuilder dialog: the thin wrapper that runs the SDK-neutral flow
(dialogs/referral_flow.py) on botbuilder's dialog stack, and that stack as the botbuilder edge's
port for the form (`FormStack`, bot/turns/referral_form.py).

The draft is the dialog instance's state, saved by botbuilder's ConversationState into the
`bot_state` rows (bot/teams/storage.py) under the conversation's key — the same row, key and
JSON the Agents SDK edge's wrapper (dialogs/agents_referral_dialog.py) reads and writes.
"""

from __future__ import annotations

from botbuilder.core import ConversationState, TurnContext
from botbuilder.dialogs import Dialog, DialogSet

from dialogs.referral_flow import DIALOG_ID, FlowDialog, FormDialogSet, ReferralFlow


class ReferralDialog(FlowDialog, Dialog):
    def __init__(self, flow: ReferralFlow) -> None:
        Dialog.__init__(self, DIALOG_ID)
        self.flow = flow


class BotbuilderFormStack(FormDialogSet):
    """The referral form's dialog stack on botbuilder, loaded from and saved to the
    conversation's `bot_state` row through `conversation_state`."""

    def __init__(self, conversation_state: ConversationState, flow: ReferralFlow) -> None:
        dialogs = DialogSet(conversation_state.create_property("DialogState"))
        dialogs.add(ReferralDialog(flow))
        super().__init__(dialogs)
        self.conversation_state = conversation_state

    async def reload(self, turn_context: TurnContext) -> None:
        await self.conversation_state.load(turn_context, force=True)

    async def save(self, turn_context: TurnContext) -> None:
        await self.conversation_state.save_changes(turn_context)
