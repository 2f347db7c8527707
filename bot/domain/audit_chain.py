"""The audit trail as a hash chain: each row carries its predecessor's hash, so an edited,
inserted or deleted row is found by recomputing the chain.

A row's hash is SHA-256 over a canonical encoding (sorted keys, no spaces, ASCII JSON) of
its stored fields and its predecessor's hash. The first row's predecessor is `GENESIS`. The
encoding is versioned (`v`): rows already written keep the version they were hashed with,
so the encoding can never change under them.

The database also refuses UPDATE and DELETE on the table (bot/adapters/db/migrations,
"audit chain"); the chain is what proves, after the fact, that nothing got round that —
a restored backup, a superuser who disabled the triggers, an edited file. What a chain
alone cannot show is rows removed from the END: the verifier prints the head hash and
the row count so an operator can keep them elsewhere and compare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
ENCODING_VERSION = 1
HASHED_FIELDS = ("case_id", "at", "kind", "actor_aad_id", "actor_name", "detail", "correlation",
                 "conversation_kind", "conversation_id")


def _instant(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(fields: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes a row's hash covers. `detail` is normalised through JSON first, as the
    database stores it (tuples become lists), so a row hashes the same before and after
    the round trip."""
    payload = {name: _instant(fields.get(name)) for name in HASHED_FIELDS}
    payload["detail"] = json.loads(json.dumps(payload["detail"] or {}))
    payload["prev"] = prev_hash
    payload["v"] = ENCODING_VERSION
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def row_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical(fields, prev_hash)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first row at which the stored chain and the recomputed one part."""

    row_id: int
    kind: str
    at: Any
    reason: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head: str  # the last row's hash (GENESIS for an empty trail): keep it to detect a cut tail
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


class ChainWalk:
    """The rows fed in id order, one at a time (a trail of millions is checked in constant
    memory); each must name its predecessor's hash and hash to what it stores."""

    def __init__(self) -> None:
        self.head = GENESIS
        self.rows = 0
        self.broken: ChainBreak | None = None

    def step(self, row: Mapping[str, Any]) -> bool:
        """False at the first break: everything after it is unproven anyway."""
        stored_prev, stored_hash = row.get("prev_hash"), row.get("row_hash")
        reason = None
        if stored_prev != self.head:
            reason = "does not follow the row before it (a row was deleted or inserted before it)"
        elif stored_hash != row_hash(row, self.head):
            reason = "its content does not match its hash (the row was edited)"
        if reason is not None:
            self.broken = ChainBreak(int(row["id"]), str(row.get("kind")), row.get("at"), reason)
            return False
        self.rows += 1
        self.head = str(stored_hash)
        return True

    def report(self) -> ChainReport:
        return ChainReport(self.rows, self.head, self.broken)


def verify(rows: Iterable[Mapping[str, Any]]) -> ChainReport:
    walk = ChainWalk()
    for row in rows:
        if not walk.step(row):
            break
    return walk.report()
