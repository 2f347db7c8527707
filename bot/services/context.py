"""What every use case is given: the stores, the unit of work, the ports, the partnership
and the clock — all required, built once by the composition root (bot/app.py), never
changed afterwards."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.domain.meeting import MeetingSettings
from bot.domain.partnership import PartnershipConfig
from bot.domain.timeline import TimelineProfile, WorkingCalendarPort
from bot.services.ports import (
    AppInstaller,
    CaseStore,
    Clock,
    DeadlineStore,
    MeetingProvider,
    MeetingStore,
    Notifier,
    OutboxStore,
    PanelStore,
    ReportStore,
    ReviewStore,
    RosterStore,
    UnitOfWork,
)
from bot.services.signal import OutboxSignal


@dataclass(frozen=True)
class ServiceContext:
    cases: CaseStore
    roster: RosterStore
    outbox: OutboxStore
    panel: PanelStore
    deadlines: DeadlineStore
    meeting_store: MeetingStore
    reports: ReportStore
    reviews: ReviewStore
    uow: UnitOfWork
    clock: Clock
    partnership: PartnershipConfig
    calendar: WorkingCalendarPort
    profile: TimelineProfile
    notifier: Notifier
    meetings: MeetingProvider
    meeting_settings: MeetingSettings
    signal: OutboxSignal
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("bot.services"))
    installer: AppInstaller | None = None  # installs the bot for a person Teams cannot reach (off by default)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.partnership.time_zone)

    def kick_outbox(self) -> None:
        self.signal.kick()
