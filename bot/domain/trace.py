"""Which turn is running: its correlation id and the conversation it came from.

The edge (bot/teams/edge.py) begins a turn for every request it accepts; the error reply,
the failure's log line and every audit row written during that turn carry the same short
correlation id, so a message someone quotes ("reference ab12cd34") leads to the log and to
the audit trail (docs/architecture.md, "Confidentiality"). A plain `contextvars.ContextVar`:
the use cases and the stores read it without a port, and no caller passes it along.
Outside a turn (the outbox, the scheduler) there is none.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextvars import Context, ContextVar, Token
from dataclasses import dataclass, field

# Teams' conversationType values, as stored in the events table.
CONVERSATION_KINDS = frozenset({"personal", "channel", "groupChat"})


@dataclass(frozen=True)
class Turn:
    correlation: str
    conversation_kind: str | None = None
    conversation_id: str | None = None
    # Work to start once the turn's answer has been sent (bot/teams/edge.py runs it).
    after_answer: list[Callable[[], None]] = field(default_factory=list)
    # What the turn has read that only the turn itself could change meanwhile (the bound
    # channels, bot/adapters/db/roster_store.py): the access gate's read serves the rest of it.
    reads: dict[str, object] = field(default_factory=dict)


_current: ContextVar[Turn | None] = ContextVar("rapid_review_turn", default=None)


def new_correlation() -> str:
    """Eight hex characters: short enough to read out, enough to tell a day's turns apart."""
    return secrets.token_hex(4)


def begin(conversation_kind: str | None, conversation_id: str | None) -> Token[Turn | None]:
    """A new turn; hand the token to `end` when the turn is over."""
    kind = conversation_kind if conversation_kind in CONVERSATION_KINDS else None
    return _current.set(Turn(new_correlation(), kind, (conversation_id or None) and conversation_id[:400]))


_ended: list[Turn | None] = [None]  # the turn that ended last, in any context (the loop probe's)


def end(token: Token[Turn | None]) -> None:
    _ended[0] = _current.get()
    _current.reset(token)


def ended_last() -> Turn | None:
    """The turn `end` was last called for: a callback that began and ended a whole turn leaves no
    turn in its context, so the benchmark's loop probe asks this instead."""
    return _ended[0]


def forget_ended() -> None:
    _ended[0] = None


def current() -> Turn | None:
    return _current.get()


def current_in(context: Context) -> Turn | None:
    """The turn of another context (the benchmark's loop probe reads the callbacks' contexts)."""
    return context.get(_current)


def reads() -> dict[str, object] | None:
    """This turn's reads kept for the rest of it (None outside a turn: nothing is kept)."""
    turn = current()
    return turn.reads if turn is not None else None


def after_answer(work: Callable[[], None]) -> bool:
    """Start `work` once this turn's answer has gone back (False outside a turn: start it now).

    The case card's update after a vote must reach Teams after the voter's own answer, or a
    client that shows both (the voter's) ends on the older of the two."""
    turn = current()
    if turn is None:
        return False
    turn.after_answer.append(work)
    return True


def reference(text: str, correlation: str | None = None) -> str:
    """`text` with the turn's reference appended — what every error reply says."""
    correlation = correlation or (turn.correlation if (turn := current()) else None)
    return f"{text} (reference {correlation})" if correlation else text
