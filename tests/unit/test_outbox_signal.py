"""A vote's card update goes to the dispatcher only after the voter's answer, and then only once
the settling time has passed: the voter's client must end on the channel's card, not on the
voter's own answer (Agents Playground applied a PUT sent straight after the answer first)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bot.domain import trace
from bot.services.signal import HandedCard, OutboxSignal


def _card() -> HandedCard:
    return cast(HandedCard, object())


def _answer_sent(turn: trace.Turn) -> None:
    """What the edge does once the turn's answer is on its way (bot/adapters/inbound.py)."""
    for work in turn.after_answer:
        work()


async def test_a_handed_card_waits_for_the_answer_and_then_the_settling_time(monkeypatch) -> None:
    loop = asyncio.get_running_loop()
    timers: list[tuple[float, Any, tuple[Any, ...]]] = []
    monkeypatch.setattr(loop, "call_later", lambda delay, callback, *args: timers.append((delay, callback, args)))
    signal = OutboxSignal(card_after_answer_seconds=0.25)
    token = trace.begin("channel", "19:panel")
    try:
        turn = trace.current()
        assert turn is not None
        signal.hand_over(card := _card())
        assert signal._cards.empty(), "nothing before the answer"
        _answer_sent(turn)
    finally:
        trace.end(token)
    assert signal._cards.empty(), "nothing straight after the answer either"
    [(delay, callback, args)] = timers
    assert delay == 0.25
    callback(*args)  # the timer fires
    assert await signal.next_card() is card


async def test_without_a_settling_time_the_card_goes_with_the_answer() -> None:
    signal = OutboxSignal()
    token = trace.begin("channel", "19:panel")
    try:
        turn = trace.current()
        assert turn is not None
        signal.hand_over(card := _card())
        assert signal._cards.empty()
        _answer_sent(turn)
    finally:
        trace.end(token)
    assert signal._cards.get_nowait() is card


async def test_outside_a_turn_the_card_goes_at_once() -> None:
    signal = OutboxSignal(card_after_answer_seconds=0.25)
    signal.hand_over(card := _card())
    assert signal._cards.get_nowait() is card
