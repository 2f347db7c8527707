"""How the use cases reach the outbox dispatcher without holding it.

Use cases and the dispatcher need each other (a use case's messages wake the dispatcher;
the dispatcher runs use cases to deliver them), so neither holds the other: both hold
this signal, built first by the composition root. A use case kicks it after committing
messages; the vote hands over the card update it already rendered, so the channel card
changes at once without a second read of the case (the performance work). When no
dispatcher runs in this process (tests, a process stopping), nothing is handed over and
the ordinary outbox pass delivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain import trace
from bot.services.ports import Address, OutboxItem

if TYPE_CHECKING:
    from bot.services.panel import PanelView


@dataclass(frozen=True)
class HandedCard:
    """A card update claimed in the use case's own transaction, with the view rendered."""

    item: OutboxItem
    view: PanelView
    activity_id: str
    channel: Address | None = None  # the panel channel as the turn read it; None: read it when delivering


class OutboxSignal:
    def __init__(self, card_after_answer_seconds: float = 0.0) -> None:
        """`card_after_answer_seconds`: how long a handed card waits after the turn's answer has
        gone back (Settings.card_update_after_answer_ms; none in tests)."""
        self._card_after_answer = card_after_answer_seconds
        self._wake = asyncio.Event()
        self._cards: asyncio.Queue[HandedCard] = asyncio.Queue()
        self._dispatcher_running = False

    def kick(self) -> None:
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        """Until kicked or `timeout` seconds pass; the kick is consumed."""
        with contextlib.suppress(TimeoutError):  # no kick in time: an idle poll is due anyway
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        self._wake.clear()

    @property
    def takes_cards(self) -> bool:
        """A dispatcher runs here: a use case may claim a card update for immediate delivery."""
        return self._dispatcher_running

    def dispatcher_started(self) -> None:
        self._dispatcher_running = True

    def dispatcher_stopped(self) -> None:
        self._dispatcher_running = False

    def hand_over(self, card: HandedCard) -> None:
        """Queued once the turn's answer has gone back (bot/domain/trace.py): a client that
        shows both, the voter's own answer and the channel's update, ends on the update.

        The answer and the update reach the voter's client by different routes (the invoke's
        HTTP answer; the connector's PUT), and a client applies them in the order they arrive:
        Agents Playground applied a PUT sent straight after the answer before the answer itself,
        so the voter's own "Vote recorded" card stayed on the channel's card. So the update
        waits a moment after the answer. A process that dies meanwhile loses nothing: the row
        is in the outbox, claimed with a lease, and the ordinary pass delivers it."""
        if not trace.after_answer(lambda: self._queue_card_later(card)):
            self._cards.put_nowait(card)

    def _queue_card_later(self, card: HandedCard) -> None:
        if self._card_after_answer <= 0:
            self._cards.put_nowait(card)
        else:
            asyncio.get_running_loop().call_later(self._card_after_answer, self._cards.put_nowait, card)

    async def next_card(self) -> HandedCard:
        return await self._cards.get()
