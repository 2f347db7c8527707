"""docs/architecture.md shows the lifecycle table as the code has it (run this module to
print the table after changing bot/domain/lifecycle.py)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.domain.lifecycle import MOVES, CaseStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def lifecycle_table() -> str:
    rows = ["| from | to | who may | what it means |", "| --- | --- | --- | --- |"]
    rows += [f"| `{m.source.value}` | `{m.target.value}` | {', '.join(sorted(x.value for x in m.by))} | {m.why} |"
             for m in MOVES]
    return "\n".join(rows)


def test_the_documented_lifecycle_is_the_code_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- lifecycle-table:.*?-->\n(.*?)\n<!-- /lifecycle-table -->", text, re.S)
    assert found, "the lifecycle table's markers are missing from docs/architecture.md"
    assert found.group(1).strip() == lifecycle_table()


def test_every_status_but_referred_can_be_reached_and_every_open_one_left() -> None:
    targets = {m.target for m in MOVES}
    sources = {m.source for m in MOVES}
    assert set(CaseStatus) - {CaseStatus.REFERRED} <= targets
    assert {s for s in CaseStatus if s.is_open} <= sources


if __name__ == "__main__":
    print(lifecycle_table())
