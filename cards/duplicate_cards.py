"""A likely duplicate referral, to a partnership manager in personal chat (bot/services/duplicates.py).

The card names both cases by reference and pseudonym only — never the child — and says why
(the same incident date and a child with the same name and date of birth)."""

from __future__ import annotations

from bot.domain.case import CaseSummary
from cards.common import Element, Verb, card, execute, heading, para, verbs

LINK = "duplicate.link"
DISMISS = "duplicate.dismiss"
VERBS = verbs(Verb(LINK), Verb(DISMISS))


def _when(summary: CaseSummary) -> str:
    return f"{summary.received_at:%d %B %Y}"


def flag_card(case: CaseSummary, first: CaseSummary) -> Element:
    return card([
        para("Likely duplicate", subtle=True, size="Small"),
        heading(f"{case.reference} · {case.pseudonym} may be {first.reference} · {first.pseudonym} again",
                size="Medium"),
        para(f"{case.reference} (received {_when(case)}) has the same incident date as {first.reference} (received "
             f"{_when(first)}) and a child with the same name and date of birth. Check both referrals (**View "
             "referral** on each case card), then link it to the first or say it is not a duplicate."),
        para(f"Linking records that they are the same incident; it does not close {case.reference}. If it adds "
             f"nothing, withdraw it: **withdraw {case.reference} duplicate of {first.reference}**."),
    ], actions=[execute(f"Link to {first.reference}", LINK, case.reference),
                execute("Not a duplicate", DISMISS, case.reference, secondary=True)])


def answered_card(case: CaseSummary, first: CaseSummary, status: str) -> Element:
    said = (f"{case.reference} is linked to {first.reference} as the same incident." if status == "linked" else
            f"{case.reference} is recorded as not a duplicate of {first.reference}.")
    return card([para("Likely duplicate", subtle=True, size="Small"),
                 heading(f"{case.reference} · {case.pseudonym}", size="Medium"), para(said)])
