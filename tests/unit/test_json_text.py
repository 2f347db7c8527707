"""A message body written as JSON once (bot/domain/json_text.py): the text measured against the
size budget is the text sent and sealed, and never stale."""

from __future__ import annotations

import copy
import json
from zoneinfo import ZoneInfo

import pytest

from bot.domain.json_text import MeasuredJson, json_text, measured, measured_with
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


def test_a_measured_member_inside_is_spliced_in_whole() -> None:
    inner = measured({"a": [1, "é"]})
    outer = measured_with({"x": None, "value": inner, "y": {"z": True}}, "value")
    assert json.loads(outer.text) == {"x": None, "value": {"a": [1, "é"]}, "y": {"z": True}}
    assert json.loads(measured_with({"value": inner}, "value").text) == {"value": {"a": [1, "é"]}}


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
