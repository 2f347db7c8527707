"""Text that came from a person or from Teams is text on every card: it never makes bold
text, a link or a mention (cards/common.py). Every card builder of
tests/unit/test_card_accessibility.py is built again here with a hostile value in every
name and free-text field, and every Markdown-capable text (TextBlock text, FactSet title
and value) is checked. TextRuns (`literal`) are not parsed as Markdown, so they may
carry the text as typed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from bot.domain.case import Case
from bot.domain.meeting import MeetingOutcome
from bot.domain.partnership import Partner, Role
from bot.domain.referral import MAX_CHILDREN, Section
from bot.domain.reminders import ReminderKind
from bot.domain.retention import RetentionPolicy
from bot.services.panel import PanelView, ShownVote
from bot.services.ports import MemberRecord, QueryRecord, StatusRow
from bot.services.reminder_view import Mention
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
from tests.conftest import make_referral
from tests.support import retention_samples as samples
from tests.unit import test_card_accessibility as a11y

H = "**bold** [x](https://evil.example) <at>Pat</at> _i_ # h"
TZ, REF, NOW, TODAY = a11y.TZ, a11y.REF, a11y.NOW, a11y.TODAY


# ---- hostile fixtures (the accessibility test's, with user text replaced) -----------------------


def _summary() -> Any:
    return a11y._summary().model_copy(update={"referring_agency": H, "referrer_name": H})


def _case(children: int = 1) -> Case:
    r = make_referral(child_name=H, location=H, family=H, agency=H)
    r = r.model_copy(update={
        "referrer": r.referrer.model_copy(update={"name": H, "job_title": H, "discussed_with": H, "telephone": H,
                                                  "lead_name": H, "lead_role": H, "lead_contact": H}),
        "incident": r.incident.model_copy(update={"summary": H, "other_areas": H}),
        "views": r.views.model_copy(update={"meets_criteria": H, "worked_well": H, "not_worked_well": H,
                                            "key_issues": H, "family_not_consulted_reason": H,
                                            "family_involvement": H, "family_facilitator": H}),
    })
    child = r.children.children[0].model_copy(update={"disability": H, "ethnicity": H, "current_location": H})
    r = r.model_copy(update={"children": r.children.model_copy(update={"children": [child] * children})})
    return Case(summary=_summary(), referral=r, aware_date=TODAY)


def _vote(partner: Partner, choice: Any = None) -> ShownVote:
    vote = a11y._vote(partner) if choice is None else a11y._vote(partner, choice)
    return replace(vote, voter_name=H, organisation=H, rationale=H, serious_harm_basis=H)


def _panel_view(*, decided: bool = False, disagreement: bool = False) -> PanelView:
    view = a11y._panel_view(decided=decided, disagreement=disagreement)
    query = QueryRecord(id=7, case_id="case-1", round=1, partner=Partner.HEALTH, asked_by_aad_id="nina",
                        asked_by_name=H, question=H, status="open", asked_at=NOW)
    votes = {p: _vote(p, v.choice) for p, v in view.votes.items()}
    return replace(view, case=view.case.model_copy(update={"referring_agency": H, "referrer_name": H}), votes=votes,
                   open_queries=[query] if view.open_queries else [])


def _form_view(**changes: Any) -> referral_form.FormView:
    return a11y._form_view(agencies=(H, "Health"), **changes)


_FORM = {
    "referrer": {"agency": H, "name": H, "email": H, "job_title": H, "telephone": H, "discussed_with": H,
                 "lead_name": H, "lead_role": H, "lead_contact": H},
    "pathway": {"pathway": "A"},
    "incident": {"incident_date": "2026-11-20", "incident_location": H, "outcome": "died", "summary": H,
                 "other_areas": H, "la_aware_date": "2026-11-21"},
    "children": {"c1_name": H, "c1_disability": H, "c1_ethnicity": H, "c1_current_location": H,
                 "c2_estimated_age": "7", "family_members": H},
    "views": {"meets_criteria": H, "worked_well": H, "not_worked_well": H, "key_issues": H, "family_consulted": "no",
              "family_not_consulted_reason": H, "key_worker_consulted": "no", "key_worker_not_consulted_reason": H,
              "family_involvement": H, "family_facilitator": H},
}
_ERRORS = {"name": H, "c1_name": H, "incident_date": H, "__form__": H}


def _meeting(*, join: bool = True) -> Any:
    m = a11y._meeting(join=join)
    attendees = [{"name": H, "partner": p.value} for p in Partner] + [{"name": H, "role": "chair"}]
    options = [{**o, "busy": [H], "availability_unknown": [H]} for o in m.options]
    return replace(m, attendees=attendees, options=options)


def _outcome() -> MeetingOutcome:
    return a11y._outcome().model_copy(update={"rationale": H, "participants": H, "immediate_actions": H,
                                              "learning": H, "agencies_involved": H, "agencies_absent": H})


def _reminder(kind: ReminderKind, *, delayed: bool = False) -> Any:
    return replace(a11y._reminder(kind, delayed=delayed), case=_summary(), mentions=[Mention(H, "pat")],
                   outstanding_agencies=[H])


def _timeline() -> Any:
    t = a11y._timeline()
    t.case.summary = _summary()
    t.deadlines = [replace(d, done_by_name=H if d.done_by_name else None) for d in t.deadlines]
    t.agencies = [replace(r, agency=H, contact=H, returned_by_name=H if r.returned_by_name else None)
                  for r in t.agencies]
    return t


def _status_lines() -> list[Any]:
    return [replace(line, row=StatusRow(line.row.reference, line.row.pseudonym, line.row.status,
                                        line.row.next_due_at, H)) for line in a11y._status_lines()]


def _members() -> list[MemberRecord]:
    return [MemberRecord(role=Role.PANEL, name=H, partner=Partner.POLICE, organisation=H),
            MemberRecord(role=Role.CHAIR, name=H, source="teams"),
            MemberRecord(role=Role.MANAGER, name=H, organisation=H)]


def _deadline(status: str = "done") -> Any:
    return replace(a11y._deadline(3, status=status, done_on=TODAY), done_by_name=H)


def _pathway_view(**kw: Any) -> Any:
    """After the decision, every name and text typed as hostile Markdown."""
    from dataclasses import replace

    from bot.domain.pathways import Challenge, FamilyStep
    from bot.services.pathways import Person

    view = a11y._pathway_view(**kw)
    return replace(
        view, case=view.case.model_copy(update={"referring_agency": H}), people=[Person("p", H)], agencies=[H],
        handover=view.handover.model_copy(update={"owner_name": H, "confirmed_by": H, "recorded_by": H})
        if view.handover else None,
        challenge=Challenge(agency=H, reason=H + " and more text") if kw.get("challenged") else None,
        family=FamilyStep(teller_aad_id="t", teller_name=H, tell_by=TODAY, agreed_by=H, agreed_at=NOW.isoformat()),
        agencies_told={"by": H})


def _request() -> Any:
    from bot.services.ports import AgencyRequest

    return AgencyRequest(id=5, agency=H, contact=H, sent_at=NOW, returned_at=None, returned_by_name=H)
def _report_view(stage: str = "draft", **kw: Any) -> Any:
    from bot.domain.report import ITEM_KEYS, Comment, SignOff

    shown = a11y._report_view(stage, **kw)
    signed = SignOff(aad="x", name=H, at=NOW)
    report = shown.report.model_copy(update={
        "fields": {key: H for key in ITEM_KEYS}, "started_by": H, "closure_reason": H, "closed_by": H,
        "comments": [Comment(author_aad="a", author_name=H, seat="police", text=H, at=NOW)],
        "chair_sign_off": signed, "manager_sign_off": signed,
        "answers": [a.model_copy(update={"asked_for": H, "by_name": H}) for a in shown.report.answers]})
    return replace(shown, case=_case(), report=report, deciders=[H])


CARDS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("welcome_card", lambda: chat.welcome_card(H, in_progress=True)),
    ("help_card", lambda: chat.help_card(H, in_progress=True, unknown=H, waiting_posts=2)),
    ("channel_welcome_card", lambda: chat.channel_welcome_card(H)),
    ("channel_help_card", chat.channel_help_card),
    ("channel_bound_card", lambda: chat.channel_bound_card(2)),
    ("my_referrals_card", lambda: chat.my_referrals_card([_summary()], TZ, in_progress=True)),
    ("text_card", lambda: chat.text_card("Meeting booked", "RR-2026-0001: Tue 24 Nov")),
    ("notification_summary_card", lambda: chat.notification_summary_card(_case(2), TZ, TODAY)),
    ("flag_card", lambda: duplicate_cards.flag_card(_summary(), _summary())),
    ("answered_card", lambda: duplicate_cards.answered_card(_summary(), _summary(), "linked")),
    ("timeliness_sent_card", lambda: file_cards.timeliness_sent_card(a11y._timeliness(), "timeliness-2026", H)),
    ("export_link_card", lambda: chat.export_link_card(REF, "https://bot.example.org/files/once/x", NOW, TZ, H)),
    ("offer_sent_card", lambda: file_cards.offer_sent_card(REF, "case_export", chat.EXPORT_LINK, H)),
    ("link_card", lambda: file_cards.link_card(REF, "chair_notes", "https://bot.example.org/files/once/x", NOW, TZ,
                                               meeting_cards.NOTES_LINK, H)),
    ("not_sent_card", lambda: file_cards.not_sent_card(REF, "case_export", chat.EXPORT_LINK, "Declined.")),
    *[(f"{s.value}_card", lambda s=s: referral_form.section_card(
        s, _FORM.get(s.value, {}), _form_view(errors=_ERRORS, editing_from_review=True)))
      for s in Section if s is not Section.REVIEW],
    ("review_card", lambda: referral_form.review_card(_FORM, _form_view(), child_count=MAX_CHILDREN,
                                                      likely_notifiable=True)),
    ("cancel_confirm_card", lambda: referral_form.cancel_confirm_card(_form_view())),
    ("saved_card", lambda: referral_form.saved_card(_form_view(), Section.INCIDENT)),
    ("discarded_card", referral_form.discarded_card),
    ("submitted_card", lambda: referral_form.submitted_card(REF, "Child A", likely_notifiable=True,
                                                            channel_bound=False, partnership=H)),
    ("referral_record_card", lambda: referral_record.referral_record_card(_case(2), TZ)),
    ("case_card", lambda: panel.case_card(_summary(), TZ)),
    ("panel_card", lambda: vote_card.panel_card(_panel_view(), TZ)),
    ("panel_card/disagreement", lambda: vote_card.panel_card(_panel_view(disagreement=True), TZ)),
    ("panel_card/decided", lambda: vote_card.panel_card(_panel_view(decided=True), TZ)),
    ("not_a_voter_card", lambda: vote_card.not_a_voter_card(_panel_view(), TZ, vote_card.NOT_A_VOTER)),
    ("member_card", lambda: vote_card.member_card(_panel_view(disagreement=True), TZ, Partner.POLICE,
                                                  message=H, error=H, typed={"rationale": H, "question": H})),
    ("member_card/decided", lambda: vote_card.member_card(_panel_view(decided=True), TZ, Partner.POLICE, error=H)),
    ("query_card", lambda: vote_card.query_card(_panel_view(), H, f"Health ({H})", 7, error=H, typed=H)),
    ("answered_card", lambda: vote_card.answered_card(REF)),
    ("answer_notice_card", lambda: vote_card.answer_notice_card(_panel_view(), H, H)),
    ("decision_for_referrer_card", lambda: vote_card.decision_for_referrer_card(_panel_view(decided=True), TZ)),
    ("disagreement_prompt_card", lambda: vote_card.disagreement_prompt_card(_panel_view(disagreement=True), TZ,
                                                                            24)),
    *[(f"reminder_card/{kind.value}", lambda kind=kind: clock_cards.reminder_card(_reminder(kind), TZ))
      for kind in ReminderKind],
    ("reminders_digest_card", lambda: clock_cards.reminders_digest_card(
        [replace(_reminder(k), deadline=replace(_reminder(k).deadline, id=n, label=f"Step {n}"))
         for n, k in enumerate(ReminderKind)], TZ)),
    ("escalation_card", lambda: clock_cards.escalation_card(_reminder(ReminderKind.OVERDUE), TZ)),
    ("done_card", lambda: clock_cards.done_card(REF, _deadline(), TZ)),
    ("timeline_card", lambda: clock_cards.timeline_card(_timeline(), TZ)),
    ("status_card", lambda: clock_cards.status_card(_status_lines(), 4, TZ)),
    ("agency_prompt_card", lambda: clock_cards.agency_prompt_card(_summary(), [H, "School"], error=H)),
    ("meeting_card", lambda: meeting_cards.meeting_card(_summary(), _meeting(), a11y._deadline(2), TZ,
                                                        "https://bot.example.org/ics/x")),
    ("slot_choice_card", lambda: meeting_cards.slot_choice_card(_summary(), _meeting(), TZ)),
    ("problem_card", lambda: meeting_cards.problem_card(_summary(), H)),
    ("booking_failed_card", lambda: meeting_cards.booking_failed_card(_summary())),
    ("chair_notes_card", lambda: meeting_cards.chair_notes_card(_case(), _meeting(), TZ, chair=H)),
    ("outcome_card", lambda: meeting_cards.outcome_card(_summary(), error=H, field="participants",
                                                        typed={"rationale": H, "participants": H})),
    ("outcome_card/unplaced_error", lambda: meeting_cards.outcome_card(_summary(), error=H)),
    ("outcome_summary_card", lambda: meeting_cards.outcome_summary_card(_summary(), _outcome())),
    ("outcome_for_referrer_card", lambda: meeting_cards.outcome_for_referrer_card(_summary(), _outcome())),
    ("record_card", lambda: meeting_cards.record_card(_summary(), _outcome())),
    ("record_link_card", lambda: meeting_cards.record_link_card(_summary(), _outcome(),
                                                                "https://bot.example.org/files/once/x", NOW, TZ)),
    ("start_card", lambda: report_cards.start_card(_summary())),
    ("report_card", lambda: report_cards.report_card(_report_view(), TZ, manages=True, comments=True, marking=H,
                                                     error=H, field="comment", typed={"comment": H}, message=H)),
    ("report_card/sent", lambda: report_cards.report_card(
        _report_view("sent", status=a11y.CaseStatus.REPORT_SUBMITTED, answered=True, closed=True), TZ, manages=True,
        comments=False, marking=H, error=H)),
    ("edit_card", lambda: report_cards.edit_card(_report_view(round_=2), error=H, typed={"facts_summary": H})),
    ("comment_request_card", lambda: report_cards.comment_request_card(_report_view(), TZ, H)),
    ("sign_off_request_card", lambda: report_cards.sign_off_request_card(_summary())),
    ("notice_card", lambda: report_cards.notice_card(_summary(), "signed_off", {"by": H}, TZ)),
    ("submission_link_card", lambda: report_cards.submission_link_card(_summary(), "https://x.example.org/f", NOW,
                                                                       TZ)),
    ("notes_link_card", lambda: meeting_cards.notes_link_card(_summary(), "https://bot.example.org/files/once/x",
                                                              NOW, TZ)),
    ("inquorate_card", lambda: meeting_cards.inquorate_card(_summary(), error=H)),
    ("meeting_moved_card", lambda: meeting_cards.meeting_moved_card(_summary(), NOW, _meeting(), TZ)),
    ("meeting_cancelled_card", lambda: meeting_cards.meeting_cancelled_card(_summary(), _meeting(), TZ)),
    ("members_card", lambda: roster.members_card(_members())),
    ("pathway_card", lambda: pathway_cards.pathway_card(_pathway_view(challenged=True), TZ, said=H)),
    ("pathway_card/handed", lambda: pathway_cards.pathway_card(_pathway_view(handed=True), TZ)),
    ("owner_card", lambda: pathway_cards.owner_card(_pathway_view(handed=True), TZ)),
    ("referrer_card", lambda: pathway_cards.referrer_card(_pathway_view(handed=True), TZ)),
    ("challenged_card", lambda: pathway_cards.challenged_card(_pathway_view(challenged=True), TZ)),
    ("agencies_notice_card", lambda: pathway_cards.agencies_notice_card(_pathway_view(), [(H, H)], TZ)),
    ("teller_card", lambda: pathway_cards.teller_card(_pathway_view(), None, TZ, "OFFICIAL-SENSITIVE")),
    ("letter_link_card", lambda: pathway_cards.letter_link_card(_summary(), "https://bot.example.org/x", NOW, TZ,
                                                                "OFFICIAL-SENSITIVE")),
    ("message_card", lambda: pathway_cards.message_card(
        __import__("bot.services.pathways", fromlist=["PathwayMessage"]).PathwayMessage(
            "challenged", _pathway_view(challenged=True)), TZ, "OFFICIAL")),
    ("agency_returns_card", lambda: pathway_cards.agency_returns_card(_summary(), [(_request(), H)])),
    ("agency_return_card", lambda: pathway_cards.agency_return_card(_summary(), _request(), {"involvement": H},
                                                                    recorded_by=H, error=H, field="analysis")),
    ("review_actions_card", lambda: review_cards.review_actions_card(a11y._review_view(lambda n: H, H), TZ)),
    ("briefing_link_card", lambda: review_cards.briefing_link_card(REF, "Child A", "https://bot.example.org/x", NOW,
                                                                   TZ, H)),
    ("with_banner", lambda: training_cards.with_banner(chat.help_card(H), "Tue 24 Nov 2026", H)),
    ("with_training_help", lambda: training_cards.with_training_help(chat.help_card(H))),
    ("oversize_card", lambda: budget.oversize_card(vote_card.panel_card(_panel_view(), TZ), "ab12cd34")),
    ("retention_list_card", lambda: retention_cards.retention_list_card(
        [samples.plan(held=True, name=H)], 1, samples.names(2, H), TZ, RetentionPolicy(), H)),
    ("erasure_request_card", lambda: retention_cards.erasure_request_card(
        samples.plan(), samples.names(2, H), TZ, RetentionPolicy(), H, reason=H, error=H)),
    ("erased_card", lambda: retention_cards.erased_card(
        replace(samples.record(), confirmed_by_name=H), TZ, already=True)),
    ("tombstone_card", retention_cards.tombstone_card),
    ("holds_card", lambda: retention_cards.holds_card(samples.holds(2, H), TZ)),
    ("inbox_note", lambda: {"type": "AdaptiveCard", "body": [training_cards.inbox_note(H, "Tue 24 Nov")]}),
]


def test_every_card_builder_is_built_with_hostile_text() -> None:
    covered = {name.split("/")[0] for name, _ in CARDS}
    assert {name.split("/")[0] for name, _ in a11y.CARDS} - covered == set()


def _markdown_texts(value: Any) -> list[str]:
    """The texts a client parses as Markdown: TextBlock text, FactSet titles and values."""
    texts: list[str] = []
    for element in a11y._walk(value, skip_refresh=False):
        if element.get("type") == "TextBlock":
            texts.append(str(element.get("text", "")))
        elif element.get("type") == "FactSet":
            texts += [str(f.get(k, "")) for f in element["facts"] for k in ("title", "value")]
    return texts


# A mark is unescaped when an even number of backslashes (none included) comes before it.
_UNESCAPED = r"(?<!\\)(?:\\\\)*"
_UNESCAPED_LINK = re.compile(_UNESCAPED + r"\]\(")
_UNESCAPED_MENTION = re.compile(_UNESCAPED + r"</?at" + _UNESCAPED + r">", re.IGNORECASE)
_UNESCAPED_EMPHASIS = re.compile(_UNESCAPED + r"(?:\*bold|\*\*bold|_i)")


def _intended_mentions(value: dict[str, Any]) -> list[str]:
    return [str(e["text"]) for e in value.get("msteams", {}).get("entities", []) if e.get("type") == "mention"]


@pytest.mark.parametrize("build", [b for _, b in CARDS], ids=[n for n, _ in CARDS])
def test_user_text_makes_no_formatting_link_or_mention(build: Callable[[], dict[str, Any]]) -> None:
    built = build()
    mentions = _intended_mentions(built)
    for text in _markdown_texts(built):
        for tag in mentions:  # the bot's own mentions (reminders), made from cleaned names
            text = text.replace(tag, "")
        assert not _UNESCAPED_LINK.search(text), f"a link from user text: {text!r}"
        assert not _UNESCAPED_MENTION.search(text), f"a mention from user text: {text!r}"
        assert not _UNESCAPED_EMPHASIS.search(text), f"emphasis from user text: {text!r}"


def test_the_voter_name_is_shown_escaped_to_the_referrer() -> None:
    built = vote_card.decision_for_referrer_card(_panel_view(decided=True), TZ)
    texts = _markdown_texts(built)
    assert any(r"\*\*bold\*\* \[x\](https://evil.example) \<at\>Pat\</at\> \_i\_" in t for t in texts), texts


def test_mentions_are_made_only_from_cleaned_names() -> None:
    built = clock_cards.reminder_card(_reminder(ReminderKind.OVERDUE), TZ)
    for tag in _intended_mentions(built):
        inner = tag.removeprefix("<at>").removesuffix("</at>")
        assert not set(inner) & set("<>*_`[]~|\\"), tag


def test_user_text_in_a_text_run_is_kept_as_typed() -> None:
    """RichTextBlock TextRuns are not parsed: the rationale keeps what was typed, unescaped."""
    built = vote_card.decision_for_referrer_card(_panel_view(decided=True), TZ)
    runs = [e["text"] for e in a11y._walk(built) if e.get("type") == "TextRun"]
    assert H in runs
