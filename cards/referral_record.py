"""The whole referral, read-only, for panel members, chairs and partnership managers in
personal chat ("View referral"). Identifying: never posted to a channel."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.case import Case
from bot.domain.dates import format_moment
from bot.domain.partnership import DEFAULT_PROTECTIVE_MARKING
from bot.domain.referral import HarmOutcome
from cards import labels
from cards.common import (
    HARD_MAX_CARD_BYTES,
    Element,
    card,
    facts,
    heading,
    labelled,
    marking_footer,
    notice,
    para,
    shorten_to_fit,
    subheading,
)


def _shown(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Enum):
        tables: tuple[Mapping[Any, str], ...] = (labels.HARM, labels.ABUSE, labels.YES_NO_UNKNOWN, labels.YES_NO,
                                                 labels.GENDER, labels.CARE, labels.PATHWAY)
        for table in tables:
            if value in table:
                return table[value]
        return str(value.value)
    return str(value)


def _section(title: str, rows: list[tuple[str, object]]) -> Element:
    items: list[Element] = [subheading(title, size="Medium")]
    for label, value in rows:
        items += labelled(label, _shown(value))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def referral_record_card(case: Case, tz: ZoneInfo, marking: str = DEFAULT_PROTECTIVE_MARKING) -> Element:
    r = case.referral
    s = case.summary
    body: list[Element] = [
        para("CONFIDENTIAL — personal chat only. Do not copy into a channel.", color="Attention", weight="Bolder"),
        heading(f"Referral {s.reference} · {s.pseudonym}", size="Medium"),
        facts([("Received", format_moment(s.received_at, tz)),
               ("Status", labels.STATUS[s.status])]),
    ]
    if r.incident.outcome is HarmOutcome.DIED:
        body.append(notice(labels.ECDOP_NOTICE, style="attention"))
    body.append(_section("1. Referrer", [
        ("Agency", r.referrer.agency), ("Name", r.referrer.name), ("E-mail", r.referrer.email),
        ("Job title", r.referrer.job_title), ("Telephone", r.referrer.telephone),
        ("Discussed with", r.referrer.discussed_with),
        ("Nominated lead", " · ".join(x for x in (r.referrer.lead_name, r.referrer.lead_role,
                                                  r.referrer.lead_contact) if x)),
    ]))
    body.append(_section("2. Pathway sought", [("Pathway", r.pathway.pathway)]))
    i = r.incident
    body.append(_section("3. Incident", [
        ("Date", i.incident_date), ("Time", i.incident_time), ("Where", i.incident_location),
        ("Died or seriously harmed", i.outcome), ("Abuse or neglect", i.abuse_or_neglect),
        ("Any looked-after child", i.looked_after), ("Outside England", i.outside_england),
        ("Institutional setting", i.institutional_setting), ("Other areas involved", i.other_areas),
        ("Local authority aware", i.la_aware_date), ("What happened", i.summary),
    ]))
    for index, child in enumerate(r.children.children, start=1):
        age = child.age_at(i.incident_date)
        body.append(_section(f"4. Child {index}", [
            ("Name", child.name), ("Date of birth", child.date_of_birth),
            ("Age at the incident", f"{age}{'' if child.date_of_birth else ' (estimated)'}" if age is not None
             else None),
            ("Gender", child.gender), ("Disability or health needs", child.disability),
            ("Ethnicity", child.ethnicity), ("Where the child is now", child.current_location),
            ("Looked after / care leaver", child.care_status),
        ]))
    body.append(_section("Family and household", [("Members", r.children.family_members)]))
    v = r.views
    body.append(_section("5. The referrer's views", [
        ("Why it meets the criteria", v.meets_criteria), ("What worked well", v.worked_well),
        ("What did not work well", v.not_worked_well), ("Key issues", v.key_issues),
        ("Family consulted", v.family_consulted), ("If not, why", v.family_not_consulted_reason),
        ("How the family should be involved", v.family_involvement),
        ("Who should talk to the family", v.family_facilitator),
        ("Key worker consulted", v.key_worker_consulted), ("If not, why", v.key_worker_not_consulted_reason),
    ]))
    body.append(_section("6. Declaration", [("A senior manager has reviewed it", r.declaration.senior_manager_reviewed)]))
    body.append(marking_footer(marking))
    record = card(body)
    shorten_to_fit(record, HARD_MAX_CARD_BYTES)
    return record
