"""What every use case is given: the ports, the partnership and the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.partnership import PartnershipConfig
from bot.domain.timeline import TimelineProfile, WorkingCalendarPort
from bot.services.ports import (
    Clock,
    DeadlineStore,
    MeetingProvider,
    MeetingStore,
    Notifier,
    OutboxItem,
    PanelStore,
    Repository,
)


def _noop() -> None:
    return None


@dataclass
class ServiceContext:
    repo: Repository
    clock: Clock
    partnership: PartnershipConfig
    notifier: Notifier | None = None
    panel: PanelStore | None = None
    calendar: WorkingCalendarPort | None = None
    deadlines: DeadlineStore | None = None
    profile: TimelineProfile | None = None
    meetings: MeetingProvider | None = None
    meeting_store: MeetingStore | None = None
    meeting_settings: Any = None  # bot.services.meeting.MeetingSettings
    kick_outbox: Callable[[], None] = _noop
    # While the outbox dispatcher runs: hand it a card update claimed in a use case's own
    # transaction, with the view already rendered (bot/services/outbox.py, deliver_card_now).
    deliver_card_now: Callable[[OutboxItem, Any, str], None] | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("bot.services"))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.partnership.time_zone)
