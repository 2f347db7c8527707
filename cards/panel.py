"""The case card in the panel channel.

Built only from a `CaseSummary`, which has no field that could identify a child, so no
child identifier can reach the channel through this card (docs/architecture.md,
Confidentiality). The virtual panel's vote turns this card into the voting card
(cards/vote_card.py); it keeps the same shape and the same message.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.domain.case import CaseSummary
from bot.domain.dates import format_day, format_moment
from cards import labels
from cards.common import Element, Verb, card, execute, facts, heading, notice, para, verbs

VIEW_REFERRAL = "case.view"
VERBS = verbs(Verb(VIEW_REFERRAL))


def case_facts(case: CaseSummary, tz: ZoneInfo) -> Element:
    return facts(
        [
            ("Reference", case.reference),
            ("Pseudonym", case.pseudonym),
            ("Pathway sought", labels.PATHWAY_SHORT[case.pathway_sought]),
            ("Incident", f"{labels.INCIDENT[case.incident_kind]}, {format_day(case.incident_date)}"),
            ("Referring agency", case.referring_agency),
            ("Received", format_moment(case.received_at, tz)),
            ("Status", labels.STATUS[case.status]),
        ]
    )


def case_card(case: CaseSummary, tz: ZoneInfo) -> Element:
    body: list[Element] = [
        para("New referral for the virtual panel", subtle=True, size="Small"),
        heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
        case_facts(case, tz),
    ]
    if case.likely_notifiable:
        body.append(
            notice(
                "**Likely notifiable** (from the referrer's answers): a child died or was seriously harmed and abuse "
                "or neglect is known or suspected, or a looked-after child or care leaver died. The panel decides.",
                style="warning",
            )
        )
    body.append(
        para(
            "Panel members, chairs and partnership managers can read the full referral in personal chat. Please "
            "refer to the case by its reference and pseudonym only.",
            size="Small",
            subtle=True,
        )
    )
    return card(body, actions=[execute("View referral", VIEW_REFERRAL, case.reference, validate=False)])
