"""No message over the bot's size budget ever leaves for Teams (cards/budget.py): the guard at
each of the three ways out, and the log line when it had to act.

- proactive posts and updates (bot/turns/notifier.py): `fitted_activity` (bot/turns/oversize.py),
  on the wire JSON;
- replies within a turn (`turn_context.send_activity`, whoever calls it — the handler, the
  referral dialog, training mode): `keep_replies_within_budget`, registered on every turn by
  bot/teams/handler.py, after training mode's banner so the banner is counted;
- the answer to a button press (the invoke response): `fitted_invoke_body` (bot/turns/oversize.py), in
  bot/turns/replies.py.

A card over the budget is replaced by a short notice saying so (`cards.budget.oversize_card`),
and the log says how large it was, where, and the case's reference — never its text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, Attachment

from bot.domain.json_text import measured
from bot.teams.activity_json import activity_to_json
from bot.turns.oversize import fitted_activity
from cards.budget import BOT_BUDGET, payload_size
from cards.common import CONTENT_TYPE


def wire(activity: Activity) -> dict[str, Any]:
    """The activity's JSON as the connector sends it (bot/teams/sdk.py): the SDK's serialisation
    of the activity (bot/teams/activity_json.py), the cards as the plain JSON they are."""
    return activity_to_json(activity, _msrest_wire)


def _msrest_wire(activity: Activity) -> dict[str, Any]:
    """msrest's serialisation, with the cards put back as the plain JSON they are."""
    attachments = list(activity.attachments or [])
    contents = [attachment.content for attachment in attachments]
    for attachment in attachments:
        attachment.content = None
    try:
        body: dict[str, Any] = activity.serialize()
    finally:
        for attachment, content in zip(attachments, contents, strict=True):
            attachment.content = content
    for item, content in zip(body.get("attachments") or [], contents, strict=False):
        item["content"] = content
    return body


async def keep_replies_within_budget(turn_context: TurnContext, activities: list[Activity],
                                     next_send: Callable[[], Awaitable[Any]]) -> Any:
    """A `TurnContext.on_send_activities` handler: every reply of the turn is measured as Teams
    counts it; one over the budget goes with its cards replaced by the short notice."""
    for activity in activities:
        body = wire(activity)
        if body.get("attachments"):  # written once: the text measured is the text sent
            body = measured(body)
        if payload_size(body) <= BOT_BUDGET:
            continue
        fitted = fitted_activity(body, "reply")
        activity.attachments = [Attachment(content_type=item.get("contentType") or CONTENT_TYPE,
                                           content=item.get("content"))
                                for item in fitted.get("attachments") or []]
        if "text" not in fitted:
            activity.text = None
            activity.speak = None
            activity.summary = None
    return await next_send()
