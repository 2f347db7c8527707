"""The words people see for our coded values, in one place."""

from __future__ import annotations

from bot.domain.case import CaseStatus, IncidentKind
from bot.domain.referral import (
    AbuseOrNeglect,
    CareStatus,
    Gender,
    HarmOutcome,
    PathwaySought,
    YesNo,
    YesNoUnknown,
)

PATHWAY = {
    PathwaySought.RAPID_REVIEW_SCREENING: "A — Notifiable incident: rapid review screening",
    PathwaySought.PRACTICE_REVIEW: "B — Local practice (learning) review",
    PathwaySought.ESCALATION: "C — Escalation of a professional dispute",
}
PATHWAY_SHORT = {
    PathwaySought.RAPID_REVIEW_SCREENING: "A: rapid review screening",
    PathwaySought.PRACTICE_REVIEW: "B: local practice review",
    PathwaySought.ESCALATION: "C: escalation",
}
PATHWAY_HELP = {
    PathwaySought.RAPID_REVIEW_SCREENING: (
        "The case meets the notifiable incident criteria and the three statutory partners need to assess it "
        "for a Child Safeguarding Practice Review and report to the National Panel."
    ),
    PathwaySought.PRACTICE_REVIEW: (
        "Not a notifiable incident, but professionals feel there is learning about how we work together "
        "locally — including good practice worth sharing."
    ),
    PathwaySought.ESCALATION: (
        "Professionals and their managers disagree about the response and have not been able to resolve it; "
        "the statutory partners may need to review decisions and mediate."
    ),
}
SERIOUS_HARM_DEFINITION = (
    "**Serious child safeguarding cases** are those in which abuse or neglect of a child is known or "
    "suspected **and** the child has died or been seriously harmed.\n\n"
    "**Serious harm** includes (but is not limited to) serious and/or long-term impairment of a child's mental "
    "health or intellectual, emotional, social or behavioural development. It should also cover impairment of "
    "physical health. Judgment should be exercised where impairment is likely to be long-term, even if this is "
    "not immediately certain. Even if a child recovers, including from a one-off incident, serious harm may "
    "still have occurred. *(Working Together to Safeguard Children 2023)*\n\n"
    "Notifiable incidents also include any looked-after child, even if abuse or neglect is not known or "
    "suspected; the death of a looked-after child is always notified. *(Stockport Rapid Review Process (2019), "
    "Appendix A, 1.2)*"
)
# Surrey Rapid Review & CSPR flowchart, 'Overview': "In the event of a child death ... the following online form
# must also be completed within 24 hours". The flowchart names no start for the 24 hours, so neither do we.
ECDOP_NOTICE = (
    "**A child has died.** In the event of a child death, the child death notification (eCDOP) must also be "
    "completed **within 24 hours**, separately from this referral: the child death review process runs alongside."
)
ECDOP_IF_DIED = (
    "**If the child died:** the child death notification (eCDOP) must also be completed **within 24 hours**, "
    "separately from this referral."
)
HARM = {
    HarmOutcome.DIED: "The child died",
    HarmOutcome.SERIOUSLY_HARMED: "The child was seriously harmed",
    HarmOutcome.NEITHER: "Neither (learning review or escalation)",
}
ABUSE = {
    AbuseOrNeglect.KNOWN: "Known",
    AbuseOrNeglect.SUSPECTED: "Suspected",
    AbuseOrNeglect.NOT_SUSPECTED: "Not known or suspected",
}
YES_NO_UNKNOWN = {YesNoUnknown.YES: "Yes", YesNoUnknown.NO: "No", YesNoUnknown.UNKNOWN: "Not known"}
YES_NO = {YesNo.YES: "Yes", YesNo.NO: "No"}
GENDER = {Gender.FEMALE: "Female", Gender.MALE: "Male", Gender.OTHER: "Other", Gender.NOT_KNOWN: "Not known"}
CARE = {
    CareStatus.NONE: "Not looked after",
    CareStatus.LOOKED_AFTER: "Looked after (in care)",
    CareStatus.CARE_LEAVER: "Care leaver",
}
STATUS = {status: status.title for status in CaseStatus}

INCIDENT = {kind: kind.title for kind in IncidentKind}
