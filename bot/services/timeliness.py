"""The timeliness report for the partnership's annual report: `timeliness 2026`.

Per year of referral (the year the referral was received): how many referrals; how many
decisions of the virtual panel within 5 working days of the referral; National Panel
notifications within 5 working days of awareness (the step that records
`national_panel_notified`); rapid review reports to the National Panel within 15 working days
(the step that records `report_submitted`); local reviews published within 6 months of the
decision to commission one (the profile's publication step). Each miss is listed by
reference with the reason recorded where the bot has one (the local review's late reason,
typed on the review card; the notification's and the report's, asked for when either is
recorded after its due day, bot/services/late_reasons.py — each refused while it held an
identifier). It reads references,
dates and statuses only — never a referral, never an identifier — so an erased case still
counts (its anonymised row keeps its dates).

Only a partnership manager may have it, in personal chat, as a CSV and a Word document through
the file delivery (bot/services/delivery.py, kinds `timeliness_csv` and `timeliness_docx`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.domain.case import Actor, CaseSummary
from bot.domain.events import EventKind
from bot.domain.timeline import Anchor
from bot.services import late_reasons
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import DeadlineRow
from bot.services.refusals import NotAuthorised, Refused

ONLY_MANAGER = "The timeliness report goes to the partnership managers. Ask one of them for it."
DECISION_WORKING_DAYS = 5
FIRST_YEAR = 2000
NO_REASON = "no reason recorded"
MEASURES = (("decision", "Panel decisions within 5 working days"),
            ("notification", "National Panel notifications within 5 working days"),
            ("report", "Reports to the National Panel within 15 working days"),
            ("publication", "Local reviews published within 6 months"))


class TimelinessRefused(Refused):
    """No year, or a year the bot cannot report on."""


@dataclass(frozen=True)
class Measure:
    """One case on one measure: on time (True), late (False) or not applicable / not yet (None)."""

    on_time: bool | None
    reason: str | None = None


@dataclass
class CaseLine:
    reference: str
    received_on: date
    status: str
    measures: dict[str, Measure] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    due: int  # cases the measure applied to and that are settled (on time or late)
    on_time: int

    @property
    def late(self) -> int:
        return self.due - self.on_time


@dataclass(frozen=True)
class Timeliness:
    year: int
    partnership: str
    lines: list[CaseLine]

    @property
    def referrals(self) -> int:
        return len(self.lines)

    def tally(self, measure: str) -> Tally:
        settled = [line.measures[measure] for line in self.lines if line.measures[measure].on_time is not None]
        return Tally(due=len(settled), on_time=sum(1 for m in settled if m.on_time))

    def misses(self) -> list[tuple[str, str, str]]:
        """(reference, measure's title, reason) of every miss."""
        found = []
        for line in self.lines:
            for key, title in MEASURES:
                m = line.measures[key]
                if m.on_time is False:
                    found.append((line.reference, title, m.reason or NO_REASON))
        return found


def parse_year(argument: str, today: date) -> int:
    word = argument.strip()
    if not (word.isdigit() and len(word) == 4):
        raise TimelinessRefused(f"Say which year, for example: **timeliness {today.year}**.")
    year = int(word)
    if not FIRST_YEAR <= year <= today.year:
        raise TimelinessRefused(f"Give a year from {FIRST_YEAR} to {today.year}.")
    return year


async def require_manager(ctx: ServiceContext, actor: Actor) -> None:
    if not (await ctx.roster.roles_of(actor.aad_object_id)).manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "timeliness"})
        raise NotAuthorised(ONLY_MANAGER)


def _step(rows: list[DeadlineRow], today: date, ctx: ServiceContext, reason: str | None = None) -> Measure:
    """Done on or before its due day: on time; done after, or still open past it: late."""
    if not rows:
        return Measure(None)
    row = rows[0]
    if row.due_at is None:
        return Measure(None)
    due = row.due_at.astimezone(ctx.tz).date()
    if row.done_on is not None:
        return Measure(row.done_on <= due, None if row.done_on <= due else reason)
    if row.status == "open" and today > due:
        return Measure(False, reason or "not done yet")
    return Measure(None)


async def _line(ctx: ServiceContext, summary: CaseSummary, today: date) -> CaseLine:
    received = summary.received_at.astimezone(ctx.tz).date()
    line = CaseLine(summary.reference, received, summary.status.title)
    anchors = await ctx.deadlines.anchors(summary.id)
    decided = anchors.get(Anchor.PANEL_DECISION)
    if decided is not None:
        days = ctx.calendar.working_days_between(received, decided.astimezone(ctx.tz).date())
        line.measures["decision"] = Measure(days <= DECISION_WORKING_DAYS)
    elif summary.status.is_open and ctx.calendar.working_days_between(received, today) > DECISION_WORKING_DAYS:
        line.measures["decision"] = Measure(False, "not decided yet")
    else:
        line.measures["decision"] = Measure(None)  # not yet due, or withdrawn before a decision
    rows = await ctx.deadlines.deadlines(summary.id)
    why = await late_reasons.reasons(ctx.deadlines, summary.id)
    for key, anchor in (("notification", Anchor.NATIONAL_PANEL_NOTIFIED), ("report", Anchor.REPORT_SUBMITTED)):
        found = [r for r in rows if r.records == anchor.value]
        line.measures[key] = _step(found, today, ctx, why.get(found[0].step_id) if found else None)
    review = await ctx.reviews.review(summary.id)
    publication = [r for r in rows if r.anchor == Anchor.REVIEW_COMMISSIONED.value and "publish" in r.step_id]
    line.measures["publication"] = _step(publication, today, ctx, review.late_reason if review else None)
    return line


async def compute(ctx: ServiceContext, year: int) -> Timeliness:
    """The year's report as the database is now (made again whenever its file is made)."""
    today = ctx.clock.now().astimezone(ctx.tz).date()
    summaries = await ctx.cases.received_in(year)
    return Timeliness(year, ctx.partnership.name, [await _line(ctx, s, today) for s in summaries])


async def timeliness(ctx: ServiceContext, actor: Actor, year: int) -> Timeliness:
    """The report for a partnership manager, audited (the year and how many cases, nothing else)."""
    await require_manager(ctx, actor)
    report = await compute(ctx, year)
    await audit(ctx, actor, EventKind.TIMELINESS_REPORTED, detail={"year": year, "cases": report.referrals})
    return report
