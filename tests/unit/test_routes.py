"""The route table (bot/turns/routes.py) against the cards: every verb a card emits has
exactly one route, no route is without a card, and each route's inputs are the inputs the
card renders for that button. Also: reading a press (cards/actions.py), the separate id
keys and the `q` of cards posted before them.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import replace
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import cards
from bot.domain.case import CaseStatus, CaseSummary, IncidentKind
from bot.domain.partnership import Partner
from bot.domain.referral import MAX_CHILDREN, PathwaySought, Section
from bot.domain.reminders import ReminderKind
from bot.domain.retention import RetentionPolicy
from bot.domain.votes import VoteChoice
from bot.services.deadlines import StatusLine
from bot.services.panel import PanelView
from bot.services.ports import AgencyRequest, DeadlineRow, MeetingRecord, QueryRecord, StatusRow
from bot.services.reminder_view import Mention, ReminderView
from bot.turns.routes import Route, card_routes
from cards import actions as cards_actions
from cards import (
    chat,
    clock_cards,
    duplicate_cards,
    file_cards,
    meeting_cards,
    pathway_cards,
    report_cards,
    retention_cards,
    review_cards,
    vote_card,
)
from cards import panel as case_card
from cards import referral_form as form
from cards.actions import META_KEYS, VERBS, BadCardData, parse_press
from cards.common import ACTION_ID, AGENCY_REQUEST_ID, LEGACY_ID, QUERY_ID, STEP_ID
from tests.support import retention_samples as samples

TZ = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class _Anything:
    """Stands in for the handlers' owners: the table is built from their bound methods."""

    def __getattr__(self, name: str) -> Any:
        async def handler(*_: Any) -> None:
            return None

        handler.__name__ = name
        return handler


def routes() -> tuple[Route, ...]:
    return card_routes(_Anything(), _Anything(), _Anything(), _Anything(), _Anything(),  # type: ignore[arg-type]
                       _Anything(), _Anything(), _Anything(), _Anything())


# ---- what the card modules emit, read from their source -----------------------------------------


def _card_modules() -> list[Any]:
    return [importlib.import_module(f"cards.{m.name}") for m in pkgutil.iter_modules(cards.__path__)]


def emitted_verbs() -> dict[str, set[str]]:
    """verb → the card modules whose source builds an action with it: every `execute(…)`
    call's verb and every literal action dict's "verb"."""
    found: dict[str, set[str]] = {}
    for module in _card_modules():
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())  # noqa: PTH123, SIM115
        for node in ast.walk(tree):
            verb_node = None
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "execute" and len(node.args) >= 2:
                verb_node = node.args[1]
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "verb":
                        verb_node = value
            if verb_node is None:
                continue
            if isinstance(verb_node, ast.Constant):
                verb = verb_node.value
            elif isinstance(verb_node, ast.Name) and isinstance(getattr(module, verb_node.id, None), str):
                verb = getattr(module, verb_node.id)
            else:  # a builder's parameter (cards/common.py)
                continue
            found.setdefault(verb, set()).add(module.__name__)
    return found


# ---- what the cards render, built from fixtures -------------------------------------------------


def _summary(status: CaseStatus = CaseStatus.DECIDED) -> CaseSummary:
    return CaseSummary(id="case-1", reference=REF, pseudonym="Child A", status=status,
                       pathway_sought=PathwaySought.RAPID_REVIEW_SCREENING, incident_kind=IncidentKind.SERIOUS_HARM,
                       incident_date=date(2026, 11, 20), referring_agency="Police", likely_notifiable=True,
                       received_at=NOW, referrer_aad_id="referrer", referrer_name="Riley Referrer")


def _deadline(id_: int, *, asks_for_date: bool, status: str = "open", records: str | None = None) -> DeadlineRow:
    return DeadlineRow(id=id_, case_id="case-1", step_id=f"step{id_}", label=f"Step {id_}", owner="la",
                       anchor="decided", anchor_at=NOW, due_at=NOW, earliest_at=None, is_window=False,
                       asks_for_date=asks_for_date, records=records, plan={}, source="test", position=id_,
                       status=status, next_reminder_at=None, last_reminder_at=None, done_at=None, done_on=None,
                       done_by_name=None)


def _panel_view() -> PanelView:
    query = QueryRecord(id=7, case_id="case-1", round=1, partner=Partner.HEALTH, asked_by_aad_id="nina",
                        asked_by_name="Nina", question="When?", status="open", asked_at=NOW)
    return PanelView(case=_summary(CaseStatus.REFERRED), round=2, votes={}, decision=None, open_queries=[query],
                     answered_queries=[], notify_by=None, aware_date_known=True, panel_user_ids=["29:a"])


def _form_view() -> form.FormView:
    return form.FormView(draft_id="draft-1", version=3, today=date(2026, 11, 24), agencies=("Police",),
                         child_count=MAX_CHILDREN)


def _timeliness() -> Any:
    from tests.unit.test_card_accessibility import _timeliness as built

    return built()


def rendered_cards() -> list[dict[str, Any]]:
    summary, view = _summary(), _panel_view()
    meeting = MeetingRecord(case_id="case-1", status="booked", attempt=1, transaction_id="t", provider="graph",
                            start_at=NOW, end_at=NOW, options=[{"start": NOW.isoformat(), "end": NOW.isoformat()}])
    timeline = SimpleNamespace(case=SimpleNamespace(summary=summary), today=date(2026, 11, 24),
                               deadlines=[_deadline(1, asks_for_date=True), _deadline(2, asks_for_date=False),
                                          _deadline(3, asks_for_date=True, records="national_panel_notified")],
                               agencies=[AgencyRequest(id=5, agency="GP", contact=None, sent_at=NOW, returned_at=None,
                                                       returned_by_name=None)],
                               provisional=False, not_working={}, meeting=meeting, now=NOW)
    reminder = ReminderView(case=summary, deadline=_deadline(1, asks_for_date=True), kind=ReminderKind.DUE,
                            delayed=False, mentions=[Mention("Pat", "pat")], working_days=0)
    status = StatusLine(row=StatusRow(REF, "Child A", "decided", NOW, "Step 1"), rag=None, working_days_left=1)
    fv = _form_view()
    return [
        chat.welcome_card("Partnership"), chat.help_card("Partnership"),
        *(form.section_card(s, {}, fv) for s in Section if s is not Section.REVIEW),
        form.children_card({}, replace(fv, child_count=1)),
        form.incident_card({"incident_date": "2020-03-01"}, fv),  # with the date confirmation
        form.review_card({}, fv, child_count=MAX_CHILDREN, likely_notifiable=True),
        form.cancel_confirm_card(fv), form.saved_card(fv, Section.INCIDENT),
        case_card.case_card(summary, TZ),
        vote_card.panel_card(view, TZ), vote_card.member_card(view, TZ, Partner.POLICE),
        vote_card.query_card(view, "When?", "Health", 7),
        clock_cards.reminder_card(reminder, TZ), clock_cards.timeline_card(timeline, TZ),  # type: ignore[arg-type]
        clock_cards.status_card([status], 1, TZ), clock_cards.done_card(REF, _deadline(1, asks_for_date=True), TZ),
        clock_cards.agency_prompt_card(summary, ["Police", "GP"]),
        meeting_cards.meeting_card(summary, meeting, None, TZ, None),
        meeting_cards.slot_choice_card(summary, meeting, TZ), meeting_cards.problem_card(summary, "No room"),
        meeting_cards.outcome_card(summary),
        meeting_cards.record_card(summary, _record_outcome()),
        chat.export_link_card(REF, "https://bot.example.org/files/once/x", NOW, TZ, "OFFICIAL-SENSITIVE"),
        file_cards.offer_sent_card(REF, "case_export", chat.EXPORT_LINK, "OFFICIAL-SENSITIVE"),
        file_cards.timeliness_sent_card(_timeliness(), "timeliness-2026", "OFFICIAL-SENSITIVE"),
        duplicate_cards.flag_card(summary, summary),
        meeting_cards.chair_notes_card(_notes_case(), _notes_meeting(), TZ),
        meeting_cards.inquorate_card(summary),
        meeting_cards.meeting_cancelled_card(summary, meeting, TZ),
        retention_cards.retention_list_card([samples.plan()], 0, {}, TZ, RetentionPolicy(), "OFFICIAL-SENSITIVE"),
        retention_cards.erasure_request_card(samples.plan(), {}, TZ, RetentionPolicy(), "OFFICIAL-SENSITIVE"),
        clock_cards.timeline_card(SimpleNamespace(  # type: ignore[arg-type]
            case=SimpleNamespace(summary=_summary(CaseStatus.REVIEW_COMMISSIONED)), today=date(2026, 11, 24),
            deadlines=[], agencies=[], agencies_to_ask=None, provisional=False, not_working=None, meeting=None,
            now=NOW), TZ),
        review_cards.review_actions_card(_review_view(), TZ),
        # publication refused while work is still open: Close anyway and its reason
        review_cards.review_actions_card(_review_view(), TZ, error="Still open.", field="close_anyway"),
        review_cards.briefing_link_card(REF, "Child A", "https://x.example.org/f", NOW, TZ, "OFFICIAL"),
        *_pathway_cards(),
        *_report_cards(),
    ]


def _pathway_cards() -> list[dict[str, Any]]:
    from tests.unit.test_card_accessibility import _pathway_view

    return [
        pathway_cards.pathway_card(_pathway_view(), TZ),
        pathway_cards.pathway_card(_pathway_view(VoteChoice.ESCALATION, handed=True), TZ),
        pathway_cards.agencies_notice_card(_pathway_view(), [("Police", None)], TZ),
        pathway_cards.teller_card(_pathway_view(), _deadline(9, asks_for_date=True), TZ, "OFFICIAL"),
        pathway_cards.letter_link_card(_summary(), "https://x.example.org/f", NOW, TZ, "OFFICIAL"),
        pathway_cards.agency_returns_card(_summary(), [(AgencyRequest(id=5, agency="GP", contact=None, sent_at=NOW,
                                                                      returned_at=None, returned_by_name=None), None)]),
        pathway_cards.agency_return_card(_summary(), AgencyRequest(id=5, agency="GP", contact=None, sent_at=NOW,
                                                                   returned_at=None, returned_by_name=None), {}),
    ]


def _notes_case():  # noqa: ANN202 - the card test module's case
    from tests.unit.test_card_accessibility import _case

    return _case()


def _notes_meeting():  # noqa: ANN202 - the card test module's meeting
    from tests.unit.test_card_accessibility import _meeting

    return _meeting()


def _report_cards() -> list[dict[str, Any]]:
    """The report card at each stage, for the chair or a manager who also comments."""
    from bot.domain.referral import YesNo
    from tests.unit.test_card_accessibility import _report_view

    def shown(stage: str, **kw: Any) -> dict[str, Any]:
        # the statutory step's due time (a late send asks why) and a step still open (Close anyway)
        view = replace(_report_view(stage, **kw), report_due=NOW, still_open=(_deadline(4, asks_for_date=False),))
        return report_cards.report_card(view, TZ, manages=True, comments=True, marking="O-S")

    submitted = CaseStatus.REPORT_SUBMITTED
    other = _report_view(round_=2)  # the items a round 2, "no local review", "national review" report has
    other = replace(other, outcome=other.outcome.model_copy(update={"local_cspr": YesNo.NO, "national_review": YesNo.YES}))
    return [report_cards.edit_card(other), shown("draft"), shown("sign_off"), shown("sign_off", signed=True),
            shown("sent", status=submitted),
            shown("sent", status=submitted, answered=True), report_cards.edit_card(_report_view()),
            report_cards.comment_request_card(_report_view(), TZ, "O-S"),
            report_cards.sign_off_request_card(_summary()), report_cards.start_card(_summary()),
            report_cards.submission_link_card(_summary(), "https://x.example.org/f", NOW, TZ)]


def _review_view():  # noqa: ANN202 - the card test module's review
    from tests.unit.test_card_accessibility import _review_view

    return _review_view()


def _record_outcome():  # noqa: ANN202 - the card test module's outcome
    from tests.unit.test_card_accessibility import _outcome

    return _outcome()


def _input_ids(element: Any, *, into_show_cards: bool) -> set[str]:
    ids: set[str] = set()
    if isinstance(element, dict):
        if str(element.get("type", "")).startswith("Input.") and "id" in element:
            ids.add(element["id"])
        for key, value in element.items():
            if key == "card" and element.get("type") == "Action.ShowCard" and not into_show_cards:
                continue
            ids |= _input_ids(value, into_show_cards=into_show_cards)
    elif isinstance(element, list):
        for item in element:
            ids |= _input_ids(item, into_show_cards=into_show_cards)
    return ids


def _actions(element: Any, inputs_above: set[str]) -> list[tuple[dict[str, Any], set[str]]]:
    """Every Action.Execute with the inputs it sends: those of its own card and of the
    cards around it (associatedInputs "auto"), or none ("none")."""
    found: list[tuple[dict[str, Any], set[str]]] = []
    if isinstance(element, dict):
        if element.get("type") == "AdaptiveCard":
            inputs_above = inputs_above | _input_ids(element, into_show_cards=False)
        if element.get("type") == "Action.Execute":
            found.append((element, inputs_above if element.get("associatedInputs") != "none" else set()))
        for key, value in element.items():
            if key not in ("fallback", "refresh"):  # the refresh sends no inputs: read below
                found += _actions(value, inputs_above)
    elif isinstance(element, list):
        for item in element:
            found += _actions(item, inputs_above)
    return found


def rendered_presses() -> dict[str, list[tuple[dict[str, Any], set[str]]]]:
    """verb → (the action's data, the inputs it sends) for every button on the cards above."""
    presses: dict[str, list[tuple[dict[str, Any], set[str]]]] = {}
    for built in rendered_cards():
        for action, sent in _actions(built, set()):
            presses.setdefault(action["verb"], []).append((action["data"], sent))
        if built.get("refresh"):
            action = built["refresh"]["action"]
            presses.setdefault(action["verb"], []).append((action["data"], set()))
    return presses


# ---- the table ---------------------------------------------------------------------------------


def test_every_verb_a_card_emits_has_exactly_one_route_and_every_route_a_card() -> None:
    table = routes()
    verbs = [r.verb for r in table]
    assert len(verbs) == len(set(verbs)), "a verb has two routes"
    emitted = emitted_verbs()
    assert set(verbs) == set(emitted), (set(emitted) - set(verbs), set(verbs) - set(emitted))
    assert set(verbs) == set(VERBS)  # the table and parse_press know the same verbs
    assert set(rendered_presses()) <= set(verbs)


def test_each_verb_is_declared_by_one_card_module() -> None:
    declaring: dict[str, list[str]] = {}
    for module in _card_modules():
        if module is cards_actions:  # their union
            continue
        for verb in getattr(module, "VERBS", {}):
            declaring.setdefault(verb, []).append(module.__name__)
    assert {v: m for v, m in declaring.items() if len(m) != 1} == {}
    assert set(declaring) == set(VERBS)


def test_route_inputs_are_the_inputs_the_cards_render() -> None:
    presses = rendered_presses()
    table = {r.verb: r for r in routes()}
    # Every verb shows up on at least one of the cards built here (the form's cancel-yes/no,
    # resume, etc. included), so each comparison below is against real output.
    assert set(presses) == set(table), set(table) - set(presses)
    for verb, route in table.items():
        assert route.inputs == VERBS[verb].inputs, verb
        sent = set().union(*(inputs for _, inputs in presses[verb]))
        extra_data = set().union(*(set(data) - META_KEYS - {QUERY_ID, STEP_ID, AGENCY_REQUEST_ID, ACTION_ID}
                                   for data, _ in presses[verb]))
        if verb in form.FORM_VERBS:
            continue  # checked together below
        assert route.inputs == sent | extra_data, (verb, route.inputs, sent | extra_data)
    # The form: any form button may carry any section's inputs (the dialog keeps the section's own);
    # together they are exactly what the form's cards render.
    form_sent = set().union(*(inputs for v in form.FORM_VERBS for _, inputs in presses[v]))
    assert all(table[v].inputs == form.INPUT_KEYS for v in form.FORM_VERBS)
    assert form.INPUT_KEYS == form_sent


def test_each_button_carries_only_its_own_kind_of_id() -> None:
    carried: dict[str, set[str]] = {}
    for verb, pressed in rendered_presses().items():
        for data, _ in pressed:
            assert LEGACY_ID not in data, verb  # new cards never carry `q`
            carried.setdefault(verb, set()).update(set(data) & {QUERY_ID, STEP_ID, AGENCY_REQUEST_ID, ACTION_ID})
    assert {v: k for v, k in carried.items() if k} == {
        vote_card.ANSWER: {QUERY_ID}, clock_cards.MARK_DONE: {STEP_ID}, clock_cards.AGENCY_RETURNED: {AGENCY_REQUEST_ID},
        pathway_cards.AGENCY_RETURN: {AGENCY_REQUEST_ID},
        review_cards.ACTION_DONE: {ACTION_ID},
    }
    assert {v.name: v.id_key for v in VERBS.values() if v.id_key} == {
        vote_card.ANSWER: QUERY_ID, clock_cards.MARK_DONE: STEP_ID, clock_cards.AGENCY_RETURNED: AGENCY_REQUEST_ID,
        pathway_cards.AGENCY_RETURN: AGENCY_REQUEST_ID,
        review_cards.ACTION_DONE: ACTION_ID,
    }


def test_case_routes_are_the_verbs_whose_cards_name_a_case() -> None:
    for route in routes():
        # The export link and the DPO's retention buttons name a case, but their one user (the data
        # protection officer) need not be on the case's roster: the use case checks the roster itself
        # and refuses everyone else alike.
        # The timeliness report's links name a year, not a case (a partnership manager's, asked by the use case).
        about_a_case = (route.verb not in form.FORM_VERBS
                        and route.verb not in (chat.REFER, chat.EXPORT_LINK, chat.TIMELINESS_CSV_LINK,
                                               chat.TIMELINESS_DOCX_LINK)
                        and route.verb not in retention_cards.VERBS)
        assert route.needs_case is about_a_case, route.verb


# ---- reading a press ---------------------------------------------------------------------------


def _data(verb: str, **extra: Any) -> dict[str, Any]:
    return {"verb": verb, "action": verb, "ref": REF, **extra}


@pytest.mark.parametrize(("verb", "key", "field"), [
    (vote_card.ANSWER, QUERY_ID, "query_id"),
    (clock_cards.MARK_DONE, STEP_ID, "step_id"),
    (clock_cards.AGENCY_RETURNED, AGENCY_REQUEST_ID, "agency_request_id"),
])
def test_an_old_cards_q_is_read_as_the_verbs_own_kind_of_id(verb: str, key: str, field: str) -> None:
    fields = ("query_id", "step_id", "agency_request_id")
    new = parse_press(_data(verb, **{key: 42}), verb)
    old = parse_press(_data(verb, q=42), verb)
    both = parse_press(_data(verb, q=42, **{key: 42}), verb)
    for press in (new, old, both):
        assert {f: getattr(press, f) for f in fields} == {f: 42 if f == field else None for f in fields}
    with pytest.raises(BadCardData, match="two different ids"):
        parse_press(_data(verb, q=41, **{key: 42}), verb)


@pytest.mark.parametrize("key", [QUERY_ID, STEP_ID, AGENCY_REQUEST_ID, LEGACY_ID])
def test_an_id_key_is_refused_on_a_verb_of_another_kind(key: str) -> None:
    with pytest.raises(BadCardData, match="unexpected keys"):
        parse_press(_data(vote_card.VOTE, **{key: 1}), vote_card.VOTE)
    wrong = {QUERY_ID: clock_cards.MARK_DONE, STEP_ID: vote_card.ANSWER, AGENCY_REQUEST_ID: clock_cards.MARK_DONE}
    if key in wrong:
        with pytest.raises(BadCardData, match="unexpected keys"):
            parse_press(_data(wrong[key], **{key: 1}), wrong[key])


def test_parse_press_takes_each_verbs_inputs_from_its_card_module() -> None:
    press = parse_press(_data(meeting_cards.CHOOSE, date="2026-12-01", time="10:00"), meeting_cards.CHOOSE)
    assert press.inputs == {"date": "2026-12-01", "time": "10:00"}
    with pytest.raises(BadCardData, match="unexpected keys: start"):
        parse_press(_data(meeting_cards.CHOOSE, start="2026-12-01T10:00"), meeting_cards.CHOOSE)
    unknown = parse_press(_data("panel.close"), "panel.close")  # the router refuses it, and audits it
    assert unknown.verb == "panel.close" and unknown.inputs == {}
    with pytest.raises(BadCardData, match="unexpected keys"):
        parse_press(_data("panel.close", choice="x"), "panel.close")
