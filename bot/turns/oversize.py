"""The size guards of every message that leaves for Teams, for either edge: a message's wire
JSON (`fitted_activity`: proactive sends, and replies within a turn — botbuilder's through
bot/teams/message_size.py, the Agents SDK edge's through bot/agents/application.py) and the
answer to a button press (`fitted_invoke_body`), with the one log line they write when they act. A card over the budget becomes a
short notice (`cards.budget`); the log says how large it was, where, and the case's reference —
never its text."""

from __future__ import annotations

import logging
from typing import Any

from bot.domain import trace
from cards.budget import BOT_BUDGET, case_reference_of, fit_activity, fit_invoke_body

log = logging.getLogger(__name__)


def correlation() -> str | None:
    turn = trace.current()
    return turn.correlation if turn else None


def log_oversize(size: int, where: str, original: Any) -> None:
    log.warning(
        "message too large for Teams: a short notice was sent instead",
        extra={"size": size, "budget": BOT_BUDGET, "where": where, "case": case_reference_of(original)},
    )


def fitted_activity(activity: dict[str, Any], where: str = "proactive") -> dict[str, Any]:
    """A message's wire JSON, as it may be sent: a proactive one (bot/turns/notifier.py) or a
    reply within a turn (`where="reply"`)."""
    fitted, size = fit_activity(activity, correlation())
    if size is not None:
        log_oversize(size, where, activity)
    return fitted


def fitted_invoke_body(body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a button press, as it may go back (bot/turns/replies.py)."""
    fitted, size = fit_invoke_body(body, correlation())
    if size is not None:
        log_oversize(size, "invoke", body)
    return fitted
