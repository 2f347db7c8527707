"""No message over the bot's size budget ever leaves for Teams (cards/budget.py): the guard at
each of the three ways out, and the log line when it had to act.

- proactive posts and updates (bot/teams/notifier.py): `fitted_activity`, on the wire JSON;
- replies within a turn (`turn_context.send_activity`, whoever calls it — the handler, the
  referral dialog, training mode): `keep_replies_within_budget`, registered on every turn by
  bot/teams/handler.py, after training mode's banner so the banner is counted;
- the answer to a button press (the invoke response): `fitted_invoke_body`, in
  bot/teams/replies.py.

A card over the budget is replaced by a short notice saying so (`cards.budget.oversize_card`),
and the log says how large it was, where, and the case's reference — never its text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, Attachment

from bot.domain import trace
from cards.budget import BOT_BUDGET, case_reference_of, fit_activity, fit_invoke_body, payload_size
from cards.common import CONTENT_TYPE

log = logging.getLogger(__name__)


def _correlation() -> str | None:
    turn = trace.current()
    return turn.correlation if turn else None


def _log(size: int, where: str, original: Any) -> None:
    log.warning("message too large for Teams: a short notice was sent instead",
                extra={"size": size, "budget": BOT_BUDGET, "where": where, "case": case_reference_of(original)})


def fitted_activity(activity: dict[str, Any], where: str = "proactive") -> dict[str, Any]:
    """A proactive message's wire JSON, as it may be sent (bot/teams/notifier.py)."""
    fitted, size = fit_activity(activity, _correlation())
    if size is not None:
        _log(size, where, activity)
    return fitted


def fitted_invoke_body(body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a button press, as it may go back (bot/teams/replies.py)."""
    fitted, size = fit_invoke_body(body, _correlation())
    if size is not None:
        _log(size, "invoke", body)
    return fitted


def wire(activity: Activity) -> dict[str, Any]:
    """The activity's JSON as the connector sends it: the SDK's serialisation of the activity,
    with the cards put back as the plain JSON they are (as bot/teams/sdk.py sends them)."""
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
