"""A statutory step recorded late asks why, on both databases, through /api/messages: the
National Panel notification (5 working days from awareness) marked done from the timeline, and
the rapid review report (15 working days from the referral) recorded as sent. The reason is
refused while it holds an identifier, kept sealed with the case, audited without its text and
given by the timeliness report instead of "no reason recorded" (bot/services/late_reasons.py).

Dates (Europe/London): aware Sat 21 Nov 2026, referred and decided Mon 23 Nov; the notification
is due Fri 27 Nov; the report is due Mon 14 Dec.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.services import timeliness
from tests.support import activities as A
from tests.support import whole_case as W
from tests.support.harness import BotHarness, without_reference

NOTIFIED_LATE = "The local authority's duty manager was on leave; the cover rota has since been fixed."
REPORT_LATE = "The police disclosure came after the criminal trial's first hearing."


async def test_late_notification_and_report_need_a_reason_given_in_the_timeliness_report(
        tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await W.refer(h)
        await W.decide(h, "rapid_review")
        await W.at(h, W.london(2026, 11, 30))

        # Marked done after its due day: refused without a reason, or with an identifier in it.
        body = await W.mark_done(h, A.LAURA, "notify_national_panel", done_on="2026-11-30")
        assert "Fri 27 Nov 2026: say why it was done later" in without_reference(json.dumps(body["value"]))
        body = await W.mark_done(h, A.LAURA, "notify_national_panel", done_on="2026-11-30",
                                 late_reason="The mother, on 07700 900123, asked us to wait.")
        assert "phone number" in json.dumps(body["value"])
        assert (await W.step_row(h, "notify_national_panel")).status == "open"
        body = await W.mark_done(h, A.LAURA, "notify_national_panel", done_on="2026-11-30", late_reason=NOTIFIED_LATE)
        assert body["statusCode"] == 200, body
        # On time needs none.
        await W.hold_meeting(h, local_review=False)
        await W.report_sent(h, comments_at=W.london(2026, 12, 3, 9), sent_at=W.london(2026, 12, 15),
                            late_reason=REPORT_LATE)

        cid = await W.case_id(h)
        kept = await h.c.stores.deadlines.case_records(cid, "late_reason")
        assert {step: record["reason"] for step, record in kept.items()} == {
            "notify_national_panel": NOTIFIED_LATE, "report_to_national_panel": REPORT_LATE}
        events = await h.c.stores.cases.events_for_case(cid)
        audited = json.dumps([e.detail for e in events])
        assert NOTIFIED_LATE not in audited and REPORT_LATE not in audited and "07700" not in audited
        assert [(e.kind, e.detail.get("step")) for e in events if e.detail.get("late_reason")] == [
            ("deadline_done", "notify_national_panel"), ("report_sent", None)]
        if database_url.startswith("sqlite"):  # sealed at rest
            raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
            assert NOTIFIED_LATE.encode() not in raw and REPORT_LATE.encode() not in raw

        report = await timeliness.compute(h.c.services, 2026)
        assert (W.REF, "National Panel notifications within 5 working days", NOTIFIED_LATE) in report.misses()
        assert (W.REF, "Reports to the National Panel within 15 working days", REPORT_LATE) in report.misses()
        assert timeliness.NO_REASON not in json.dumps(report.misses())
