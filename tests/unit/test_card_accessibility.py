"""Accessibility of every card the bot can send, checked on the card JSON (docs/accessibility.md).

Each public card builder in cards/ is called with realistic fixtures (the approach of
tests/unit/test_routes.py), in the states that change what a card shows (errors, decided,
several children, training mode), and every card is checked for:

- inputs: a non-empty `label` (a placeholder is not a label); `isRequired` with an `errorMessage`;
  a label marked "*" without `isRequired` only on a card that says what "*" means;
- images: `altText`; actions: a non-empty `title`, an `Action.OpenUrl` title that says where it
  goes, and a `tooltip` telling apart buttons whose titles repeat on one card;
- status never by colour alone: a coloured TextBlock/TextRun or a coloured container carries
  words, and a RAG mark comes with its word (Overdue, Due soon, On track);
- headings: at least one `style: "heading"` per card, and no text that looks like a heading
  (a wholly bold line, or bold at Medium size and above) without it;
- reading order: no ColumnSet laid out as columns of several texts each (a column of labels
  beside a column of values reads all labels, then all values);
- `speak`: the card's first heading, as words.

Contrast and keyboard focus order belong to the Teams client and are checked by hand (docs/accessibility.md).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import cards
from bot.domain.case import Case, CaseStatus, CaseSummary, IncidentKind
from bot.domain.limits import cap
from bot.domain.meeting import MeetingOutcome
from bot.domain.partnership import DecisionRule, Partner, Role
from bot.domain.referral import MAX_CHILDREN, PathwaySought, Section
from bot.domain.reminders import Rag, ReminderKind
from bot.domain.retention import RetentionPolicy
from bot.domain.review import ReviewSetup
from bot.domain.votes import Decision, VoteChoice
from bot.services.deadlines import StatusLine
from bot.services.panel import PanelView, ShownVote
from bot.services.ports import (
    ActionRecord,
    AgencyRequest,
    DeadlineRow,
    MeetingRecord,
    MemberRecord,
    QueryRecord,
    ReviewEntry,
    ReviewRecord,
    StatusRow,
)
from bot.services.reminder_view import Mention, ReminderView
from bot.services.review import ReviewView
from cards import (
    budget,
    chat,
    clock_cards,
    correction_cards,
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
from cards.common import plain_text
from tests.conftest import make_referral
from tests.support import retention_samples as samples

TZ = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)

# ---- fixtures -------------------------------------------------------------------------------------


def _summary(status: CaseStatus = CaseStatus.DECIDED) -> CaseSummary:
    return CaseSummary(id="case-1", reference=REF, pseudonym="Child A", status=status,
                       pathway_sought=PathwaySought.RAPID_REVIEW_SCREENING, incident_kind=IncidentKind.SERIOUS_HARM,
                       incident_date=date(2026, 11, 20), referring_agency="Police", likely_notifiable=True,
                       received_at=NOW, referrer_aad_id="referrer", referrer_name="Riley Referrer")


def _case(children: int = 1) -> Case:
    referral = make_referral()
    if children > 1:
        kids = referral.children.children * children
        referral = referral.model_copy(update={"children": referral.children.model_copy(update={"children": kids})})
    return Case(summary=_summary(), referral=referral, aware_date=date(2026, 11, 21))


def _deadline(id_: int, *, asks_for_date: bool = False, status: str = "open", due: datetime | None = NOW,
              done_on: date | None = None) -> DeadlineRow:
    return DeadlineRow(id=id_, case_id="case-1", step_id=f"step{id_}", label=f"Step {id_}", owner="la",
                       anchor="decided", anchor_at=NOW, due_at=due, earliest_at=None, is_window=False,
                       asks_for_date=asks_for_date, records=None, plan={}, source="test", position=id_,
                       status=status, next_reminder_at=None, last_reminder_at=None,
                       done_at=NOW if status == "done" else None, done_on=done_on,
                       done_by_name="Pat Manager" if status == "done" else None)


def _review_view(text: Callable[[int], str] = lambda n: "Learning about information sharing."[:n],
                 name: str = "Pat Manager", *, actions: int = 2, agencies: int = 3,
                 status: CaseStatus = CaseStatus.REVIEW_COMMISSIONED) -> ReviewView:
    """The review and actions card's view: a commissioned review with every part recorded (at
    the sizes `text` gives), open and done actions, agencies' reports in and outstanding."""
    line = text(cap("review.line_of_enquiry")) or "Line of enquiry"
    setup = ReviewSetup(lead_reviewer=text(cap("review.lead_reviewer")) or "Lee Reviewer",
                        terms_of_reference=text(cap("review.terms_of_reference")),
                        lines_of_enquiry=[line] * 4,
                        review_panel=text(cap("review.review_panel")))
    asked = [f"Agency {n} {text(60)}"[:100] for n in range(agencies)]
    review = ReviewRecord(case_id="case-1", setup=setup.model_dump(mode="json"), agencies_asked=asked,
                          learning=text(cap("review.learning")), report_sent_on=TODAY, published_on=None,
                          late_reason=text(cap("review.late_reason")))
    entries = [ReviewEntry(1, "case-1", "agency_report", asked[0], None, None, NOW, name),
               *[ReviewEntry(2 + n, "case-1", "progress_check", None, n % 2 == 0, text(cap("review.progress_note")),
                             NOW, name) for n in range(6)]]
    acts = [ActionRecord(id=n + 1, case_id="case-1", origin="meeting" if n % 2 else "review",
                         description=text(cap("action.description")), owner_agency=f"Agency {text(90)}"[:100],
                         owner_aad_id=f"aad-{n}", owner_name=name, due_on=TODAY, status="done" if n % 2 else "open",
                         created_at=NOW, created_by_name=name, done_at=NOW if n % 2 else None,
                         done_by_name=name if n % 2 else None, evidence=text(cap("action.evidence")) if n % 2 else None)
            for n in range(actions)]
    steps = {"lcspr_published": _deadline(1), "lcspr_progress_check": _deadline(2),
             "lcspr_lead_reviewer_and_terms": _deadline(3, status="done", done_on=TODAY)}
    owners = [MemberRecord(role=Role.PANEL, name=f"{name} {n}", aad_object_id=f"aad-{n}", organisation=text(60))
              for n in range(12)]
    case = _case()
    case = case.model_copy(update={"summary": case.summary.model_copy(update={"status": status})})
    return ReviewView(case=case, review=review, entries=entries, actions=acts, steps=steps, owners=owners,
                      agencies=[f"Agency {n}" for n in range(16)], today=TODAY, commissioned=True,
                      learning=review.learning, may_manage=True)


def _vote(partner: Partner, choice: VoteChoice = VoteChoice.RAPID_REVIEW) -> ShownVote:
    return ShownVote(partner=partner, choice=choice, voter_name=f"{partner.title} member", organisation="Org",
                     cast_at=NOW, rationale="Serious injury; agencies were involved.", serious_harm_basis="Hospital")


def _panel_view(*, decided: bool = False, disagreement: bool = False) -> PanelView:
    query = QueryRecord(id=7, case_id="case-1", round=1, partner=Partner.HEALTH, asked_by_aad_id="nina",
                        asked_by_name="Nina", question="When?", status="open", asked_at=NOW)
    votes = {p: _vote(p) for p in Partner}
    if disagreement:
        votes[Partner.POLICE] = _vote(Partner.POLICE, VoteChoice.PRACTICE_REVIEW)
        votes.pop(Partner.HEALTH)
    decision = Decision(outcome=VoteChoice.RAPID_REVIEW, decided_at=NOW, rule=DecisionRule.UNANIMOUS) if decided \
        else None
    return PanelView(case=_summary(CaseStatus.DECIDED if decided else CaseStatus.REFERRED), round=2,
                     votes=votes if (decided or disagreement) else {}, decision=decision,
                     open_queries=[] if decided else [query], answered_queries=[], notify_by=date(2026, 11, 27),
                     aware_date_known=True, panel_user_ids=["29:a"])


def _form_view(**changes: Any) -> referral_form.FormView:
    view = referral_form.FormView(draft_id="draft-1", version=3, today=TODAY, agencies=("Police", "Health"),
                                  child_count=MAX_CHILDREN)
    return replace(view, **changes)


def _meeting(*, join: bool = True) -> MeetingRecord:
    attendees = [{"name": "Laura", "partner": "local_authority"}, {"name": "Chris", "role": "chair"}]
    later = NOW.replace(hour=14)
    options = [{"start": NOW.isoformat(), "end": NOW.isoformat(), "busy": ["Nina"]},
               {"start": later.isoformat(), "end": later.isoformat(), "availability_unknown": ["Sam"]}]
    return MeetingRecord(case_id="case-1", status="booked", attempt=1, transaction_id="t", provider="graph",
                         join_url="https://teams.microsoft.com/l/meetup-join/x" if join else None, start_at=NOW,
                         end_at=NOW, attendees=attendees, options=options)


def _outcome() -> MeetingOutcome:
    return MeetingOutcome.model_validate({
        "local_cspr": "yes", "national_review": "no", "rationale": "The learning is local and specific.",
        "participants": "Laura, Pat and Nina", "quorum_local_authority": "true", "quorum_police": "true",
        "quorum_health": "true"})


def _report_view(stage: str = "draft", *, round_: int = 1, status: CaseStatus = CaseStatus.REPORT_IN_DRAFT,
                 signed: bool = False, answered: bool = False, closed: bool = False) -> Any:
    from bot.domain.report import Comment, PanelAnswer, Report, Response, SignOff, Stage, Submission
    from bot.services.report import ReportView

    sign = SignOff(aad="chris", name="Chris Chair", at=NOW) if signed else None
    report = Report(round=round_, stage=Stage(stage), started_by="Pat Manager", started_at=NOW,
                    seats=["local_authority", "police", "health", "chair"], comments_due_at=NOW,
                    comments=[Comment(author_aad="laura", author_name="Laura", seat="local_authority",
                                      text="Add the school's view.", at=NOW)],
                    chair_sign_off=sign, manager_sign_off=sign,
                    submissions=[Submission(round=1, sent_on=TODAY, by_name="Pat", at=NOW)] if stage == "sent" else [],
                    answers=[PanelAnswer(round=round_, response=Response.MORE_INFORMATION if round_ > 1
                                         else Response.AGREES, on=TODAY, by_name="Pat", at=NOW,
                                         asked_for="The GP's chronology.")] if answered or round_ > 1 else [],
                    closure_reason="No further learning." if closed else None)
    case = _case()
    case = case.model_copy(update={"summary": _summary(status)})
    return ReportView(case=case, outcome=_outcome(), report=report, meeting_start=NOW, deciders=["Laura, LA"],
                      notified_on=TODAY, today=TODAY)


def _reminder(kind: ReminderKind, *, delayed: bool = False) -> ReminderView:
    return ReminderView(case=_summary(), deadline=_deadline(1, asks_for_date=kind is ReminderKind.OVERDUE),
                        kind=kind, delayed=delayed, mentions=[Mention("Pat", "pat")], working_days=2,
                        outstanding_agencies=["GP"])


def _timeline() -> Any:
    deadlines = [_deadline(1, asks_for_date=True), _deadline(2), _deadline(3, status="done", done_on=TODAY),
                 _deadline(4, due=None), _deadline(5, due=datetime(2026, 11, 20, 10, 0, tzinfo=UTC))]
    agencies = [AgencyRequest(id=5, agency="GP", contact="Dr Who", sent_at=NOW, returned_at=None,
                              returned_by_name=None),
                AgencyRequest(id=6, agency="School", contact=None, sent_at=NOW, returned_at=NOW,
                              returned_by_name="Pat")]
    return SimpleNamespace(case=SimpleNamespace(summary=_summary()), today=TODAY, deadlines=deadlines,
                           agencies=agencies, provisional=True,
                           not_working={1: "a Saturday, not a working day"}, meeting=_meeting(), now=NOW)


def _status_lines() -> list[StatusLine]:
    def row(n: int, due: datetime | None) -> StatusRow:
        return StatusRow(f"RR-2026-000{n}", f"Child {n}", "decided", due, f"Step {n}")

    return [StatusLine(row(1, NOW), Rag.RED, -2), StatusLine(row(2, NOW), Rag.AMBER, 0),
            StatusLine(row(3, NOW), Rag.GREEN, 5), StatusLine(row(4, None), None, None)]


def _members() -> list[MemberRecord]:
    return [MemberRecord(role=Role.PANEL, name="Laura", partner=Partner.LOCAL_AUTHORITY, organisation="Council"),
            MemberRecord(role=Role.CHAIR, name="Chris", source="teams")]


def _pathway_view(outcome: VoteChoice = VoteChoice.NO_FURTHER_ACTION, *, handed: bool = False,
                  challenged: bool = False, family: bool = True) -> Any:
    from bot.domain.pathways import PROCESSES, Challenge, FamilyStep, HandOver, Process
    from bot.services.pathways import PathwayView, Person

    handover = HandOver(outcome=outcome, process=PROCESSES[outcome][-1], owner_aad_id="o", owner_name="Olive Owner",
                        recorded_by="Pat", recorded_at=NOW.isoformat(), agencies_told=["Police"]) if handed else None
    return PathwayView(
        case=_summary(CaseStatus.HANDED_OVER if handed else CaseStatus.DECIDED), outcome=outcome, handover=handover,
        challenge=Challenge(agency="GP / primary care", reason="The decision overlooks missed appointments.",
                            recorded_by="Dan", recorded_at=NOW.isoformat()) if challenged else None,
        family=FamilyStep(teller_aad_id="t", teller_name="Nina", tell_by=TODAY, agreed_by="Chris",
                          agreed_at=NOW.isoformat()) if family else None,
        challenge_until=NOW if outcome is VoteChoice.NO_FURTHER_ACTION else None,
        people=[Person("o", "Olive Owner"), Person("t", "Nina")],
        processes=list(PROCESSES.get(outcome, ())) + ([Process.ESCALATION] if challenged else []),
        agencies=["Police", "GP / primary care"], family_step_id=9, handover_step_id=8)


def _pathway_message(what: str, **view: Any) -> Any:
    from bot.services.pathways import PathwayMessage

    return PathwayMessage(what, _pathway_view(**view), [("Police", "DS Smith"), ("GP / primary care", None)],
                          _deadline(9, asks_for_date=True))


_FILLED_FORM = {
    "referrer": {"agency": "Police", "name": "Riley", "email": "r@example.org", "lead_name": "Lee"},
    "pathway": {"pathway": "A"},
    "incident": {"incident_date": "2026-11-20", "outcome": "died", "summary": "**not bold** <at>x</at>"},
    "children": {"c1_name": "Test Child", "c2_estimated_age": "7", "family_members": "Mother"},
    "views": {"family_consulted": "no", "family_not_consulted_reason": "Not yet"},
}

# name → builder: every card the bot sends (the builders' names, so that a new builder without a
# case here fails `test_every_card_builder_is_covered`).
def _timeliness() -> Any:
    from bot.services.timeliness import CaseLine, Measure, Timeliness

    line = CaseLine(REF, date(2026, 3, 2), "Closed", {"decision": Measure(True), "notification": Measure(False),
                                                      "report": Measure(None), "publication": Measure(None)})
    return Timeliness(2026, "Partnership", [line])


CARDS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("welcome_card", lambda: chat.welcome_card("Partnership", in_progress=True)),
    ("help_card", lambda: chat.help_card("Partnership", in_progress=True, unknown="x", waiting_posts=2)),
    ("channel_welcome_card", lambda: chat.channel_welcome_card("Partnership")),
    ("channel_help_card", chat.channel_help_card),
    ("channel_bound_card", lambda: chat.channel_bound_card(2)),
    ("my_referrals_card", lambda: chat.my_referrals_card([_summary()], TZ, in_progress=True)),
    ("my_referrals_card/empty", lambda: chat.my_referrals_card([], TZ, in_progress=False)),
    ("text_card", lambda: chat.text_card("Meeting booked", "RR-2026-0001: Tue 24 Nov")),
    ("text_card/warning", lambda: chat.text_card("Cannot post", "The channel is gone.", style="warning")),
    ("notification_summary_card", lambda: chat.notification_summary_card(_case(), TZ, TODAY)),
    ("notification_summary_card/children", lambda: chat.notification_summary_card(_case(4), TZ, TODAY)),
    ("export_link_card", lambda: chat.export_link_card(REF, "https://bot.example.org/files/once/x", NOW, TZ,
                                                       "OFFICIAL-SENSITIVE")),
    ("offer_sent_card", lambda: file_cards.offer_sent_card(REF, "case_export", chat.EXPORT_LINK, "OFFICIAL-SENSITIVE")),
    ("timeliness_sent_card", lambda: file_cards.timeliness_sent_card(_timeliness(), "timeliness-2026",
                                                                     "OFFICIAL-SENSITIVE")),
    ("notice_card/correction", lambda: correction_cards.notice_card(_summary(), "dates_corrected")),
    ("flag_card", lambda: duplicate_cards.flag_card(_summary(), _summary())),
    ("answered_card", lambda: duplicate_cards.answered_card(_summary(), _summary(), "linked")),
    ("offer_sent_card/again", lambda: file_cards.offer_sent_card(REF, "rapid_review_record", meeting_cards.RECORD_LINK,
                                                                 "OFFICIAL-SENSITIVE", meeting_cards.RECORD_FILE)),
    ("link_card", lambda: file_cards.link_card(REF, "chair_notes", "https://bot.example.org/files/once/x", NOW, TZ,
                                               meeting_cards.NOTES_LINK, "OFFICIAL-SENSITIVE")),
    ("not_sent_card", lambda: file_cards.not_sent_card(REF, "rapid_review_record", meeting_cards.RECORD_LINK,
                                                       "You declined the file.")),
    *[(f"{s.value}_card", lambda s=s: referral_form.section_card(s, {}, _form_view()))
      for s in Section if s is not Section.REVIEW],
    *[(f"{s.value}_card/errors", lambda s=s: referral_form.section_card(
        s, _FILLED_FORM.get(s.value, {}),
        _form_view(banner="Saved.", editing_from_review=True,
                   errors={"name": "Give your name.", "c1_name": "Give the child's name.", "pathway": "Choose one.",
                           "incident_date": "Give the date.", "meets_criteria": "Say why.",
                           "__form__": "Add at least one child."})))
      for s in Section if s is not Section.REVIEW],
    ("incident_card/old_date", lambda: referral_form.section_card(
        Section.INCIDENT, {"incident_date": "2020-03-01"},
        _form_view(errors={"incident_date_confirmed": "Confirm the date."}))),
    ("children_card/one", lambda: referral_form.children_card({}, _form_view(child_count=1))),
    ("review_card", lambda: referral_form.review_card(_FILLED_FORM, _form_view(banner="Saved."),
                                                      child_count=MAX_CHILDREN, likely_notifiable=True)),
    ("review_card/error", lambda: referral_form.review_card(
        {}, _form_view(errors={"senior_manager_reviewed": "Confirm."}), child_count=1, likely_notifiable=False)),
    ("cancel_confirm_card", lambda: referral_form.cancel_confirm_card(_form_view())),
    ("saved_card", lambda: referral_form.saved_card(_form_view(), Section.INCIDENT)),
    ("discarded_card", referral_form.discarded_card),
    ("submitted_card", lambda: referral_form.submitted_card(REF, "Child A", likely_notifiable=True,
                                                            channel_bound=False, partnership="Partnership")),
    ("submitted_card/already", lambda: referral_form.submitted_card(
        REF, "Child A", likely_notifiable=False, channel_bound=True, partnership="P", already=True)),
    ("referral_record_card", lambda: referral_record.referral_record_card(_case(2), TZ)),
    ("case_card", lambda: panel.case_card(_summary(), TZ)),
    ("panel_card", lambda: vote_card.panel_card(_panel_view(), TZ)),
    ("panel_card/disagreement", lambda: vote_card.panel_card(_panel_view(disagreement=True), TZ)),
    ("panel_card/decided", lambda: vote_card.panel_card(_panel_view(decided=True), TZ)),
    ("not_a_voter_card", lambda: vote_card.not_a_voter_card(_panel_view(), TZ, vote_card.NOT_A_VOTER)),
    ("member_card", lambda: vote_card.member_card(_panel_view(disagreement=True), TZ, Partner.POLICE,
                                                  message="Vote recorded.", error="Too short.",
                                                  error_field="rationale", typed={"rationale": "short"})),
    ("member_card/error", lambda: vote_card.member_card(_panel_view(), TZ, Partner.HEALTH, error="Closed.")),
    ("member_card/decided", lambda: vote_card.member_card(_panel_view(decided=True), TZ, Partner.POLICE,
                                                          message="The panel has decided.")),
    ("query_card", lambda: vote_card.query_card(_panel_view(), "When?", "Health", 7, error="Too short.",
                                                typed="Soon")),
    ("answered_card", lambda: vote_card.answered_card(REF)),
    ("answer_notice_card", lambda: vote_card.answer_notice_card(_panel_view(), "Health", "Last week.")),
    ("decision_for_referrer_card", lambda: vote_card.decision_for_referrer_card(_panel_view(decided=True), TZ)),
    ("disagreement_prompt_card", lambda: vote_card.disagreement_prompt_card(_panel_view(disagreement=True), TZ,
                                                                            24)),
    *[(f"reminder_card/{kind.value}", lambda kind=kind: clock_cards.reminder_card(_reminder(kind), TZ))
      for kind in ReminderKind],
    ("reminders_digest_card", lambda: clock_cards.reminders_digest_card(
        [replace(_reminder(k), deadline=replace(_reminder(k).deadline, id=n, label=f"Step {n}"))
         for n, k in enumerate(ReminderKind)], TZ)),
    ("escalation_card", lambda: clock_cards.escalation_card(_reminder(ReminderKind.OVERDUE), TZ)),
    ("reminder_card/delayed", lambda: clock_cards.reminder_card(_reminder(ReminderKind.DUE, delayed=True), TZ)),
    ("done_card", lambda: clock_cards.done_card(REF, _deadline(3, status="done", done_on=TODAY), TZ)),
    ("timeline_card", lambda: clock_cards.timeline_card(_timeline(), TZ)),
    ("timeline_card/ask_agencies", lambda: clock_cards.timeline_card(
        SimpleNamespace(**{**vars(_timeline()), "agencies": [], "agencies_to_ask": ["Police", "GP"]}), TZ)),
    ("status_card", lambda: clock_cards.status_card(_status_lines(), 4, TZ)),
    ("status_card/empty", lambda: clock_cards.status_card([], 0, TZ)),
    ("agency_prompt_card", lambda: clock_cards.agency_prompt_card(_summary(), ["GP", "School"], error="Choose.")),
    ("meeting_card", lambda: meeting_cards.meeting_card(_summary(), _meeting(), _deadline(2), TZ,
                                                        "https://bot.example.org/ics/x")),
    ("meeting_card/offline", lambda: meeting_cards.meeting_card(_summary(), _meeting(join=False), None, TZ, None)),
    ("slot_choice_card", lambda: meeting_cards.slot_choice_card(_summary(), _meeting(), TZ)),
    ("problem_card", lambda: meeting_cards.problem_card(_summary(), "No room")),
    ("booking_failed_card", lambda: meeting_cards.booking_failed_card(_summary())),
    ("chair_notes_card", lambda: meeting_cards.chair_notes_card(_case(), _meeting(), TZ, notified_on=TODAY,
                                                                chair="Chris Chair")),
    ("outcome_card", lambda: meeting_cards.outcome_card(_summary(), error="Say who took part.", field="participants",
                                                        typed={"quorum_police": "true"})),
    ("outcome_summary_card", lambda: meeting_cards.outcome_summary_card(_summary(), _outcome())),
    ("outcome_for_referrer_card", lambda: meeting_cards.outcome_for_referrer_card(_summary(), _outcome())),
    ("record_card", lambda: meeting_cards.record_card(_summary(), _outcome())),
    ("record_link_card", lambda: meeting_cards.record_link_card(_summary(), _outcome(),
                                                                "https://bot.example.org/files/once/x", NOW, TZ)),
    ("start_card", lambda: report_cards.start_card(_summary(CaseStatus.MEETING_HELD))),
    ("report_card", lambda: report_cards.report_card(_report_view(), TZ, manages=True, comments=True,
                                                     marking="OFFICIAL-SENSITIVE", error="Too long.",
                                                     field="comment", message="Saved.")),
    ("report_card/sign_off", lambda: report_cards.report_card(_report_view("sign_off", signed=True), TZ,
                                                              manages=True, comments=False, marking="O-S",
                                                              error="Give the date.", field="sent_on")),
    ("report_card/sent", lambda: report_cards.report_card(
        _report_view("sent", status=CaseStatus.REPORT_SUBMITTED), TZ, manages=True, comments=False, marking="O-S")),
    ("report_card/answered", lambda: report_cards.report_card(
        _report_view("sent", status=CaseStatus.REPORT_SUBMITTED, answered=True), TZ, manages=True, comments=False,
        marking="O-S", error="Give the reason.", field="reason")),
    ("report_card/round2", lambda: report_cards.report_card(_report_view(round_=2), TZ, manages=True,
                                                            comments=False, marking="O-S", error="Changed.")),
    ("comment_request_card", lambda: report_cards.comment_request_card(_report_view(), TZ, "OFFICIAL-SENSITIVE")),
    ("edit_card", lambda: report_cards.edit_card(_report_view(), error="Too long.", field="facts_summary",
                                                 typed={"facts_summary": "Short."})),
    ("edit_card/error", lambda: report_cards.edit_card(_report_view(round_=2), error="Changed.")),
    ("sign_off_request_card", lambda: report_cards.sign_off_request_card(_summary(CaseStatus.REPORT_IN_DRAFT))),
    *[(f"notice_card/{what}", lambda what=what: report_cards.notice_card(
        _summary(), what, {"due": NOW.isoformat(), "by": "chair", "complete": True, "on": TODAY.isoformat(),
                           "response": "more_information", "round": 2}, TZ))
      for what in ("started", "comments_in", "final_draft", "signed_off", "sent", "response", "no_further_review",
                   "review_commissioned", "sign_offs_withdrawn")],
    ("submission_link_card", lambda: report_cards.submission_link_card(
        _summary(), "https://bot.example.org/files/once/x", NOW, TZ)),
    ("notes_link_card", lambda: meeting_cards.notes_link_card(_summary(), "https://bot.example.org/files/once/x",
                                                              NOW, TZ)),
    ("inquorate_card", lambda: meeting_cards.inquorate_card(_summary(), typed={"quorum_police": "true"},
                                                            error="Every statutory partner was present.")),
    ("meeting_moved_card", lambda: meeting_cards.meeting_moved_card(_summary(), NOW, _meeting(), TZ)),
    ("meeting_cancelled_card", lambda: meeting_cards.meeting_cancelled_card(_summary(), _meeting(), TZ)),
    ("members_card", lambda: roster.members_card(_members())),
    ("retention_list_card", lambda: retention_cards.retention_list_card(
        [samples.plan(1), samples.plan(2, held=True, action="cancel")], 3, samples.names(), TZ, RetentionPolicy(),
        "OFFICIAL-SENSITIVE")),
    ("erasure_request_card", lambda: retention_cards.erasure_request_card(
        samples.plan(), samples.names(), TZ, RetentionPolicy(), "OFFICIAL-SENSITIVE", reason="Upheld request",
        error="Give the reason.")),
    ("erasure_request_card/held", lambda: retention_cards.erasure_request_card(
        samples.plan(held=True, files=0, action=None), {}, TZ, RetentionPolicy(), "OFFICIAL-SENSITIVE")),
    ("erased_card", lambda: retention_cards.erased_card(samples.record(), TZ, already=False)),
    ("erased_card/already", lambda: retention_cards.erased_card(samples.record(), TZ, already=True)),
    ("tombstone_card", retention_cards.tombstone_card),
    ("holds_card", lambda: retention_cards.holds_card(samples.holds(), TZ)),
    ("holds_card/none", lambda: retention_cards.holds_card([], TZ)),
    ("pathway_card", lambda: pathway_cards.pathway_card(_pathway_view(), TZ, said="Recorded.")),
    ("pathway_card/handed", lambda: pathway_cards.pathway_card(_pathway_view(VoteChoice.PRACTICE_REVIEW,
                                                                             handed=True), TZ)),
    ("pathway_card/challenged", lambda: pathway_cards.pathway_card(_pathway_view(challenged=True), TZ)),
    ("owner_card", lambda: pathway_cards.owner_card(_pathway_view(VoteChoice.ESCALATION, handed=True), TZ)),
    ("referrer_card", lambda: pathway_cards.referrer_card(_pathway_view(), TZ)),
    ("challenged_card", lambda: pathway_cards.challenged_card(_pathway_view(challenged=True), TZ)),
    ("agencies_notice_card", lambda: pathway_cards.agencies_notice_card(
        _pathway_view(), [("Police", "DS Smith"), ("GP / primary care", None)], TZ)),
    ("teller_card", lambda: pathway_cards.teller_card(_pathway_view(), _deadline(9, asks_for_date=True), TZ,
                                                      "OFFICIAL-SENSITIVE")),
    ("letter_link_card", lambda: pathway_cards.letter_link_card(_summary(), "https://bot.example.org/files/once/x",
                                                                NOW, TZ, "OFFICIAL-SENSITIVE")),
    ("message_card", lambda: pathway_cards.message_card(_pathway_message("handover_prompt"), TZ, "OFFICIAL")),
    ("agency_returns_card", lambda: pathway_cards.agency_returns_card(_summary(), [
        (AgencyRequest(id=5, agency="GP", contact=None, sent_at=NOW, returned_at=None, returned_by_name=None), "Pat"),
        (AgencyRequest(id=6, agency="School", contact=None, sent_at=NOW, returned_at=None, returned_by_name=None),
         None)])),
    ("agency_return_card", lambda: pathway_cards.agency_return_card(
        _summary(), AgencyRequest(id=5, agency="GP", contact=None, sent_at=NOW, returned_at=None,
                                  returned_by_name=None), {"involvement": "Seen twice."}, recorded_by="Pat",
        error="Too long.", field="analysis")),
    ("review_actions_card", lambda: review_cards.review_actions_card(_review_view(), TZ)),
    ("review_actions_card/error", lambda: review_cards.review_actions_card(
        _review_view(), TZ, error="Give 3 or 4 key lines of enquiry.", field="lines_of_enquiry",
        typed={"lines_of_enquiry": "One"})),
    ("briefing_link_card", lambda: review_cards.briefing_link_card(REF, "Child A", "https://bot.example.org/files/once/x",
                                                                   NOW, TZ, "OFFICIAL-SENSITIVE")),
    ("with_banner", lambda: training_cards.with_banner(chat.help_card("P"), "Tue 24 Nov 2026", "Laura")),
    ("with_training_help", lambda: training_cards.with_training_help(chat.help_card("P"))),
    ("oversize_card", lambda: budget.oversize_card(vote_card.panel_card(_panel_view(), TZ), "ab12cd34")),
]
# Builders that return a card to send; other public functions of cards/ return parts of cards.
_NOT_CARDS = {"card", "section_card", "status_words", "case_facts", "banner", "inbox_note", "mention_entities", "done_actions",
              "labels_anchor", "escape_for_partnership", "when"}


def test_every_card_builder_is_covered() -> None:
    covered = {name.split("/")[0] for name, _ in CARDS}
    builders = set()
    for info in pkgutil.iter_modules(cards.__path__):
        module = importlib.import_module(f"cards.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_") and (
                    name.endswith("_card") or module is training_cards) and name not in _NOT_CARDS:
                builders.add(name)
    assert builders - covered == set(), "a card builder without a case in CARDS"


# ---- walking a card ---------------------------------------------------------------------------------


def _walk(value: Any, *, skip_refresh: bool = True) -> Iterator[dict[str, Any]]:
    """Every element, in reading order (the `refresh` action is never shown, so it is skipped;
    an action's `fallback` is the same button for older clients, so it is walked too)."""
    if isinstance(value, dict):
        yield value
        for key, item in value.items():
            if skip_refresh and key == "refresh":
                continue
            yield from _walk(item, skip_refresh=skip_refresh)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, skip_refresh=skip_refresh)


def _type(element: dict[str, Any]) -> str:
    return str(element.get("type", ""))


def _is_action(element: dict[str, Any]) -> bool:
    return _type(element).startswith("Action.")


def _texts(element: Any) -> list[str]:
    return [str(e.get("text", "")) for e in _walk(element) if _type(e) in ("TextBlock", "TextRun")]


def _cards_within(card: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The card and the cards of its Action.ShowCard buttons (each is validated on its own)."""
    for element in _walk(card):
        if _type(element) == "AdaptiveCard":
            yield element


@pytest.fixture(params=CARDS, ids=[name for name, _ in CARDS])
def built(request: pytest.FixtureRequest) -> dict[str, Any]:
    _, build = request.param
    return build()


# ---- inputs -------------------------------------------------------------------------------------------


def test_every_input_has_a_label_and_required_inputs_say_so(built: dict[str, Any]) -> None:
    explains_star = any("marked * are required" in t for t in _texts(built))
    for element in _walk(built):
        if not _type(element).startswith("Input."):
            continue
        label = str(element.get("label") or "").strip()
        assert label, f"{element['id']}: no label (a placeholder is not read as one)"
        if element.get("isRequired"):
            assert str(element.get("errorMessage") or "").strip(), f"{element['id']}: required, no errorMessage"
        elif label.endswith("*"):
            assert explains_star, f"{element['id']}: marked * on a card that does not say what * means"
        if _type(element) == "Input.ChoiceSet":
            assert all(str(c.get("title", "")).strip() for c in element["choices"]), element["id"]


def test_required_inputs_are_declared_not_only_drawn(built: dict[str, Any]) -> None:
    """Only the form's later children carry a drawn "*" instead of isRequired (Teams would otherwise
    block "Remove child 2" on an empty child 2); the server checks them."""
    drawn = {e["id"] for e in _walk(built) if _type(e).startswith("Input.") and not e.get("isRequired")
             and str(e.get("label", "")).endswith("*")}
    assert all(re.fullmatch(r"c[2-9]_\w+", i) for i in drawn), drawn


# ---- images and actions -----------------------------------------------------------------------------


def test_every_image_has_alt_text(built: dict[str, Any]) -> None:
    for element in _walk(built):
        if _type(element) == "Image":
            assert str(element.get("altText") or "").strip(), element.get("url")
        if "backgroundImage" in element:
            pytest.fail("a background image carries meaning no screen reader can read")


_VAGUE = {"open", "link", "here", "click here", "more", "go", "view", "download", "url"}


def test_every_action_has_a_title_and_links_say_where_they_go(built: dict[str, Any]) -> None:
    for element in _walk(built):
        if not _is_action(element):
            continue
        title = str(element.get("title") or "").strip()
        assert title, f"{_type(element)} without a title (icon-only buttons have no accessible name)"
        if _type(element) == "Action.OpenUrl":
            assert title.lower() not in _VAGUE and len(title.split()) >= 2, f"OpenUrl title says too little: {title}"


def _own_buttons(card: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The buttons a card shows itself: not those of the cards its Action.ShowCard opens, and
    not the Action.Submit fallbacks (the same button for older clients)."""
    def walk(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            if _is_action(value) and value.get("type") != "Action.Submit":
                yield value
            for key, item in value.items():
                if key not in ("card", "fallback", "refresh"):
                    yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    yield from walk(card)


def test_buttons_with_the_same_title_on_one_card_say_which_is_which(built: dict[str, Any]) -> None:
    """WCAG 2.4.6: a screen-reader user listing a card's buttons hears their names; where a
    title repeats ("Edit", "Mark done"), the tooltip (read as the description) tells them apart."""
    for one in _cards_within(built):
        by_title: dict[str, list[str]] = {}
        for button in _own_buttons(one):
            by_title.setdefault(button["title"], []).append(str(button.get("tooltip", "")))
        for title, tooltips in by_title.items():
            if len(tooltips) > 1:
                assert all(tooltips) and len(set(tooltips)) == len(tooltips), \
                    f"{len(tooltips)} buttons titled {title!r}: give each a tooltip that tells them apart"


def test_a_selectable_container_is_named_by_everything_it_shows(built: dict[str, Any]) -> None:
    """A container with a selectAction is one button to a screen reader, named by the action's
    title (its own text is not read), so the title carries the container's words."""
    for element in _walk(built):
        action = element.get("selectAction") if _type(element) == "Container" else None
        if action:
            title = action["title"]
            for text in _texts(element):
                words = plain_text(text).strip("🔴🟠🟢 ")
                assert words in title, (words, title)


# ---- colour -------------------------------------------------------------------------------------------

_STATUS_COLOURS = {"good", "warning", "attention"}
_MARKS = {"🔴": "Overdue", "🟠": "Due soon", "🟢": "On track", "🟡": "Due soon"}
_WORDS = re.compile(r"[A-Za-z]{2,}")


def test_status_is_never_shown_by_colour_alone(built: dict[str, Any]) -> None:
    for element in _walk(built):
        kind = _type(element)
        if kind in ("TextBlock", "TextRun") and str(element.get("color", "")).lower() in _STATUS_COLOURS:
            assert _WORDS.search(plain_text(element["text"])), f"coloured text without words: {element['text']!r}"
        if kind == "Container" and str(element.get("style", "")).lower() in _STATUS_COLOURS:
            assert any(_WORDS.search(t) for t in _texts(element)), "a coloured container without words"
    # A RAG mark is a colour too: its word goes with it, in the same row or container.
    for text, group in _texts_with_group(built, built):
        for mark, word in _MARKS.items():
            if mark in text:
                near = " ".join(_texts(group)).lower()
                assert word.lower() in near, f"{mark} without {word!r}: {text!r}"


def _texts_with_group(value: Any, group: Any) -> Iterator[tuple[str, Any]]:
    """Each text with the innermost Container or ColumnSet (a row) around it."""
    if isinstance(value, dict):
        if _type(value) in ("Container", "ColumnSet"):
            group = value
        if _type(value) in ("TextBlock", "TextRun"):
            yield str(value.get("text", "")), group
        for item in value.values():
            yield from _texts_with_group(item, group)
    elif isinstance(value, list):
        for item in value:
            yield from _texts_with_group(item, group)


def test_the_status_card_names_each_rag_in_words() -> None:
    shown = " ".join(_texts(clock_cards.status_card(_status_lines(), 4, TZ)))
    for word in clock_cards.RAG_WORDS.values():
        assert word in shown
    assert set(clock_cards.RAG_WORDS) == set(clock_cards.RAG_MARK) == set(Rag)


# ---- headings and reading order -----------------------------------------------------------------------

_WHOLLY_BOLD = re.compile(r"\*\*[^*]+\*\*[.:]?")
_LARGE = {"medium", "large", "extralarge"}


def test_headings_are_marked_as_headings(built: dict[str, Any]) -> None:
    headings = [e for e in _walk(built) if _type(e) == "TextBlock" and e.get("style") == "heading"]
    assert headings, "no heading: screen-reader users cannot jump to the card"
    for element in _walk(built):
        if _type(element) != "TextBlock" or element.get("style") == "heading":
            continue
        text = str(element.get("text", "")).strip()
        looks_like_one = _WHOLLY_BOLD.fullmatch(text) or (
            str(element.get("size", "")).lower() in _LARGE and element.get("weight") == "Bolder")
        assert not looks_like_one, f"looks like a heading but is not marked as one: {text!r}"


def test_columns_do_not_read_labels_apart_from_their_values(built: dict[str, Any]) -> None:
    """A ColumnSet is read column by column. One row per ColumnSet (a label and its value, or a
    title and its button) reads in order; columns of several texts each would read every label
    before any value. Pairs go in a FactSet or as a label above its value."""
    for element in _walk(built):
        if _type(element) != "ColumnSet":
            continue
        stacked = [c for c in element["columns"]
                   if sum(_type(e) in ("TextBlock", "RichTextBlock") for e in _walk(c["items"])) > 1]
        assert len(stacked) < 2, "a ColumnSet of stacked columns reads out of order"


# ---- speak --------------------------------------------------------------------------------------------


def test_the_card_speaks_its_heading(built: dict[str, Any]) -> None:
    first = next(e for e in _walk(built) if _type(e) == "TextBlock" and e.get("style") == "heading")
    assert built.get("speak") == plain_text(first["text"])
    assert not re.search(r"[*_<>&\\]", built["speak"]), built["speak"]


def test_plain_text_reads_our_markdown_as_words() -> None:
    assert plain_text(r"**Overdue** by 2 days: Step\_1 \<b\> & co") == "Overdue by 2 days: Step_1 b and co"
