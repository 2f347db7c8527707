"""Why a statutory step was done late: the National Panel notification (5 working days from
awareness) and the rapid review report (15 working days from the referral).

The partnership's annual report gives the reason for each miss (Working Together to Safeguard
Children (2023) asks partners to report on their arrangements' effectiveness; the timeliness
report, bot/services/timeliness.py, lists every miss with its reason). So when one of these
steps is recorded after its due day, the person recording it must say why. The reason is a
case record (sealed at rest, as every free text of a case), refused while it holds an
identifier, and audited without its text.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.case import Actor
from bot.domain.limits import cap, too_long
from bot.domain.text import clean_text
from bot.domain.timeline import Anchor
from bot.services.ports import DeadlineRow, DeadlineStore, Transaction
from bot.services.refusals import Refused
from bot.services.shared_text import refuse_identifiers

LATE_REASON = "late_reason"  # the case record's kind (its key: the step's id) and the card's input
MEASURED = frozenset({Anchor.NATIONAL_PANEL_NOTIFIED.value, Anchor.REPORT_SUBMITTED.value})
MIN_LENGTH = 10
REASON_REASON = "the reason goes into the partnership's timeliness report, so it must not hold identifiers"


def asks_for_reason(row: DeadlineRow) -> bool:
    """A step whose lateness the timeliness report measures."""
    return row.records in MEASURED


def required(row: DeadlineRow | None, day: date, raw: str | None, tz: ZoneInfo, refusal: type[Refused]) -> str | None:
    """The reason, when the step is measured and `day` is after its due day (else None);
    `refusal` (on the `late_reason` input) when it is missing, short, too long or holds an
    identifier."""
    if row is None or not asks_for_reason(row) or row.due_at is None:
        return None
    due = row.due_at.astimezone(tz).date()
    if day <= due:
        return None
    text = clean_text(raw or "")
    if len(text) < MIN_LENGTH:
        raise refusal(
            f"This was due by {due:%a %d %b %Y}: say why it was done later (at least {MIN_LENGTH} "
            "characters). The timeliness report gives the reason.",
            LATE_REASON,
        )
    over = too_long(text, cap("deadline.late_reason"))
    if over:
        raise refusal(over, LATE_REASON)
    refuse_identifiers({LATE_REASON: text}, refusal, reason=REASON_REASON, verb="saving")
    return text


async def keep(tx: Transaction, case_id: str, row: DeadlineRow, reason: str, actor: Actor, now: datetime) -> None:
    await tx.deadlines.put_case_record(
        case_id, LATE_REASON, row.step_id, {"reason": reason, "by": actor.name, "at": now.isoformat()}, now
    )


async def reasons(store: DeadlineStore, case_id: str) -> dict[str, str]:
    """{step id: reason} of the case's late steps."""
    return {
        step: str(record.get("reason", "")) for step, record in (await store.case_records(case_id, LATE_REASON)).items()
    }
