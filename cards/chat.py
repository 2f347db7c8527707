"""Cards for personal chat and the team's General channel: welcome, help, lists."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.case import Case, CaseSummary
from bot.domain.dates import format_day, format_moment, format_time
from bot.domain.partnership import DEFAULT_PROTECTIVE_MARKING
from bot.domain.referral import HarmOutcome
from cards import labels
from cards.common import (
    HARD_MAX_CARD_BYTES,
    MAX_CARD_BYTES,
    Element,
    Verb,
    card,
    card_size,
    escape_markdown,
    execute,
    facts,
    heading,
    labelled,
    literal,
    marking_footer,
    notice,
    para,
    shorten_to_fit,
    subheading,
    verbs,
)

REFER = "chat.refer"  # "Start a referral": the same as typing refer
EXPORT_LINK = "export.link"  # the data protection officer's export by a one-time link instead of a file
VERBS = verbs(Verb(REFER), Verb(EXPORT_LINK))

PERSONAL_COMMANDS = [
    ("refer", "Start a new referral (case notification form)"),
    ("resume", "Carry on with the referral you saved"),
    ("cancel", "Discard the referral in progress"),
    ("my referrals", "Your referrals, with reference, status and date"),
    ("notification summary RR-…", "Partnership managers: the fields the national notification form asks for"),
    ("status", "Panel members, chairs and managers: open cases and their next deadline"),
    ("timeline RR-…", "Panel members, chairs and managers: every step of a case, done, pending or overdue"),
    ("show RR-…", "Panel members, chairs and managers: post a case's card again in the panel channel"),
    ("pathway RR-…", "Panel members, chairs and managers: after the decision — the hand-over, who tells the "
                     "family, a challenge to no further action"),
    ("notes RR-…", "Chairs and managers: a new link to the chair's notes for the meeting (Word)"),
    ("record RR-…", "Chairs and managers: a new link to the rapid review record (Word)"),
    ("export RR-…", "The data protection officer: every record of a case, as one file"),
    ("members · add @Name as police · remove @Name", "In the panel channel: who is on the roster; partnership "
                                                      "managers add or remove people"),
    ("help", "This list"),
]
CHANNEL_COMMANDS = [
    ("use this channel for the panel", "Partnership managers: post referrals and votes here"),
    ("status", "Open cases and their next deadline"),
    ("timeline RR-…", "Every step of a case, done, pending or overdue"),
    ("show RR-…", "Post a case's card again here; the new post is kept up to date"),
    ("members", "Who is on the panel roster"),
    ("add @Name as police", "Partnership managers: add someone (local authority, police, health, chair, "
                            "partnership manager, or other: an advisory panel member who does not vote)"),
    ("remove @Name", "Partnership managers: take someone off the roster"),
    ("refer · my referrals · notes RR-… · record RR-… · export RR-…", "In your personal chat with the bot: "
                                                                      "referrals, and the documents of a case"),
    ("help", "What the bot does here"),
]


def _commands(commands: list[tuple[str, str]]) -> Element:
    return facts([(name, what) for name, what in commands])


def welcome_card(partnership: str, *, in_progress: bool = False) -> Element:
    body = [
        heading("Rapid Review"),
        para(
            f"I run {escape_markdown(partnership)}'s rapid review process: tell the partnership about a child who "
            "has died or been seriously harmed where abuse or neglect is known or suspected, or a case for a "
            "local learning review or an escalation."
        ),
        para("Type **refer** to start a referral. You can save it and come back later."),
        _commands(PERSONAL_COMMANDS),
    ]
    if in_progress:
        body.insert(2, notice("You have a referral in progress — type **resume** to carry on.", style="accent"))
    return card(body, actions=[execute("Start a referral", REFER, validate=False)])


def help_card(partnership: str, *, in_progress: bool = False, unknown: str | None = None,
              waiting_posts: int = 0) -> Element:
    body: list[Element] = [heading("How I can help", size="Medium")]
    if unknown is not None:
        body.append(para("I didn't recognise that. Here is what I can do:"))
    if in_progress:
        body.append(notice("You have a referral in progress — type **resume** to carry on.", style="accent"))
    if waiting_posts:
        body.append(
            notice(
                f"{waiting_posts} referral{'s are' if waiting_posts > 1 else ' is'} waiting for the panel channel. "
                "Go to the panel channel and type **@Rapid Review use this channel for the panel**.",
                style="warning",
            )
        )
    body.append(_commands(PERSONAL_COMMANDS))
    body.append(para(f"Questions about the process: contact {escape_markdown(partnership)}'s business unit.",
                     subtle=True, size="Small"))
    return card(body, actions=[execute("Start a referral", REFER, validate=False)])


def channel_welcome_card(partnership: str) -> Element:
    return card(
        [
            heading("Rapid Review is here", size="Medium"),
            para(
                f"I post {escape_markdown(partnership)}'s referrals for the virtual panel (local authority, police "
                "and health), run the vote, and post deadline reminders in working days."
            ),
            para(
                "**Setting up:** a partnership manager goes to the channel the panel uses and types "
                "**@Rapid Review use this channel for the panel**. Until then, referrals are kept safely and "
                "the partnership managers are told."
            ),
            para("Channel posts never carry a child's name, date of birth or address: cases are known by their "
                 "reference and a pseudonym such as *Child K*.", size="Small", subtle=True),
            _commands(CHANNEL_COMMANDS),
        ]
    )


def channel_help_card() -> Element:
    return card([heading("Rapid Review in this channel", size="Medium"), _commands(CHANNEL_COMMANDS),
                 para("Referrals are made in personal chat with the bot: open a chat with Rapid Review and type "
                      "**refer**.", size="Small")])


def channel_bound_card(released: int) -> Element:
    body = [heading("Panel channel set", size="Medium"),
            para("New referrals will be posted here for the virtual panel.")]
    if released:
        body.append(para(f"Posting {released} referral{'s' if released > 1 else ''} that were waiting."))
    return card(body)


def my_referrals_card(cases: list[CaseSummary], tz: ZoneInfo, *, in_progress: bool) -> Element:
    body: list[Element] = [heading("Your referrals", size="Medium")]
    if in_progress:
        body.append(notice("You also have a referral in progress — type **resume**.", style="accent"))
    if not cases:
        body.append(para("You have not submitted any referrals yet. Type **refer** to start one."))
        return card(body)
    for case in cases:
        received = case.received_at.astimezone(tz)
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    para(f"**{case.reference}** · {case.pseudonym}"),
                    facts([
                        ("Status", labels.STATUS[case.status]),
                        ("Received", format_moment(received, tz)),
                        ("Pathway sought", labels.PATHWAY_SHORT[case.pathway_sought]),
                    ]),
                ],
            }
        )
    return card(body)


def text_card(title: str, text: str, *, style: str | None = None) -> Element:
    body = [heading(title, size="Medium"), para(text)]
    if style:
        body = [heading(title, size="Medium"), notice(text, style=style)]
    return card(body)


def notification_summary_card(case: Case, tz: ZoneInfo, today: date,
                              marking: str = DEFAULT_PROTECTIVE_MARKING) -> Element:
    """Copy-ready answers for the national serious incident notification form (National Panel
    practice guidance: the national online notification form; docs/sources.md).
    Identifying: personal chat only, for partnership managers only."""
    r = case.referral
    incident = r.incident
    when = incident.incident_date.strftime("%d/%m/%Y") + (
        f" {incident.incident_time.strftime('%H:%M')}" if incident.incident_time else ""
    )
    body: list[Element] = [
        para("CONFIDENTIAL — personal chat only. Do not forward to a channel.", color="Attention", weight="Bolder"),
        heading(f"National notification: {case.reference}", size="Medium"),
        para("Copy these into the Child safeguarding incident notification form. Anything blank was not known "
             "when the referral was made.", size="Small"),
        subheading("Notifier's contact details"),
        *labelled("Referrer", f"{r.referrer.name}, {r.referrer.job_title}, {r.referrer.agency}"),
        *labelled("E-mail / telephone", " / ".join(x for x in (r.referrer.email, r.referrer.telephone) if x)),
        *labelled("Agency's nominated lead",
                  " · ".join(x for x in (r.referrer.lead_name, r.referrer.lead_role, r.referrer.lead_contact) if x)
                  or None),
        subheading("The incident"),
        *labelled("Date and time", when),
        *labelled("Location", incident.incident_location),
        *labelled("Died or seriously harmed", labels.HARM[incident.outcome]),
        *labelled("Abuse or neglect", labels.ABUSE[incident.abuse_or_neglect]),
        *labelled("Local authority aware", incident.la_aware_date.strftime("%d/%m/%Y") if incident.la_aware_date
                  else None),
        *labelled("Case outline", incident.summary),
    ]
    for index, child in enumerate(r.children.children, start=1):
        age = child.age_at(incident.incident_date)
        body += [
            subheading(f"Child {index}"),
            *labelled("Name", child.name),
            *labelled("Age at the incident", f"{age}" + ("" if child.date_of_birth else " (estimated)")
                      if age is not None else None),
            *labelled("Date of birth", child.date_of_birth.strftime("%d/%m/%Y") if child.date_of_birth else None),
            *labelled("Gender", labels.GENDER[child.gender]),
            *labelled("Health and disability", child.disability),
            *labelled("Current location", child.current_location),
            *labelled("Looked after / care leaver", labels.CARE[child.care_status]),
        ]
    if incident.outcome is HarmOutcome.DIED:
        body.append(notice(labels.ECDOP_NOTICE, style="attention"))
    body.append(literal(f"Prepared {today.strftime('%d/%m/%Y')} from referral {case.reference}.", subtle=True))
    body.append(marking_footer(marking))
    summary = card(body)
    if card_size(summary) > MAX_CARD_BYTES:  # long answers for several children: Teams would refuse the message
        body.insert(2, notice("Some long answers are shortened (…) to fit in one Teams message.", style="accent"))
        shorten_to_fit(summary) or shorten_to_fit(summary, HARD_MAX_CARD_BYTES)
    return summary


def export_link_card(reference: str, url: str, expires_at: datetime, tz: ZoneInfo, marking: str) -> Element:
    """The data protection officer's one-time link: no content of the case on the card itself."""
    until = expires_at.astimezone(tz)
    return card([heading(f"Export of {reference}", size="Medium"),
                 para("Every record the bot keeps about this case, in one zip file: the referral, votes and "
                      "reasons, questions and answers, decisions, deadlines, the meeting, every message the bot "
                      "sent and the audit trail, with a readable summary that marks what is about third parties."),
                 para(f"The link works once, for you only, until {format_time(until, tz)} ({format_day(until.date())}). If it expires, "
                      "press **Get a new link**. The download is recorded."),
                 notice(f"{escape_markdown(marking)}. Do not forward the file or this link.")],
                actions=[{"type": "Action.OpenUrl", "title": "Download the export (.zip)", "url": url},
                         execute("Get a new link", EXPORT_LINK, reference, secondary=True)])
