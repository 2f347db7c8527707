"""Sample dry runs for the retention cards' unit tests (accessibility, size budget)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.lifecycle import CaseStatus
from bot.domain.retention import ErasureBasis, HoldKind, RetentionOutcome
from bot.services.ports import Address, BotMessage, DeliveredFile, ErasurePlan, ErasureRecord, HoldRecord

WHEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def plan(i: int = 1, *, messages: int = 6, files: int = 2, held: bool = False, name: str = "Dana Protection",
         action: str | None = "scrub") -> ErasurePlan:
    address = Address("19:panel@thread.tacv2", "https://smba.trafficmanager.net/uk/")
    return ErasurePlan(
        case_id=f"case-{i}", reference=f"RR-2016-{i:04d}", status=CaseStatus.CLOSED,
        outcome=RetentionOutcome.RAPID_REVIEW, received_at=WHEN - timedelta(days=3700),
        closed_at=WHEN - timedelta(days=3660), due_on=(WHEN - timedelta(days=10)).date(),
        messages=[BotMessage(f"19:c{m}", f"1:{m}", "panel card" if m == 0 else "personal message",
                             address if m % 5 else None) for m in range(messages)],
        meeting_event_id="AAMk-event" if action else None, meeting_start=WHEN - timedelta(days=3690),
        meeting_action=action,
        files=[DeliveredFile("rapid_review_record", f"aad-{f}", WHEN - timedelta(days=3680),
                             WHEN - timedelta(days=3679) if f % 2 == 0 else None) for f in range(files)],
        holds=[HoldRecord(1, f"case-{i}", HoldKind.INQUEST, WHEN - timedelta(days=30), name,
                          reference=f"RR-2016-{i:04d}")] if held else [],
        reminders=3, outbox_rows=17)


def names(files: int = 2, name: str = "Dana Protection") -> dict[str, str]:
    return {f"aad-{f}": f"{name} {f}" for f in range(files)}


def record(already: bool = False) -> ErasureRecord:
    p = plan()
    return ErasureRecord(case_id=p.case_id, reference=p.reference, basis=ErasureBasis.RETENTION,
                         outcome=p.outcome, confirmed_by_name="Dana Protection", started_at=WHEN, finished_at=None,
                         plan={"messages": [{"conversation_id": "c", "activity_id": "a", "what": "panel card"}],
                               "meeting": {"event_id": "e", "action": "cancel"}})


def holds(n: int = 3, name: str = "Dana Protection") -> list[HoldRecord]:
    return [HoldRecord(i, f"case-{i}", list(HoldKind)[i % 4], WHEN, name, reference=f"RR-2016-{i:04d}")
            for i in range(n)]
