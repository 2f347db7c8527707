"""Fakes of the ports the use cases talk through, for tests that run the services
without Teams (and, with `memory_stores`, without a database)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.adapters.clock import FixedClock
from bot.adapters.meetings import OfflineMeetingProvider
from bot.domain.case import Case, CaseSummary
from bot.domain.partnership import PartnershipConfig
from bot.domain.timeline import TimelineProfile
from bot.services.context import ServiceContext
from bot.services.ports import Address, MeetingProvider, MeetingRecord, QueryRecord
from bot.settings import load_partnership
from scheduler.profiles import load_profile


@dataclass
class RecordingNotifier:
    """Implements the Notifier port: records every call; everyone is reachable unless
    listed in `unreachable`."""

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    _next_id: int = 0

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def post_panel_card(self, channel: Address, view: Any) -> str:
        self._record("post_panel_card", channel, view)
        self._next_id += 1
        return f"activity-{self._next_id}"

    async def update_panel_card(self, channel: Address, activity_id: str, view: Any) -> None:
        self._record("update_panel_card", channel, activity_id, view)

    async def send_query(self, aad_object_id: str, view: Any, query: QueryRecord) -> bool:
        self._record("send_query", aad_object_id, view, query)
        return aad_object_id not in self.unreachable

    async def send_decision(self, aad_object_id: str, view: Any) -> bool:
        self._record("send_decision", aad_object_id, view)
        return aad_object_id not in self.unreachable

    async def post_answer_notice(self, channel: Address, view: Any, partner_title: str, redacted_answer: str) -> None:
        self._record("post_answer_notice", channel, view, partner_title, redacted_answer)

    async def send_disagreement_prompt(self, aad_object_id: str, view: Any, hours: int) -> bool:
        self._record("send_disagreement_prompt", aad_object_id, view, hours)
        return aad_object_id not in self.unreachable

    async def post_reminder(self, channel: Address, view: Any, *, escalation: bool = False) -> None:
        self._record("post_reminder", channel, view)

    async def send_reminders(self, aad_object_id: str, views: Any) -> bool:
        self._record("send_reminders", aad_object_id, views)
        return aad_object_id not in self.unreachable

    async def send_agency_prompt(self, aad_object_id: str, case: CaseSummary, agencies: list[str]) -> bool:
        self._record("send_agency_prompt", aad_object_id, case, agencies)
        return aad_object_id not in self.unreachable

    async def send_meeting_message(self, kind: str, case: Case, record: MeetingRecord, channel: Address | None,
                                   recipients: list[str], payload: dict[str, Any]) -> bool:
        self._record("send_meeting_message", kind, case, record, channel, recipients, payload)
        return bool(channel) or any(r not in self.unreachable for r in recipients)

    async def send_report_message(self, kind: str, view: Any, channel: Address | None, to: str | None,
                                  payload: dict[str, Any]) -> bool:
        self._record("send_report_message", kind, view, channel, to, payload)
        return bool(channel) or (to is not None and to not in self.unreachable)

    async def notify_person(self, aad_object_id: str, notice: str, detail: dict[str, Any]) -> bool:
        self._record("notify_person", aad_object_id, notice, detail)
        return aad_object_id not in self.unreachable

    async def send_to_person(self, aad_object_id: str, card: dict[str, Any]) -> bool:
        self._record("send_to_person", aad_object_id, card)
        return aad_object_id not in self.unreachable

    async def send_duplicate_flag(self, aad_object_id: str, case: CaseSummary, first: CaseSummary) -> bool:
        self._record("send_duplicate_flag", aad_object_id, case, first)
        return aad_object_id not in self.unreachable

    async def post_case_notice(self, channel: Address, case: CaseSummary, what: str) -> None:
        self._record("post_case_notice", channel, case, what)

    async def send_file_consent(self, aad_object_id: str, offer: dict[str, Any]) -> bool:
        self._record("send_file_consent", aad_object_id, offer)
        return aad_object_id not in self.unreachable

    async def send_retention_list(self, aad_object_id: str, plans: Any, more: int) -> bool:
        self._record("send_retention_list", aad_object_id, plans, more)
        return aad_object_id not in self.unreachable

    async def replace_with_tombstone(self, address: Address, activity_id: str) -> None:
        self._record("replace_with_tombstone", address, activity_id)


# ---- a whole ServiceContext in memory --------------------------------------------------------------

DEFAULT_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, as the integration tests use
EXAMPLE_PARTNERSHIP = Path(__file__).resolve().parents[2] / "config" / "partnership.example.toml"


def memory_services(*, partnership: PartnershipConfig | None = None, clock: FixedClock | None = None,
                    profile: TimelineProfile | str | None = None, notifier: RecordingNotifier | None = None,
                    meetings: MeetingProvider | None = None, rng: random.Random | None = None) -> ServiceContext:
    """The use cases' context as bot/app.py builds it (`build_services`), on the in-memory
    stores (tests/support/memory_stores.py), a RecordingNotifier, the offline meeting
    provider and a FixedClock (default: Monday 23 Nov 2026, 10:00 UTC). Partnership: the
    example file; profile: "stockport" (a name or a loaded profile).

    The roster is empty: `await seed_members_from_config(ctx)` as the bot does at start.
    The stores are reachable as `ctx.uow.db` (state, `outbox_rows()`, `events()`) and the
    unit of work as `ctx.uow` (`crash_after_writes(n)`)."""
    from bot.app import build_services  # the composition root: imported late (it loads the SDK)
    from tests.support.memory_stores import memory_stores

    partnership = partnership or load_partnership(EXAMPLE_PARTNERSHIP)
    if profile is None or isinstance(profile, str):
        profile = load_profile(profile or "stockport")
    stores = memory_stores(rng or random.Random(7))
    return build_services(stores, partnership, clock or FixedClock(DEFAULT_NOW),  # type: ignore[arg-type]
                          notifier if notifier is not None else RecordingNotifier(), profile=profile,
                          meetings=meetings or OfflineMeetingProvider())
