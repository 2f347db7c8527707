"""Closing a case that still has follow-up work open.

Closing stops every deadline and reminder of the case (bot/domain/lifecycle.py). Some of them
are real work that comes after the step that closes it: the Stockport Rapid Review Process
(2019), 'Scrutiny & Challenge', has the partnership manager do a desk-top review of every
rapid review decision at 6 and 12 months — after the report has gone and usually after a
local review is published; who tells the family is agreed at the meeting (SSCP Rapid Review
Panel Agenda template, 'Outcome Notification'); the National Panel notification and the
actions agreed are the partners' own follow-up. None of these may stop silently. So the
closing card lists them, and the case closes only when they are done or when the person
closing it chooses **Close anyway** and gives the reason: recorded sealed with the case
(a case record) and audited by the steps' ids, never its text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.case import Actor
from bot.domain.limits import cap, too_long
from bot.domain.text import clean_text
from bot.services.ports import DeadlineRow, DeadlineStore, Transaction
from bot.services.refusals import Refused
from bot.services.shared_text import refuse_identifiers

CLOSED_ANYWAY = "closed_anyway"  # the case record: the reason, who, when and what was stopped (sealed at rest)
OPEN_STATUSES = frozenset({"open", "pending"})
TOGGLE = "close_anyway"  # the card's toggle
REASON_REASON = "the reason is kept with the case and shown to the panel, so it must not hold identifiers"


def still_open(rows: list[DeadlineRow], *, completing: frozenset[str] = frozenset()) -> list[DeadlineRow]:
    """The steps and actions that closing the case now would stop: open or not yet dated,
    except those the closing step itself completes."""
    return [r for r in rows if r.status in OPEN_STATUSES and r.step_id not in completing]


async def open_work(
    store: DeadlineStore, case_id: str, *, completing: frozenset[str] = frozenset()
) -> list[DeadlineRow]:
    return still_open(await store.deadlines(case_id), completing=completing)


def described(rows: list[DeadlineRow], tz: ZoneInfo) -> str:
    """ "Desk-top review … (6 months), due Fri 21 May 2027; Family told of the outcome, not dated yet"."""
    return "; ".join(
        f"{r.label}, " + (f"due {r.due_at.astimezone(tz):%a %d %b %Y}" if r.due_at else "not dated yet") for r in rows
    )


def chosen(toggle: str | None) -> bool:
    return (toggle or "").strip().lower() == "true"


def checked(
    rows: list[DeadlineRow],
    toggle: str | None,
    reason: str | None,
    tz: ZoneInfo,
    refusal: type[Refused],
    *,
    reason_field: str,
) -> str | None:
    """None when nothing is left open. Otherwise the reason for closing anyway (cleaned, capped,
    free of identifiers), or `refusal` naming what is still open when Close anyway is not chosen
    or has no reason."""
    if not rows:
        return None
    if not chosen(toggle):
        raise refusal(
            "Closing now would stop work still open: " + described(rows, tz) + ". Wait until it is done "
            "(Mark done on `timeline`), or choose **Close anyway** and give the reason.",
            TOGGLE,
        )
    text = clean_text(reason or "")
    if len(text) < 10:
        raise refusal("Say why the case closes with this work still open (at least 10 characters).", reason_field)
    over = too_long(text, cap("closing.reason"))
    if over:
        raise refusal(over, reason_field)
    refuse_identifiers({reason_field: text}, refusal, reason=REASON_REASON, verb="saving")
    return text


async def record(
    tx: Transaction, case_id: str, actor: Actor, rows: list[DeadlineRow], reason: str, now: datetime
) -> dict[str, Any]:
    """Keep the reason and what was stopped with the case (sealed); the audit detail to add,
    without the reason's text."""
    stopped = [r.step_id for r in rows]
    await tx.deadlines.put_case_record(
        case_id, CLOSED_ANYWAY, "", {"reason": reason, "by": actor.name, "at": now.isoformat(), "stopped": stopped}, now
    )
    return {"closed_anyway": True, "stopped": stopped}
