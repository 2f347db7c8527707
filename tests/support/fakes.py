"""Fakes of the ports the use cases talk through, for tests that run the services
without Teams (and, with `memory_stores`, without a database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.case import Case, CaseSummary
from bot.services.ports import Address, MeetingRecord, QueryRecord


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

    async def post_reminder(self, channel: Address, view: Any) -> None:
        self._record("post_reminder", channel, view)

    async def send_agency_prompt(self, aad_object_id: str, case: CaseSummary, agencies: list[str]) -> bool:
        self._record("send_agency_prompt", aad_object_id, case, agencies)
        return aad_object_id not in self.unreachable

    async def send_meeting_message(self, kind: str, case: Case, record: MeetingRecord, channel: Address | None,
                                   recipients: list[str], payload: dict[str, Any]) -> bool:
        self._record("send_meeting_message", kind, case, record, channel, recipients, payload)
        return bool(channel) or any(r not in self.unreachable for r in recipients)

    async def notify_person(self, aad_object_id: str, notice: str, detail: dict[str, Any]) -> bool:
        self._record("notify_person", aad_object_id, notice, detail)
        return aad_object_id not in self.unreachable

    async def send_to_person(self, aad_object_id: str, card: dict[str, Any]) -> bool:
        self._record("send_to_person", aad_object_id, card)
        return aad_object_id not in self.unreachable
