"""Every message the bot can send fits Teams, by construction (cards/budget.py).

Every card builder of cards/ (the same list as tests/unit/test_card_accessibility.py, which
fails when a builder has no case there; `test_every_card_builder_is_built_at_its_largest`
fails when it has none here) is built at its largest: every typed field at its cap
(bot/domain/limits.py), names from Teams far longer than any real one, four children, the
whole roster, every vote with both its texts, many deadlines, agencies and busy attendees.
Each card is then wrapped as the bot sends it — a proactive message (bot/turns/notifier.py),
a reply in a turn, and the answer to a button press (bot/turns/replies.py) — and the whole
message is measured as Teams counts it (UTF-16): within Microsoft's recommended 80 KB and
within the bot's own budget, so the guard that replaces an oversized card never has to.

Two alphabets: plain ASCII (two bytes a character in UTF-16), and an emoji (four bytes; the
caps count characters, so this is the heaviest text a person can type).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

from bot.domain import limits
from bot.domain.case import Case
from bot.domain.limits import FIELD_CAPS, LINE, NAME, TEXT, cap
from bot.domain.meeting import MeetingOutcome
from bot.domain.partnership import Partner, Role
from bot.domain.referral import MAX_CHILDREN, ChildDetails, Section
from bot.domain.reminders import Rag, ReminderKind
from bot.domain.retention import RetentionPolicy
from bot.domain.votes import VoteChoice
from bot.services.deadlines import StatusLine
from bot.services.panel import PanelView, ShownVote
from bot.services.ports import Address, AgencyRequest, MemberRecord, QueryRecord, StatusRow
from bot.services.reminder_delivery import DIGEST_MOST
from bot.services.reminder_view import Mention
from bot.teams.message_size import wire
from bot.turns.notifier import CardNotifier
from bot.turns.replies import Reply, invoke_body
from cards import (
    budget,
    chat,
    clock_cards,
    duplicate_cards,
    file_cards,
    meeting_cards,
    panel,
    pathway_cards,
    referral_form,
    referral_record,
    report_cards,
    retention_cards,
    review_cards,
    roster,
    training_cards,
    vote_card,
)
from cards.budget import BOT_BUDGET, TEAMS_RECOMMENDED, payload_size
from tests.conftest import make_referral
from tests.support import retention_samples as samples
from tests.unit import test_card_accessibility as a11y

TZ, REF, NOW, TODAY = a11y.TZ, a11y.REF, a11y.NOW, a11y.TODAY
ALPHABETS = {"ascii": "Long answer x; ", "astral": "😀"}
LONG_TEAMS_NAME = 300  # a display name as Teams may give it: far over the 100 the bot stores
ROSTER_SIZE = 60  # every partner's members and deputies, chairs and managers of a large partnership
MANY = 40  # agencies named in a reminder, busy attendees, the referrer's cases
STEPS = 15  # the deadlines of a case: more than the longest timeline profile (scheduler/profiles/)
AGENCIES = 16  # agencies asked for information: the default list of 14 (bot/domain/partnership.py), the referrer's, one more

_alphabet = ALPHABETS["ascii"]


def _text(size: int) -> str:
    """`size` characters as Teams and the caps count them (UTF-16 code units)."""
    return limits.within(_alphabet * size, size)


def _name(i: int = 0) -> str:
    return f"{i} " + _text(LONG_TEAMS_NAME)


# ---- the largest fixtures --------------------------------------------------------------------------


def _summary(status: Any = None) -> Any:
    summary = a11y._summary() if status is None else a11y._summary(status)
    return summary.model_copy(update={"referring_agency": _text(LINE), "referrer_name": _name()})


def _case() -> Case:
    r = make_referral()
    r = r.model_copy(update={
        "referrer": r.referrer.model_copy(update={
            "agency": _text(cap("referrer.agency")), "name": _text(NAME), "job_title": _text(NAME),
            "email": "a" * 64 + "@" + "b" * 63 + ".example.org", "telephone": "0" * cap("referrer.telephone"),
            "discussed_with": _text(TEXT), "lead_name": _text(NAME), "lead_role": _text(NAME),
            "lead_contact": _text(LINE)}),
        "incident": r.incident.model_copy(update={"incident_location": _text(LINE), "other_areas": _text(TEXT),
                                                  "summary": _text(TEXT)}),
        "views": r.views.model_copy(update={name: _text(TEXT) for name in (
            "meets_criteria", "worked_well", "not_worked_well", "key_issues", "family_not_consulted_reason",
            "key_worker_not_consulted_reason", "family_involvement")} | {"family_facilitator": _text(LINE)}),
    })
    child = ChildDetails.model_construct(**{**r.children.children[0].model_dump(), "name": _text(NAME),
                                            "disability": _text(TEXT), "ethnicity": _text(NAME),
                                            "current_location": _text(LINE)})
    children = r.children.model_copy(update={"children": [child] * MAX_CHILDREN, "family_members": _text(TEXT)})
    return Case(summary=_summary(), referral=r.model_copy(update={"children": children}), aware_date=TODAY)


def _vote(partner: Partner, choice: VoteChoice = VoteChoice.RAPID_REVIEW) -> ShownVote:
    return replace(a11y._vote(partner, choice), voter_name=_name(), organisation=_name(),
                   rationale=_text(cap("vote.rationale")), serious_harm_basis=_text(cap("vote.serious_harm_basis")))


def _query(i: int, status: str = "open") -> QueryRecord:
    return QueryRecord(id=i, case_id="case-1", round=1, partner=list(Partner)[i % 3], asked_by_aad_id=f"m{i}",
                       asked_by_name=_name(i), question=_text(cap("vote.question")), status=status, asked_at=NOW,
                       answer=_text(cap("query.answer")) if status == "answered" else None)


def _panel_view(*, decided: bool = False, disagreement: bool = False) -> PanelView:
    view = a11y._panel_view(decided=decided, disagreement=disagreement)
    votes = {p: _vote(p, v.choice) for p, v in view.votes.items()}
    if not decided and not disagreement:
        votes = {p: _vote(p) for p in Partner if p is not Partner.HEALTH}
    return replace(view, case=_summary(view.case.status), votes=votes,
                   open_queries=[] if decided else [_query(i) for i in range(3)],
                   answered_queries=[_query(i, "answered") for i in range(3, 6)],
                   panel_user_ids=[f"29:{'x' * 80}{i}" for i in range(ROSTER_SIZE)])


def _redacted(view: PanelView) -> PanelView:
    votes = {p: replace(v, rationale=v.rationale * 3, serious_harm_basis=(v.serious_harm_basis or "") * 3)
             for p, v in view.votes.items()}
    return replace(view, votes=votes)


def _typed(names: frozenset[str], field: str) -> dict[str, str]:
    return {name: _text(TEXT * 50) if name in names else "" for name in names} | {"choice": "queries" * 1000,
                                                                                 field: _text(TEXT * 50)}


def _form_view(**changes: Any) -> referral_form.FormView:
    errors = {key: limits.too_long("x" * 3412, TEXT) or "" for key in referral_form.INPUT_KEYS}
    return a11y._form_view(agencies=tuple(_text(80)[:-len(str(i))] + str(i) for i in range(30)),
                           errors=errors | {"__form__": _text(200)}, banner=_text(200), **changes)


def _raw_form() -> dict[str, dict[str, str]]:
    """What the draft keeps: every field at its cap (bot/domain/limits.py), four children."""
    raw: dict[str, dict[str, str]] = {}
    for section in Section:
        if section is Section.REVIEW:
            raw[section.value] = {"senior_manager_reviewed": "true"}
            continue
        ids = referral_form.section_input_ids(section, MAX_CHILDREN)
        raw[section.value] = {key: _text(referral_form.input_cap(section, key) or 10) for key in ids}
    raw["incident"] |= {"incident_date": "2026-11-20", "la_aware_date": "2026-11-21", "outcome": "died"}
    raw["children"] |= {f"c{i}_date_of_birth": "2017-02-03" for i in range(1, 5)}
    return raw


def _meeting() -> Any:
    m = a11y._meeting()
    attendees = [{"name": _name(i), "partner": list(Partner)[i % 3].value} for i in range(ROSTER_SIZE)]
    attendees += [{"name": _name(i), "role": "chair"} for i in range(5)]
    later = NOW + timedelta(days=1)
    options = [{"start": (later + timedelta(days=i)).isoformat(), "end": (later + timedelta(days=i, hours=2)).isoformat(),
                "busy": [_name(j) for j in range(MANY)], "availability_unknown": [_name(j) for j in range(MANY)]}
               for i in range(3)]
    return replace(m, attendees=attendees, options=options, join_url="https://teams.microsoft.com/l/meetup-join/"
                   + "x" * 1500)


def _outcome() -> MeetingOutcome:
    return MeetingOutcome.model_construct(**{
        **a11y._outcome().model_dump(),
        **{name: _text(cap(f"outcome.{name}")) for name in meeting_cards.TEXT_INPUTS}})


def _report_view(stage: str = "draft", **kw: Any) -> Any:
    """The report with every text at its cap: each item written on the card, a comment from
    every seat, the National Panel's request and a closure reason."""
    from bot.domain.report import ITEM_KEYS, Comment

    shown = a11y._report_view(stage, **kw)
    report = shown.report.model_copy(update={
        "fields": {key: _text(cap("report.item")) for key in ITEM_KEYS},
        "comments": [Comment(author_aad=f"aad-{i}", author_name=_name(i), seat=seat, text=_text(cap("report.comment")),
                             at=NOW) for i, seat in enumerate(["local_authority", "police", "health", "chair"] * 3)],
        "answers": [a.model_copy(update={"asked_for": _text(cap("report.asked_for"))}) for a in shown.report.answers],
        "closure_reason": _text(cap("report.closure_reason")), "started_by": _name()})
    return replace(shown, case=_case().model_copy(update={"summary": _summary(shown.case.summary.status)}),
                   outcome=_outcome(), report=report)


def _reminder(kind: ReminderKind) -> Any:
    return replace(a11y._reminder(kind), case=_summary(), mentions=[Mention(_name(i), f"aad-{i:040d}")
                                                                    for i in range(ROSTER_SIZE)],
                   outstanding_agencies=[_text(cap("agencies.agency")) for _ in range(MANY)],
                   deadline=replace(a11y._deadline(1), label=_text(160)))


def _timeline() -> Any:
    deadlines = [replace(a11y._deadline(i, asks_for_date=True, status="done" if i % 2 else "open", done_on=TODAY),
                         label=_text(160), done_by_name=_name(i)) for i in range(STEPS)]
    agencies = [AgencyRequest(id=i, agency=_text(cap("agencies.agency")), contact=_text(cap("agencies.contact")),
                              sent_at=NOW, returned_at=None if i % 2 else NOW, returned_by_name=_name(i))
                for i in range(AGENCIES)]
    return SimpleNamespace(case=SimpleNamespace(summary=_summary()), today=TODAY, deadlines=deadlines,
                           agencies=agencies, provisional=True,
                           not_working={d.id: "a bank holiday or closure day, not a working day" for d in deadlines},
                           meeting=a11y._meeting(), now=NOW)


def _status_lines() -> list[StatusLine]:
    return [StatusLine(StatusRow(f"RR-2026-{i:04d}", "Child AA", "decided", NOW, _text(160)), Rag.RED, -20)
            for i in range(25)]  # the status card's own limit (bot/services/deadlines.py)


def _members() -> list[MemberRecord]:
    return [MemberRecord(role=[Role.PANEL, Role.CHAIR, Role.MANAGER][i % 3],
                         partner=list(Partner)[i % 3] if i % 3 == 0 else None, name=_name(i), organisation=_name(i),
                         source="teams") for i in range(ROSTER_SIZE)]


def _deadline() -> Any:
    return replace(a11y._deadline(3, status="done", done_on=TODAY), done_by_name=_name(), label=_text(160))


def _pathway_view(**kw: Any) -> Any:
    """The largest view after a decision: the roster's names, every agency, a challenge at its cap."""
    from bot.domain.pathways import Challenge
    from bot.services.pathways import Person

    view = a11y._pathway_view(**kw)
    return replace(view, people=[Person(f"id{i}", _name(i)) for i in range(ROSTER_SIZE)],
                   agencies=[_text(80)[:-3] + f"{i:03}" for i in range(MANY)],
                   challenge=Challenge(agency=_text(NAME), reason=_text(cap("pathway.challenge")))
                   if kw.get("challenged") else None)


def _pathway_message(what: str) -> Any:
    from bot.services.pathways import PathwayMessage

    return PathwayMessage(what, _pathway_view(), [(_text(NAME), _text(LINE)) for _ in range(MANY)],
                          a11y._deadline(9, asks_for_date=True))


CARDS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("welcome_card", lambda: chat.welcome_card(_text(200), in_progress=True)),
    ("help_card", lambda: chat.help_card(_text(200), in_progress=True, unknown=_text(limits.COMMAND),
                                         waiting_posts=999)),
    ("channel_welcome_card", lambda: chat.channel_welcome_card(_text(200))),
    ("channel_help_card", chat.channel_help_card),
    ("channel_bound_card", lambda: chat.channel_bound_card(999)),
    ("my_referrals_card", lambda: chat.my_referrals_card([_summary()] * MANY, TZ, in_progress=True)),
    ("text_card", lambda: chat.text_card("Meeting cancelled", f"The meeting for {REF} is cancelled.")),
    ("notification_summary_card", lambda: chat.notification_summary_card(_case(), TZ, TODAY)),
    ("flag_card", lambda: duplicate_cards.flag_card(a11y._summary(), a11y._summary())),
    ("answered_card", lambda: duplicate_cards.answered_card(a11y._summary(), a11y._summary(), "dismissed")),
    ("timeliness_sent_card", lambda: file_cards.timeliness_sent_card(a11y._timeliness(), "timeliness-2026",
                                                                     "OFFICIAL-SENSITIVE")),
    ("export_link_card", lambda: chat.export_link_card(REF, "https://bot.example.org/files/once/" + "x" * 43, NOW, TZ,
                                                       "O" * 40)),
    ("offer_sent_card", lambda: file_cards.offer_sent_card(REF, "case_export", chat.EXPORT_LINK, "O" * 40)),
    ("link_card", lambda: file_cards.link_card(REF, "chair_notes", "https://bot.example.org/files/once/" + "x" * 43, NOW, TZ,
                                               meeting_cards.NOTES_LINK, "O" * 40)),
    ("not_sent_card", lambda: file_cards.not_sent_card(REF, "rapid_review_record", meeting_cards.RECORD_LINK,
                                                       "The file could not be saved in your OneDrive.")),
    *[(f"{s.value}_card", lambda s=s: referral_form.section_card(s, _raw_form()[s.value],
                                                                 _form_view(editing_from_review=True)))
      for s in Section if s is not Section.REVIEW],
    ("review_card", lambda: referral_form.review_card(_raw_form(), _form_view(), child_count=MAX_CHILDREN,
                                                      likely_notifiable=True)),
    ("cancel_confirm_card", lambda: referral_form.cancel_confirm_card(_form_view())),
    ("saved_card", lambda: referral_form.saved_card(_form_view(), Section.INCIDENT)),
    ("discarded_card", referral_form.discarded_card),
    ("submitted_card", lambda: referral_form.submitted_card(REF, "Child AA", likely_notifiable=True,
                                                            channel_bound=False, partnership=_text(200))),
    ("referral_record_card", lambda: referral_record.referral_record_card(_case(), TZ)),
    ("case_card", lambda: panel.case_card(_summary(), TZ)),
    ("panel_card", lambda: vote_card.panel_card(_panel_view(), TZ)),
    ("panel_card/disagreement", lambda: vote_card.panel_card(_panel_view(disagreement=True), TZ)),
    ("panel_card/decided", lambda: vote_card.panel_card(_panel_view(decided=True), TZ)),
    ("not_a_voter_card", lambda: vote_card.not_a_voter_card(_panel_view(), TZ, vote_card.SEVERAL_PARTNERS)),
    # Removing identifiers can lengthen a rationale ("Amy" becomes "[child]", bot/domain/redaction.py).
    ("panel_card/decided_redacted", lambda: vote_card.panel_card(_redacted(_panel_view(decided=True)), TZ)),
    ("decision_for_referrer_card/redacted", lambda: vote_card.decision_for_referrer_card(
        _redacted(_panel_view(decided=True)), TZ)),
    ("member_card", lambda: vote_card.member_card(_panel_view(disagreement=True), TZ, Partner.POLICE,
                                                  error=_text(300), error_field="rationale",
                                                  typed=_typed(vote_card.BALLOT_INPUTS, "rationale"))),
    ("member_card/decided", lambda: vote_card.member_card(_panel_view(decided=True), TZ, Partner.POLICE,
                                                          error=_text(300))),
    ("query_card", lambda: vote_card.query_card(_panel_view(), _text(cap("vote.question")), _name() + _name(), 7,
                                                error=_text(300), typed=_text(TEXT * 50))),
    ("answered_card", lambda: vote_card.answered_card(REF)),
    ("answer_notice_card", lambda: vote_card.answer_notice_card(_panel_view(), _name(),
                                                                _text(cap("query.answer") * 3))),
    ("decision_for_referrer_card", lambda: vote_card.decision_for_referrer_card(_panel_view(decided=True), TZ)),
    ("disagreement_prompt_card", lambda: vote_card.disagreement_prompt_card(_panel_view(disagreement=True), TZ,
                                                                            24)),
    *[(f"reminder_card/{kind.value}", lambda kind=kind: clock_cards.reminder_card(_reminder(kind), TZ))
      for kind in ReminderKind],
    ("reminders_digest_card", lambda: clock_cards.reminders_digest_card(
        [replace(_reminder(ReminderKind.OVERDUE), mentions=_reminder(ReminderKind.OVERDUE).mentions[:1])
         for _ in range(DIGEST_MOST)], TZ)),
    ("escalation_card", lambda: clock_cards.escalation_card(_reminder(ReminderKind.OVERDUE), TZ)),
    ("done_card", lambda: clock_cards.done_card(REF, _deadline(), TZ)),
    ("timeline_card", lambda: clock_cards.timeline_card(_timeline(), TZ)),
    ("timeline_card/ask_agencies", lambda: clock_cards.timeline_card(SimpleNamespace(**{
        **vars(_timeline()), "agencies": [], "agencies_to_ask": [_text(cap("agencies.agency")) for _ in range(40)]}),
        TZ)),
    ("status_card", lambda: clock_cards.status_card(_status_lines(), 999, TZ)),
    ("agency_prompt_card", lambda: clock_cards.agency_prompt_card(
        _summary(), [_text(80)[:-2] + f"{i:02d}" for i in range(MANY)], error=_text(300), field="contacts",
        typed={"contacts": _text(TEXT * 50)})),
    ("meeting_card", lambda: meeting_cards.meeting_card(_summary(), _meeting(), a11y._deadline(2), TZ,
                                                        "https://bot.example.org/ics/" + "x" * 600)),
    ("slot_choice_card", lambda: meeting_cards.slot_choice_card(_summary(), _meeting(), TZ)),
    ("problem_card", lambda: meeting_cards.problem_card(_summary(), _text(600))),
    ("booking_failed_card", lambda: meeting_cards.booking_failed_card(_summary())),
    ("chair_notes_card", lambda: meeting_cards.chair_notes_card(_case(), _meeting(), TZ, notified_on=TODAY,
                                                                chair=_name())),
    ("outcome_card", lambda: meeting_cards.outcome_card(
        _summary(), error=_text(300), field="learning",
        typed={name: _text(TEXT * 50) for name in meeting_cards.OUTCOME_INPUTS})),
    ("outcome_summary_card", lambda: meeting_cards.outcome_summary_card(_summary(), _outcome())),
    ("outcome_for_referrer_card", lambda: meeting_cards.outcome_for_referrer_card(_summary(), _outcome())),
    ("record_card", lambda: meeting_cards.record_card(_summary(), _outcome())),
    ("record_link_card", lambda: meeting_cards.record_link_card(
        _summary(), _outcome(), "https://bot.example.org/files/once/" + "x" * 600, NOW, TZ)),
    ("start_card", lambda: report_cards.start_card(_summary())),
    ("report_card", lambda: report_cards.report_card(
        _report_view(round_=2), TZ, manages=True, comments=True, marking=_text(NAME), error=_text(300),
        field="facts_summary", message=_text(300))),
    ("report_card/typed", lambda: report_cards.report_card(
        _report_view(), TZ, manages=True, comments=True, marking=_text(NAME), error=_text(300), field="comment",
        typed={"comment": _text(cap("report.comment"))})),
    ("report_card/answered", lambda: report_cards.report_card(
        _report_view("sent", status=a11y.CaseStatus.REPORT_SUBMITTED, answered=True, closed=True), TZ,
        manages=True, comments=False, marking=_text(NAME), error=_text(300), field="reason",
        typed={"reason": _text(cap("report.closure_reason"))})),
    ("comment_request_card", lambda: report_cards.comment_request_card(_report_view(), TZ, _text(NAME))),
    ("edit_card", lambda: report_cards.edit_card(_report_view(round_=2), error=_text(300), field="facts_summary",
                                                 typed={"facts_summary": _text(cap("report.item"))})),
    ("sign_off_request_card", lambda: report_cards.sign_off_request_card(_summary())),
    ("notice_card", lambda: report_cards.notice_card(_summary(), "response", {"response": "more_information",
                                                                              "due": NOW.isoformat()}, TZ)),
    ("submission_link_card", lambda: report_cards.submission_link_card(
        _summary(), "https://bot.example.org/files/once/" + "x" * 600, NOW, TZ)),
    ("notes_link_card", lambda: meeting_cards.notes_link_card(
        _summary(), "https://bot.example.org/files/once/" + "x" * 600, NOW, TZ)),
    ("inquorate_card", lambda: meeting_cards.inquorate_card(_summary(), error=_text(400))),
    ("meeting_moved_card", lambda: meeting_cards.meeting_moved_card(_summary(), NOW, _meeting(), TZ)),
    ("meeting_cancelled_card", lambda: meeting_cards.meeting_cancelled_card(_summary(), _meeting(), TZ)),
    ("members_card", lambda: roster.members_card(_members())),
    # the DPO's list at its longest: ten cases, each with many messages, files to long-named people, a hold
    ("retention_list_card", lambda: retention_cards.retention_list_card(
        [samples.plan(i, messages=400, files=30, held=i % 2 == 0, name=_name(i)) for i in range(10)], 999,
        samples.names(30, _name()), TZ, RetentionPolicy(), "O" * 40)),
    ("erasure_request_card", lambda: retention_cards.erasure_request_card(
        samples.plan(messages=400, files=60), samples.names(60, _name()), TZ, RetentionPolicy(), "O" * 40,
        reason=_text(TEXT * 50), error=_text(300))),
    ("erased_card", lambda: retention_cards.erased_card(samples.record(), TZ, already=True)),
    ("tombstone_card", retention_cards.tombstone_card),
    ("holds_card", lambda: retention_cards.holds_card(samples.holds(400, _name()), TZ)),
    ("pathway_card", lambda: pathway_cards.pathway_card(_pathway_view(challenged=True), TZ, said=_text(200))),
    ("owner_card", lambda: pathway_cards.owner_card(_pathway_view(handed=True), TZ)),
    ("referrer_card", lambda: pathway_cards.referrer_card(_pathway_view(), TZ)),
    ("challenged_card", lambda: pathway_cards.challenged_card(_pathway_view(challenged=True), TZ)),
    ("agencies_notice_card", lambda: pathway_cards.agencies_notice_card(
        _pathway_view(), [(_text(NAME), _text(LINE)) for _ in range(MANY)], TZ)),
    ("teller_card", lambda: pathway_cards.teller_card(_pathway_view(), a11y._deadline(9, asks_for_date=True), TZ,
                                                      "OFFICIAL-SENSITIVE")),
    ("letter_link_card", lambda: pathway_cards.letter_link_card(_summary(), "https://bot.example.org/files/once/"
                                                                + "x" * 43, NOW, TZ, "OFFICIAL-SENSITIVE")),
    ("message_card", lambda: pathway_cards.message_card(_pathway_message("agencies_notice"), TZ, "OFFICIAL")),
    ("agency_returns_card", lambda: pathway_cards.agency_returns_card(_summary(), [
        (AgencyRequest(id=i, agency=_text(NAME), contact=None, sent_at=NOW, returned_at=None, returned_by_name=None),
         _name(i)) for i in range(MANY)])),
    ("agency_return_card", lambda: pathway_cards.agency_return_card(
        _summary(), AgencyRequest(id=5, agency=_text(NAME), contact=None, sent_at=NOW, returned_at=None,
                                  returned_by_name=None), {k: _text(TEXT) for k in ("involvement", "chronology",
                                  "analysis", "immediate_actions")}, recorded_by=_name(), error=_text(300),
        field="analysis")),
    ("review_actions_card", lambda: review_cards.review_actions_card(
        a11y._review_view(_text, _name(), actions=30, agencies=AGENCIES), TZ)),
    ("review_actions_card/error", lambda: review_cards.review_actions_card(
        a11y._review_view(_text, _name(), actions=30, agencies=AGENCIES), TZ, error=_text(TEXT), field="learning",
        typed={"learning": _text(TEXT)})),
    ("briefing_link_card", lambda: review_cards.briefing_link_card(
        REF, "Child A", "https://bot.example.org/files/once/" + "x" * 600, NOW, TZ, _text(NAME))),
    ("with_banner", lambda: training_cards.with_banner(vote_card.panel_card(_panel_view(decided=True), TZ),
                                                       "Tue 24 Nov 2026", _name())),
    ("with_training_help", lambda: training_cards.with_training_help(chat.help_card(_text(200)))),
    ("oversize_card", lambda: budget.oversize_card(vote_card.panel_card(_panel_view(decided=True), TZ),
                                                   "ab12cd34")),
]


def test_every_card_builder_is_built_at_its_largest() -> None:
    covered = {name.split("/")[0] for name, _ in CARDS}
    assert {name.split("/")[0] for name, _ in a11y.CARDS} - covered == set()


def test_every_typed_field_of_the_referral_form_has_its_cap_in_the_one_table() -> None:
    """The form's inputs take their `maxLength` from the models, the models from FIELD_CAPS."""
    for section in Section:
        if section is Section.REVIEW:
            continue
        for key in referral_form.section_input_ids(section, MAX_CHILDREN):
            limit = referral_form.input_cap(section, key)
            if limit is not None:
                assert limit in FIELD_CAPS.values(), key


# ---- the message as the bot sends it ---------------------------------------------------------------

SERVICE_URL = "https://smba.trafficmanager.net/uk/" + "0" * 36 + "/"
CHANNEL = "19:" + "a" * 32 + "@thread.tacv2;messageid=" + "1" * 13
USER = "29:" + "b" * 120
BOT = "28:" + "c" * 36


def _proactive(card: dict[str, Any]) -> dict[str, Any]:
    """As bot/turns/notifier.py posts or updates it (the wire JSON, before the guard)."""
    return {"type": "message", "channelId": "msteams", "serviceUrl": SERVICE_URL, "from": {"id": BOT},
            "conversation": {"id": CHANNEL, "tenantId": "d" * 36}, "id": "1" * 13,
            "attachments": [{"contentType": CardFactory.content_types.adaptive_card, "content": card}]}


def _reply(card: dict[str, Any]) -> dict[str, Any]:
    """As a reply in a turn goes out: the SDK fills in the conversation (TurnContext.send_activity)."""
    reference = ConversationReference(
        activity_id="1" * 13, user=ChannelAccount(id=USER, name=_name(), aad_object_id="e" * 36),
        bot=ChannelAccount(id=BOT, name="Rapid Review"), channel_id="msteams", service_url=SERVICE_URL,
        conversation=ConversationAccount(id=CHANNEL, conversation_type="channel", tenant_id="d" * 36, name=_name()),
        locale="en-GB")
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    return wire(TurnContext.apply_conversation_reference(activity, reference))


def _invoke(card: dict[str, Any]) -> dict[str, Any]:
    return invoke_body(Reply(card=card))


@pytest.fixture(params=list(ALPHABETS), ids=list(ALPHABETS))
def alphabet(request: pytest.FixtureRequest) -> Any:
    global _alphabet
    _alphabet = ALPHABETS[request.param]
    yield request.param
    _alphabet = ALPHABETS["ascii"]


@pytest.mark.parametrize("build", [b for _, b in CARDS], ids=[n for n, _ in CARDS])
def test_every_card_at_its_largest_fits_teams_and_the_bots_budget(build: Callable[[], dict[str, Any]],
                                                                  alphabet: str) -> None:
    built = build()
    answer = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": built}
    for how, message in (("proactive", _proactive(built)), ("reply", _reply(built)), ("invoke", answer)):
        size = payload_size(message)
        assert size <= TEAMS_RECOMMENDED, f"{how}: {size:,} bytes, over Microsoft's recommended 80 KB"
        assert size <= BOT_BUDGET, f"{how}: {size:,} bytes, over the bot's budget of {BOT_BUDGET:,}"
    assert _invoke(built)["value"] is built  # the guard let it through untouched


def test_a_card_over_the_budget_is_never_sent_a_short_notice_goes_instead() -> None:
    huge = chat.text_card("Meeting booked", "x" * (BOT_BUDGET // 2 + 10))
    huge["actions"] = [{"type": "Action.Execute", "verb": "case.timeline", "data": {"ref": REF}}]

    body = _invoke(huge)
    assert payload_size(body) <= BOT_BUDGET
    assert body["value"]["body"][0]["text"] == budget.OVERSIZE_TITLE
    assert f"timeline {REF}" in str(body["value"])

    fitted, size = budget.fit_activity(_proactive(huge), "ab12cd34")
    assert size is not None and size > BOT_BUDGET
    assert payload_size(fitted) <= BOT_BUDGET
    assert "ab12cd34" in str(fitted) and "x" * 100 not in str(fitted)


def test_the_guard_lets_a_card_within_the_budget_through_untouched() -> None:
    card = chat.text_card("Meeting booked", "x" * 1000)
    fitted, size = budget.fit_activity(_proactive(card))
    assert size is None and fitted["attachments"][0]["content"] is card


def test_the_cap_message_says_the_cap_and_how_much_was_written() -> None:
    assert limits.too_long("x" * 3412, 2000) == "2,000 characters at most — you wrote 3,412."
    assert limits.too_long("x" * 2000, 2000) is None
    assert limits.excerpt("word " * 100).endswith("…") and len(limits.excerpt("word " * 100)) <= limits.EXCERPT


def test_the_proactive_message_is_measured_as_the_notifier_builds_it() -> None:
    small = chat.channel_help_card()
    sent = CardNotifier.card_message(SimpleNamespace(_app_id=BOT),  # type: ignore[arg-type]
                                     Address(CHANNEL, SERVICE_URL, "d" * 36, BOT), small, "1" * 13)
    assert sent == _proactive(small)


async def test_a_reply_in_a_turn_over_the_budget_goes_as_the_short_notice_and_is_logged(caplog) -> None:
    """The guard on `TurnContext.send_activity` (bot/teams/handler.py registers it on every turn)."""
    from botbuilder.core.adapters import TestAdapter
    from botbuilder.schema import Activity

    from bot.teams.message_size import keep_replies_within_budget

    huge = chat.text_card(f"{REF} · Child A", "x" * BOT_BUDGET)

    async def logic(turn_context: TurnContext) -> None:
        turn_context.on_send_activities(keep_replies_within_budget)
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(huge)))
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(chat.channel_help_card())))

    adapter = TestAdapter(logic)
    with caplog.at_level("WARNING", logger="bot.teams.message_size"):
        await adapter.receive_activity(Activity(type="message", text="hello"))
    sent = [a.attachments[0].content for a in adapter.activity_buffer]
    assert sent[0]["body"][0]["text"] == budget.OVERSIZE_TITLE and f"timeline {REF}" in str(sent[0])
    assert sent[1] == chat.channel_help_card()  # a card within the budget is untouched
    assert [r.getMessage() for r in caplog.records] == ["message too large for Teams: a short notice was sent instead"]
    assert caplog.records[0].case == REF and "x" * 50 not in str(caplog.records[0].__dict__)
