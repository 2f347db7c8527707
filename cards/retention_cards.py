"""The data protection officer's retention cards, and the tombstone over an erased case's messages.

The list of cases past their retention period and the erasure-on-request card are dry runs:
they say what erasing the case would do (which of the bot's Teams messages would be replaced,
which Graph meeting cancelled or scrubbed, which files were already handed to whom) before
anything is done. They hold no identifier of a child or family — references, dates, counts
and the names of the professionals who received files.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.limits import cap, within
from bot.domain.retention import HoldKind, RetentionPolicy
from bot.services.ports import ErasurePlan, ErasureRecord, HoldRecord
from cards.common import (
    Element,
    Verb,
    card,
    error_text,
    escape_markdown,
    execute,
    facts,
    heading,
    notice,
    para,
    person,
    subheading,
    verbs,
)

ERASE = "retention.erase"  # a case past its retention period: the DPO confirms its erasure
CONFIRM_REQUEST = "erasure.confirm"  # `erase RR-…`: the DPO confirms an erasure on request, with the reason
VERBS = verbs(Verb(ERASE), Verb(CONFIRM_REQUEST, frozenset({"reason"})))

TOMBSTONE = "This case has been closed and its details removed under the partnership's retention policy."
BEYOND_REACH = ("Files already delivered are beyond the bot's reach: a file downloaded from a one-time link, or "
                "delivered to someone's OneDrive, stays with them. Ask each person listed to delete their copy "
                "under your records policy.")
WHAT_ERASURE_DOES = ("Erasing destroys the case's encryption key and clears the child's and family's details, every "
                     "free text and the names on the case; it replaces the bot's messages about the case with a "
                     "notice, cancels or clears its Teams meeting and stops its reminders. The reference, the dates, "
                     "the outcome and the partners are kept for statistics. This cannot be undone.")


def _day(moment: datetime | None, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%d %B %Y}" if moment else "—"


FILES_SHOWN = 6  # per case on a card; the rest are counted (the erasure register keeps them all)
HOLDS_SHOWN = 40
CASES_SHOWN = 8  # on one list card (within the message budget at every field's longest)


def _files(plan: ErasurePlan, names: Mapping[str, str], tz: ZoneInfo) -> list[Element]:
    if not plan.files:
        return [para("No file about this case was handed to anyone.", subtle=True)]
    lines = []
    for f in plan.files[:FILES_SHOWN]:
        who = escape_markdown(person(names.get(f.issued_to), empty="someone no longer on the roster"))
        what = f.kind.replace("_", " ")
        got = f"fetched {_day(f.fetched_at, tz)}" if f.fetched_at else "never fetched (the link no longer works)"
        lines.append(f"- {what} to {who} ({f.how}, issued {_day(f.issued_at, tz)}): {got}")
    if len(plan.files) > FILES_SHOWN:
        lines.append(f"- and {len(plan.files) - FILES_SHOWN} more (the erasure register lists them all)")
    return [para("\n".join(lines)), para(BEYOND_REACH, subtle=True, size="Small")]


def dry_run_items(plan: ErasurePlan, names: Mapping[str, str], tz: ZoneInfo, policy: RetentionPolicy) -> list[Element]:
    """What erasing this case would do, as a card shows it."""
    panel = sum(1 for m in plan.messages if m.what == "panel card")
    channel = sum(1 for m in plan.messages if m.what == "channel message")
    personal = sum(1 for m in plan.messages if m.what == "personal message")
    unknown = sum(1 for m in plan.messages if m.address is None)
    meeting = {"cancel": f"the Teams meeting on {_day(plan.meeting_start, tz)} is cancelled and its subject and "
                         "description cleared",
               "scrub": f"the Teams meeting of {_day(plan.meeting_start, tz)} keeps its time but its subject and "
                        "description are cleared"}.get(plan.meeting_action or "", "no Teams meeting to change")
    period = f"{policy.years(plan.outcome)} years after closure"
    items: list[Element] = [
        facts([("Outcome", plan.outcome.title), ("Received", _day(plan.received_at, tz)),
               ("Closed", _day(plan.closed_at, tz) if plan.closed_at else "Still open"),
               ("Retention", period + (f" (from {plan.due_on:%d %B %Y})" if plan.due_on else ""))]),
        para(f"- {len(plan.messages)} of the bot's Teams messages replaced by a notice"
             + (f" (the panel's case card, {channel} more in the panel channel and {personal} in personal chats)"
                if panel else f" ({channel} in the panel channel, {personal} in personal chats)")
             + (f"; {unknown} in a conversation the bot no longer knows, which stay as they are" if unknown else "")
             + f"\n- {meeting}\n- {plan.reminders} reminders and {plan.outbox_rows} queued or sent messages removed"),
        subheading("Files handed to people"),
        *_files(plan, names, tz),
    ]
    if plan.holds:
        kinds = ", ".join(h.kind.title.lower() for h in plan.holds)
        items.append(notice(f"On legal hold ({escape_markdown(kinds)}) since {_day(plan.holds[0].placed_at, tz)}: "
                            f"it is kept until the hold is lifted (**lift hold {plan.reference}**).",
                            style="attention"))
    return items


def retention_list_card(plans: list[ErasurePlan], more: int, names: Mapping[str, str], tz: ZoneInfo,
                        policy: RetentionPolicy, marking: str) -> Element:
    """The DPO's list: each case past its period, its dry run, and a button to erase it."""
    more += max(0, len(plans) - CASES_SHOWN)
    plans = plans[:CASES_SHOWN]
    body: list[Element] = [
        heading("Cases past their retention period", size="Medium"),
        para(f"{len(plans) + more} closed case{'s are' if len(plans) + more != 1 else ' is'} past the period your "
             "partnership's records policy sets. Nothing has been erased: check each one and confirm."),
        para(WHAT_ERASURE_DOES, subtle=True, size="Small"),
    ]
    for plan in plans:
        body += [subheading(plan.reference, size="Medium"), *dry_run_items(plan, names, tz, policy)]
        if not plan.held:
            body.append({"type": "ActionSet", "actions": [
                execute(f"Erase {plan.reference}", ERASE, plan.reference, style="destructive",
                        tooltip=f"Erase the details of {plan.reference} now")]})
    if more:
        body.append(para(f"{more} more {'are' if more != 1 else 'is'} listed once these are dealt with.", subtle=True))
    body.append(notice(f"{escape_markdown(marking)}. Do not forward this card.", style="default"))
    return card(body)


def erasure_request_card(plan: ErasurePlan, names: Mapping[str, str], tz: ZoneInfo, policy: RetentionPolicy,
                         marking: str, *, reason: str = "", error: str | None = None) -> Element:
    """`erase RR-…`: the dry run, the reason (required, kept in the erasure register) and the button."""
    body: list[Element] = [
        heading(f"Erase {plan.reference} on request", size="Medium"),
        para("Use this where the right to erasure applies, or the partnership decided the case must not be kept. "
             + WHAT_ERASURE_DOES, subtle=True, size="Small"),
        *dry_run_items(plan, names, tz, policy),
    ]
    actions: list[Element] = []
    if not plan.held:
        limit = cap("erasure.reason")
        body += [
            {"type": "Input.Text", "id": "reason", "label": "Why is this case being erased? (kept in the erasure "
             "register; no names or other identifiers)", "isRequired": True, "maxLength": limit,
             "errorMessage": "Give the reason for the erasure register.",
             **({"value": within(reason, limit)} if reason else {})},
            *([error_text(error)] if error else []),
        ]
        actions = [execute(f"Erase {plan.reference} now", CONFIRM_REQUEST, plan.reference, style="destructive")]
    body.append(notice(f"{escape_markdown(marking)}. Do not forward this card.", style="default"))
    return card(body, actions=actions)


def erased_card(record: ErasureRecord, tz: ZoneInfo, *, already: bool) -> Element:
    """The answer to the confirmation: what was done (or that it had been done already)."""
    plan = record.plan
    meeting = (plan.get("meeting") or {}).get("action")
    if already:
        text = (f"{record.reference} was erased on {_day(record.started_at, tz)} by "
                f"{escape_markdown(person(record.confirmed_by_name))}. Nothing more was done.")
    else:
        text = (f"{record.reference} has been erased. Its encryption key is destroyed and its details cleared; "
                f"{len(plan.get('messages', []))} of the bot's messages are being replaced by a notice"
                + ({"cancel": ", its Teams meeting cancelled", "scrub": ", its Teams meeting's text cleared"}
                   .get(meeting or "", "")) + ". The erasure is in the audit trail and the erasure register.")
    return card([heading(f"{record.reference} erased", size="Medium"), para(text)])


def tombstone_card() -> Element:
    """What every message the bot sent about an erased case becomes."""
    return card([heading("Case closed", size="Medium"), para(TOMBSTONE)])


def holds_card(holds: list[HoldRecord], tz: ZoneInfo) -> Element:
    if not holds:
        lines = "No case is on legal hold."
    else:
        lines = "\n".join(f"- {h.reference}: {h.kind.title} — placed {_day(h.placed_at, tz)} by "
                          f"{escape_markdown(person(h.placed_by_name))}" for h in holds[:HOLDS_SHOWN])
        if len(holds) > HOLDS_SHOWN:
            lines += f"\n- and {len(holds) - HOLDS_SHOWN} more"
    kinds = ", ".join(k.value for k in HoldKind)
    return card([heading("Legal holds", size="Medium"), para(lines),
                 para(f"Place one with **hold RR-… kind** (kind: {kinds}); lift every hold on a case with "
                      "**lift hold RR-…**. A case on hold is never erased, by the retention purge or on request.",
                      subtle=True, size="Small")])
