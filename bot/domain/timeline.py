"""Timeline profiles: the statutory clock as data, and the deadlines it gives a case.

Why data and not code: the four source partnerships run the same statutory process with
different local timescales (docs/sources.md, timescales table: Stockport counts its meeting
window from the virtual panel's decision, West Midlands from the referral, Surrey numbers days
from awareness, Gloucestershire counts from the notification to the National Panel). Each
partnership picks a profile and may override single steps, so a local change is a TOML edit,
never a code change.

A step says: counted from which event (`Anchor`), by how much (`Offset`, or a `Window` such as
"between 7 and 13 working days"), who owns it, on which pathways and under which fact it
applies, and which source says so. `compute_deadlines` turns a profile plus the dates a case
has recorded into dated deadlines. It is a pure function: when an anchor moves (the meeting
is re-booked) the caller recomputes and every dependent deadline moves with it.

How a due moment is expressed, written down once:

- working-day, calendar-day and month offsets give a due *date*; the deadline is 17:00 local
  time on that date (the end of the working day), because "within 5 working days" is met by
  anything done that day;
- hour offsets give an exact instant ("48 hours before the meeting" is 48 elapsed hours);
- a window's earliest moment is the *start* (00:00) of its first day, so that a meeting at
  10:00 on the first allowed day is inside the window;
- an anchor given as a bare date means the start of that day in the partnership's time zone.

Pure: stdlib and pydantic only. The working-day arithmetic comes in through
`WorkingCalendarPort`, which `scheduler.calendar.EnglandCalendar` satisfies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

LONDON = ZoneInfo("Europe/London")
END_OF_WORKING_DAY = time(17, 0)
START_OF_DAY = time(0, 0)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]


class Anchor(StrEnum):
    """The recorded events a clock can start from. Each is a date (and time) on the case."""

    INCIDENT = "incident"
    AWARE = "aware"  # the local authority became aware of the incident
    REFERRAL_RECEIVED = "referral_received"
    PANEL_DECISION = "panel_decision"  # the virtual panel decided the pathway
    NATIONAL_PANEL_NOTIFIED = "national_panel_notified"  # recorded when the LA marks that step done
    REQUESTS_SENT = "requests_sent"  # information / scoping requests went to the agencies
    MEETING = "meeting"  # the booked start of the rapid review meeting
    MEETING_HELD = "meeting_held"
    REPORT_STARTED = "report_started"  # the rapid review report's draft went out for comments
    COMMENTS_RECEIVED = "comments_received"  # comments on the draft outcome report came back
    FINAL_DRAFT_SENT = "final_draft_sent"  # the final draft went to the chair and the manager for sign-off
    REPORT_SUBMITTED = "report_submitted"  # the rapid review went to the National Panel
    NATIONAL_PANEL_ASKED = "national_panel_asked"  # the National Panel asked for more information
    REPORT_RESUBMITTED = "report_resubmitted"  # the report went back to the National Panel with it
    REVIEW_COMMISSIONED = "review_commissioned"  # decision to undertake a local CSPR
    HANDOVER_CONFIRMED = "handover_confirmed"  # the process the panel chose has taken the case
    FAMILY_TELL_BY = "family_tell_by"  # the date agreed for telling the family (the step is due that day)
    FAMILY_TOLD = "family_told"  # the family was told of the outcome
    # the last progress check of a local review (the decision itself until the first check)
    REVIEW_PROGRESS_CHECKED = "review_progress_checked"
    ACTION_AGREED = "action_agreed"  # an action from the meeting or the review was recorded (one per action)

    @property
    def description(self) -> str:
        """Plain words for a card: "5 working days after the referral being received"."""
        return _ANCHOR_DESCRIPTIONS[self]


_ANCHOR_DESCRIPTIONS = {
    Anchor.INCIDENT: "the incident",
    Anchor.AWARE: "the local authority becoming aware",
    Anchor.REFERRAL_RECEIVED: "the referral being received",
    Anchor.PANEL_DECISION: "the virtual panel's decision",
    Anchor.NATIONAL_PANEL_NOTIFIED: "the notification to the National Panel",
    Anchor.REQUESTS_SENT: "the information requests being sent",
    Anchor.MEETING: "the rapid review meeting",
    Anchor.MEETING_HELD: "the rapid review meeting being held",
    Anchor.REPORT_STARTED: "the draft report going out for comments",
    Anchor.COMMENTS_RECEIVED: "comments on the draft being received",
    Anchor.FINAL_DRAFT_SENT: "the final draft going for sign-off",
    Anchor.REPORT_SUBMITTED: "the report going to the National Panel",
    Anchor.NATIONAL_PANEL_ASKED: "the National Panel asking for more information",
    Anchor.REPORT_RESUBMITTED: "the report going back to the National Panel",
    Anchor.REVIEW_COMMISSIONED: "the decision to undertake a local review",
    Anchor.HANDOVER_CONFIRMED: "the hand-over being confirmed",
    Anchor.FAMILY_TELL_BY: "the date agreed for telling the family",
    Anchor.FAMILY_TOLD: "the family being told",
    Anchor.REVIEW_PROGRESS_CHECKED: "the review's last progress check",
    Anchor.ACTION_AGREED: "the action being agreed",
}

# The steps the law itself sets, whatever the partnership's profile: the local authority's
# notification to the National Panel (5 working days of becoming aware) and the rapid review
# report to the National Panel (15 working days). They are known by the event they record, and
# `status` ranks them above the partnership's local steps.
STATUTORY_RECORDS = frozenset({"national_panel_notified", "report_submitted"})

# Anchors that exist only because someone marked a step done and gave the date
# (docs/architecture.md, Statutory clock: a step marked done with the date it happened). A profile that counts from one
# of these must contain the step that records it, or its deadlines would stay pending forever.
STEP_RECORDED_ANCHORS = frozenset({Anchor.NATIONAL_PANEL_NOTIFIED, Anchor.REQUESTS_SENT})
# Anchors a person sets on a card (bot/services/pathways.py), not by marking a step done.
AGREED_ANCHORS = frozenset({Anchor.FAMILY_TELL_BY})


class Owner(StrEnum):
    """Who a reminder mentions."""

    LOCAL_AUTHORITY = "local_authority"
    BUSINESS_UNIT = "business_unit"
    CHAIR = "chair"
    AGENCIES = "agencies"
    PANEL = "panel"
    PARTNERSHIP_MANAGER = "partnership_manager"
    CHILD_DEATH_TEAM = "child_death_team"
    HANDOVER_OWNER = "handover_owner"  # the person the panel's decision was handed to (bot/services/pathways.py)
    FAMILY_CONTACT = "family_contact"  # the person agreed to tell the family (bot/services/pathways.py)
    ACTION_OWNER = "action_owner"  # the person an action names (its reminders mention them)


class Pathway(StrEnum):
    """The virtual panel's outcomes that lead somewhere (Stockport Rapid Review Process (2019), Appendix A, 2.1)."""

    RAPID_REVIEW = "rapid_review"
    PRACTICE_REVIEW = "practice_review"
    ESCALATION = "escalation"
    NO_FURTHER_ACTION = "no_further_action"


class Fact(StrEnum):
    """Facts about a case that switch conditional steps on."""

    CHILD_DEATH = "child_death"  # same value as IncidentKind.CHILD_DEATH
    REVIEW_COMMISSIONED = "review_commissioned"
    MORE_INFORMATION_ASKED = "more_information_asked"  # the National Panel asked for more information


class OffsetUnit(StrEnum):
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    MONTHS = "months"
    CALENDAR_DAYS = "calendar_days"


_UNIT_WORDS = {
    OffsetUnit.WORKING_DAYS: ("working day", "working days"),
    OffsetUnit.HOURS: ("hour", "hours"),
    OffsetUnit.MONTHS: ("month", "months"),
    OffsetUnit.CALENDAR_DAYS: ("day", "days"),
}


class Offset(BaseModel):
    """How far from the anchor, in exactly one unit. Negative means before the anchor
    ("one day prior to the meeting" is ``working_days = -1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: int | None = None
    hours: float | None = Field(default=None, allow_inf_nan=False)
    months: int | None = None
    calendar_days: int | None = None

    @model_validator(mode="after")
    def _exactly_one_unit(self) -> Offset:
        given = [unit.value for unit in OffsetUnit if getattr(self, unit.value) is not None]
        if len(given) != 1:
            allowed = ", ".join(unit.value for unit in OffsetUnit)
            raise ValueError(f"set exactly one of {allowed} (got {', '.join(given) or 'none'})")
        return self

    @property
    def unit(self) -> OffsetUnit:
        return next(unit for unit in OffsetUnit if getattr(self, unit.value) is not None)

    @property
    def value(self) -> float:
        given = {
            OffsetUnit.WORKING_DAYS: self.working_days,
            OffsetUnit.HOURS: self.hours,
            OffsetUnit.MONTHS: self.months,
            OffsetUnit.CALENDAR_DAYS: self.calendar_days,
        }[self.unit]
        assert given is not None  # self.unit is the one unit that is set
        return given

    @property
    def words(self) -> str:
        """"5 working days", "48 hours", "6 months": the amount as a card says it."""
        amount = abs(self.value)
        one, many = _UNIT_WORDS[self.unit]
        return f"{amount:g} {one if amount == 1 else many}"


class Window(BaseModel):
    """A step that must happen between two offsets, e.g. the meeting "between 7 and 13 working
    days". Its due moment is the latest; the earliest is shown and used for booking."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    earliest: Offset
    latest: Offset

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.earliest.unit is not self.latest.unit:
            raise ValueError("earliest and latest must use the same unit")
        if self.earliest.value > self.latest.value:
            raise ValueError(f"earliest ({self.earliest.value:g}) is after latest ({self.latest.value:g})")
        return self


class ReminderPlan(BaseModel):
    """When reminders for a step are posted: a heads-up some working days before it is due,
    on the due day, then daily while overdue. All at `due_time` local time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heads_up_working_days: int = Field(default=2, ge=0, le=20)
    due_time: time = time(9, 0)
    overdue_daily: bool = True


class Step(BaseModel):
    """One named deadline of a profile, with the source that sets it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    label: Label
    anchor: Anchor
    offset: Offset | None = None
    window: Window | None = None
    owner: Owner
    pathways: list[Pathway] = Field(default_factory=lambda: [Pathway.RAPID_REVIEW], min_length=1)
    condition: Fact | None = None
    asks_for_date: bool = False
    records: Anchor | None = None
    source: Source
    reminders: ReminderPlan = Field(default_factory=ReminderPlan)
    # No source document sets this step: the partnership chose it (shown as "local policy").
    local_policy: bool = False
    # Once this event is on the case, the step is moot if not done: it stops reminding and shows
    # as superseded (the papers before a meeting that has been held).
    superseded_by: Anchor | None = None

    @field_validator("pathways")
    @classmethod
    def _unique_pathways(cls, value: list[Pathway]) -> list[Pathway]:
        if len(set(value)) != len(value):
            raise ValueError("a pathway is listed twice")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Step:
        if (self.offset is None) == (self.window is None):
            raise ValueError("set either offset or window (exactly one)")
        if self.records is not None and not self.asks_for_date:
            raise ValueError(f"records = '{self.records}' needs asks_for_date = true (the date done is the record)")
        if self.records is not None and self.records is self.anchor:
            raise ValueError(f"records '{self.records}', which is also its own anchor")
        if self.superseded_by is not None and self.superseded_by is self.anchor:
            raise ValueError(f"superseded_by '{self.superseded_by}', which is also its own anchor")
        return self

    @property
    def statutory(self) -> bool:
        return self.records is not None and self.records.value in STATUTORY_RECORDS

    @property
    def is_window(self) -> bool:
        return self.window is not None

    @property
    def due_offset(self) -> Offset:
        """The offset that sets the due moment: the offset, or the window's latest."""
        if self.window is not None:
            return self.window.latest
        if self.offset is None:  # unreachable after validation; keeps the type honest
            raise ValueError(f"step '{self.id}' has neither offset nor window")
        return self.offset

    def applies_to(self, pathway: str, facts: Collection[str]) -> bool:
        return pathway in self.pathways and (self.condition is None or self.condition in facts)


class TimelineProfile(BaseModel):
    """A partnership's set of steps. Validation names the step and the problem, because the
    person reading the error is editing a TOML file, not the code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    title: Label
    source: Source
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TimelineProfile:
        _check_unique_ids(self.steps)
        recorders = _check_single_recorder(self.steps)
        _check_recorded_anchors_have_recorders(self.steps, recorders)
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"profile '{self.id}' has no step '{step_id}'")

    def recorder_of(self, anchor: Anchor) -> Step | None:
        """The step whose "mark done" records `anchor`, if any."""
        return next((step for step in self.steps if step.records is anchor), None)


def _check_unique_ids(steps: list[Step]) -> None:
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            raise ValueError(f"step '{step.id}': defined twice (step ids must be unique)")
        seen.add(step.id)


def _check_single_recorder(steps: list[Step]) -> dict[Anchor, Step]:
    recorders: dict[Anchor, Step] = {}
    for step in steps:
        if step.records is None:
            continue
        other = recorders.get(step.records)
        if other is not None:
            raise ValueError(f"step '{step.id}': records '{step.records}', which step '{other.id}' already records")
        recorders[step.records] = step
    return recorders


def _check_recorded_anchors_have_recorders(steps: list[Step], recorders: dict[Anchor, Step]) -> None:
    for step in steps:
        if step.anchor not in STEP_RECORDED_ANCHORS:
            continue
        recorder = recorders.get(step.anchor)
        if recorder is None:
            raise ValueError(
                f"step '{step.id}': anchor '{step.anchor}' is only known when a step is marked done, "
                f"but no step has records = '{step.anchor}' and asks_for_date = true"
            )
        missing = [p.value for p in step.pathways if p not in recorder.pathways]
        if missing:
            raise ValueError(
                f"step '{step.id}': counts from '{step.anchor}', but step '{recorder.id}' that records it "
                f"does not apply to pathway {', '.join(missing)}"
            )


@runtime_checkable
class WorkingCalendarPort(Protocol):
    """The working-day arithmetic the domain needs (scheduler.calendar.EnglandCalendar)."""

    def is_working_day(self, d: date) -> bool: ...

    def add_working_days(self, start: date, n: int) -> date: ...

    def working_days_between(self, start: date, end: date) -> int: ...

    def add_hours(self, moment: datetime, hours: float) -> datetime: ...

    def add_months(self, d: date, months: int) -> date: ...


class Deadline(BaseModel):
    """A step of the profile, dated for one case. `due_at` is None while the anchor has not
    happened (the deadline is pending, e.g. papers before a meeting not yet booked)."""

    model_config = ConfigDict(frozen=True)

    step_id: str
    label: str
    owner: Owner
    anchor: Anchor
    anchor_at: datetime | None
    due_at: datetime | None
    earliest_at: datetime | None = None
    is_window: bool = False
    source: str
    asks_for_date: bool = False
    records: Anchor | None = None
    reminders: ReminderPlan = Field(default_factory=ReminderPlan)
    superseded_by: Anchor | None = None

    @property
    def pending(self) -> bool:
        """Not dated yet: its anchor has not happened."""
        return self.due_at is None


def compute_deadlines(
    profile: TimelineProfile,
    anchors: Mapping[Anchor, datetime | date | None],
    calendar: WorkingCalendarPort,
    *,
    pathway: str,
    facts: Collection[str] = frozenset(),
    tz: tzinfo = LONDON,
) -> list[Deadline]:
    """The deadlines of `profile` for a case on `pathway` with `facts`, in profile order.

    Steps for another pathway, or whose condition is not among `facts`, are left out. A step
    whose anchor is missing from `anchors` (or None) is returned pending (`due_at` None).
    Anchors must be timezone-aware datetimes, or dates (meaning the start of that day in `tz`).
    """
    chosen = Pathway(pathway)
    local = {Anchor(key): _localise(Anchor(key), value, tz) for key, value in anchors.items() if value is not None}
    return [
        _deadline(step, local.get(step.anchor), calendar, tz)
        for step in profile.steps
        if step.applies_to(chosen, facts)
    ]


def step_due(step: Step, anchor_at: datetime | date, calendar: WorkingCalendarPort, tz: tzinfo) -> datetime:
    """When one step falls due, counted from its anchor (the same rule as the case's deadlines)."""
    return _deadline(step, _localise(step.anchor, anchor_at, tz), calendar, tz).due_at  # type: ignore[return-value]


def _localise(anchor: Anchor, value: datetime | date, tz: tzinfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"anchor '{anchor}' is a naive datetime; pass a timezone-aware one")
        return value.astimezone(tz)
    return datetime.combine(value, START_OF_DAY, tzinfo=tz)


def _deadline(step: Step, anchor_at: datetime | None, calendar: WorkingCalendarPort, tz: tzinfo) -> Deadline:
    earliest_at = due_at = None
    if anchor_at is not None:
        due_at = _apply(step.due_offset, anchor_at, calendar, tz, END_OF_WORKING_DAY)
        if step.window is not None:
            earliest_at = _apply(step.window.earliest, anchor_at, calendar, tz, START_OF_DAY)
    return Deadline(
        step_id=step.id,
        label=step.label + (" (local policy)" if step.local_policy else ""),
        owner=step.owner,
        anchor=step.anchor,
        anchor_at=anchor_at,
        due_at=due_at,
        earliest_at=earliest_at,
        is_window=step.is_window,
        source=step.source,
        asks_for_date=step.asks_for_date,
        records=step.records,
        reminders=step.reminders,
        superseded_by=step.superseded_by,
    )


def _apply(offset: Offset, anchor_at: datetime, calendar: WorkingCalendarPort, tz: tzinfo, at: time) -> datetime:
    """The moment `offset` gives from `anchor_at` (already in `tz`); date results are at `at`."""
    if offset.hours is not None:
        return calendar.add_hours(anchor_at, offset.hours).astimezone(tz)
    start = anchor_at.date()
    if offset.working_days is not None:
        day = calendar.add_working_days(start, offset.working_days)
    elif offset.months is not None:
        day = calendar.add_months(start, offset.months)
        # "Within six months" must never fall after six months: a month step that lands on a
        # weekend, bank holiday or closure day moves to the working day *before* it.
        step = timedelta(days=-1 if offset.months >= 0 else 1)
        while not calendar.is_working_day(day):
            day += step
    else:
        day = start + timedelta(days=offset.calendar_days or 0)
    return datetime.combine(day, at, tzinfo=tz)


def is_statutory(records: str | None) -> bool:
    """A deadline row that records one of the statutory events (`STATUTORY_RECORDS`)."""
    return records in STATUTORY_RECORDS


def superseded(deadline: Deadline, anchors: Collection[Anchor]) -> bool:
    """The step is moot: the event that supersedes it is already on the case."""
    return deadline.superseded_by is not None and deadline.superseded_by in anchors


def non_working_day_note(day: date, calendar: WorkingCalendarPort) -> str | None:
    """Words for a due date that is not a working day ("a Saturday, not a working day"), so a
    calendar-day or hour step that lands on a weekend or bank holiday says so."""
    if calendar.is_working_day(day):
        return None
    if day.weekday() >= 5:
        return f"a {day.strftime('%A')}, not a working day"
    return "a bank holiday or closure day, not a working day"
