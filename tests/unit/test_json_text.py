"""A message body written as JSON once (bot/domain/json_text.py): the text measured against the
size budget is the text sent and sealed, and never stale."""

from __future__ import annotations

import copy
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.json_text import MeasuredJson, OutgoingJson, json_text, measured, outgoing
from bot.domain.partnership import Partner
from bot.teams import sdk
from bot.turns.replies import Reply, invoke_body
from cards import vote_card
from cards.budget import fit_activity, fit_invoke_body, payload_size
from cards.common import CONTENT_TYPE
from tests.unit.test_card_budget import _panel_view

CARD = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "Zoë’s panel 😀"}]}


def test_the_text_kept_is_the_body_it_was_measured_from() -> None:
    card = measured(copy.deepcopy(CARD))
    activity = {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "content": card}], "id": "1"}
    fitted, oversize = fit_activity(activity)
    assert oversize is None and isinstance(fitted, MeasuredJson)
    assert json.loads(fitted.text) == activity
    assert payload_size(fitted) == payload_size(dict(activity)) == len(json_text(activity).encode("utf-16-le"))
    body, oversize = fit_invoke_body({"statusCode": 200, "type": CONTENT_TYPE, "value": card})
    assert oversize is None and json.loads(body.text) == {"statusCode": 200, "type": CONTENT_TYPE, "value": CARD}


def test_a_changed_body_is_written_again_and_a_copy_is_a_plain_dict() -> None:
    card = measured(copy.deepcopy(CARD))
    copied = copy.copy(card)
    assert type(copied) is dict and type(copy.deepcopy(card)) is dict and type({**card}) is dict
    card["refresh"] = {"userIds": ["29:a"]}
    assert json.loads(card.text) == {**CARD, "refresh": {"userIds": ["29:a"]}}
    del card["refresh"]
    card.update(version="1.5")
    assert json.loads(card.text) == {**CARD, "version": "1.5"}


def test_a_measured_member_inside_is_written_with_the_rest() -> None:
    inner = measured({"a": [1, "é"]})
    outer = measured({"x": None, "value": inner, "y": {"z": True}})
    assert json.loads(outer.text) == {"x": None, "value": {"a": [1, "é"]}, "y": {"z": True}}
    assert inner.text in outer.text  # the same text, whoever writes it
    assert measured(outer) is outer  # measured already: not written again


def test_the_member_card_leaves_the_measured_base_card_as_it_was() -> None:
    tz = ZoneInfo("Europe/London")
    view = _panel_view()
    base = vote_card.panel_card(view, tz)
    assert isinstance(base, MeasuredJson)
    member = vote_card.member_card(view, tz, Partner.POLICE, message="Vote recorded.")
    assert len(member["body"]) > len(base["body"])
    assert json.loads(base.text) == base  # the base card's text still says what it holds
    answer = invoke_body(Reply(card=member))
    assert json.loads(answer.text) == {"statusCode": 200, "type": CONTENT_TYPE, "value": member}


def test_botbuilder_sends_a_measured_message_as_its_text() -> None:
    message = measured({"type": "message", "text": "é"})
    written = sdk._LightBodySerializer().body(message, "Activity")
    assert written.content == message.text.encode()
    with pytest.raises(TypeError):  # not a dict msrest could write a second time
        json.dumps(written)


def test_the_base_card_is_rendered_once_per_view() -> None:
    from dataclasses import replace

    tz = ZoneInfo("Europe/London")
    view = _panel_view()
    assert vote_card.panel_card(view, tz) is vote_card.panel_card(view, tz)
    assert vote_card.panel_card(replace(view, round=3), tz) is not vote_card.panel_card(view, tz)


def test_an_outgoing_card_is_shared_by_the_sdks_copy_and_sent_as_the_text_it_was_measured_as() -> None:
    from botbuilder.core import CardFactory, MessageFactory

    card = vote_card.panel_card(_panel_view(), ZoneInfo("Europe/London"))
    plain = json.loads(json.dumps(card))
    sent = MessageFactory.attachment(CardFactory.adaptive_card(outgoing(card)))
    copied = copy.deepcopy(sent)  # what botbuilder's TurnContext.send_activities sends
    content = copied.attachments[0].content
    assert isinstance(content, OutgoingJson) and content.text == card.text
    assert content["body"] is card["body"]  # nothing below the top level walked or copied
    content["fallbackText"] = "A card"  # a change at the top level stays in the copy
    assert "fallbackText" not in card and json.loads(content.text)["fallbackText"] == "A card"
    written = sdk._LightBodySerializer().body(copy.deepcopy(sent), "Activity")
    as_before = sdk._LightBodySerializer().body(MessageFactory.attachment(CardFactory.adaptive_card(plain)), "Activity")
    assert isinstance(written, sdk._WrittenBody) and json.loads(written.content) == as_before
    assert card.text in written.content.decode()  # spliced in, not written again


async def test_a_reply_to_a_caller_expecting_replies_carries_a_plain_card() -> None:
    """msrest writes the buffered replies of deliveryMode expectReplies, and any dict but a plain
    one as its Python repr: those get the card as a plain dict."""
    from botbuilder.core import TurnContext
    from botbuilder.core.adapters import TestAdapter
    from botbuilder.schema import Activity, DeliveryModes, ExpectedReplies

    from bot.teams.handler import say

    card = measured(copy.deepcopy(CARD))
    replies: list[Any] = []

    async def logic(turn_context: TurnContext) -> None:
        await say(turn_context, Reply(card=card))
        replies.extend(turn_context.buffered_reply_activities)

    await TestAdapter(logic).receive_activity(
        Activity(type="message", text="hi", delivery_mode=DeliveryModes.expect_replies))
    assert type(replies[0].attachments[0].content) is dict
    assert ExpectedReplies(activities=replies).serialize()["activities"][0]["attachments"][0]["content"] == CARD


def test_the_text_is_what_the_standard_library_wrote_without_the_spaces() -> None:
    """orjson writes the JSON (bot/domain/json_text.py): the same values as `json.dumps(…,
    ensure_ascii=False, default=str)`, dates and dataclasses as their text as before, keys that
    are not strings as strings, and what orjson refuses by the standard library."""
    from dataclasses import dataclass
    from datetime import UTC, date, datetime

    @dataclass
    class Marker:
        name: str

    value = {"text": "Zoë’s panel 😀 \u2028", 7: [True, None, 1.5], "at": datetime(2026, 12, 7, 15, 0, tzinfo=UTC),
             "day": date(2026, 12, 7), "marker": Marker("m"), "nested": measured({"a": "é"})}
    written = json_text(value)
    assert json.loads(written) == json.loads(json.dumps(value, ensure_ascii=False, default=str))
    assert ", " not in written and '": ' not in written and "Zoë’s panel 😀" in written
    assert json.loads(written)["at"] == "2026-12-07 15:00:00+00:00"  # str(datetime), as json.dumps(default=str)
    for refused in ({"n": 2**70}, {"s": "\ud800"}):  # beyond 64 bits; a lone surrogate
        assert json_text(refused) == json.dumps(refused, ensure_ascii=False)
