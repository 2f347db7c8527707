"""bot/teams/activity_json.py reads and writes activities exactly as msrest does."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment, ChannelAccount, ConversationAccount, Mention
from msrest.exceptions import DeserializationError

from bot.teams.activity_json import activity_from_json, activity_to_json
from bot.teams.message_size import wire
from bot.teams.sdk import _LightBodySerializer
from tests.support import activities as A

SERVICE_URL = "https://smba.trafficmanager.net/uk/"
CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Vote", "wrap": True}],
    "actions": [{"type": "Action.Execute", "verb": "panel.vote", "data": {"ref": "RR-2026-0001", "v": 2}}],
}


def _incoming() -> list[dict[str, Any]]:
    teams_fields = A.message(SERVICE_URL, A.PAT, "help")
    teams_fields.update(
        {
            "localTimestamp": "2026-11-23T10:00:00.1234567+00:00",
            "localTimezone": "Europe/London",
            "attachments": [{"contentType": "text/html", "content": "<p>help</p>"}],
            "somethingNew": {"nested": [1, 2.5, None, True]},
        }
    )
    teams_fields["from"]["role"] = "user"
    teams_fields["conversation"]["unknownToTheSchema"] = "kept"
    return [
        A.message(SERVICE_URL, A.PAT, "refer"),
        A.channel_message(SERVICE_URL, A.LAURA, "status"),
        A.submit(
            SERVICE_URL,
            A.RILEY,
            {"verb": "form.next", "ref": "d-1", "v": 3, "answers": {"a": [1, None]}},
            reply_to="1234",
        ),
        A.invoke(
            SERVICE_URL, A.LAURA, "panel.vote", {"verb": "panel.vote", "ref": "RR-2026-0001", "v": 1}, channel=True
        ),
        A.install_personal(SERVICE_URL, A.PAT),
        A.install_team(SERVICE_URL, A.PAT),
        teams_fields,
    ]


@pytest.mark.parametrize("body", _incoming(), ids=lambda body: body["type"] + "-" + str(len(json.dumps(body))))
def test_an_incoming_activity_reads_as_msrest_reads_it(body: dict[str, Any]) -> None:
    ours, theirs = activity_from_json(copy.deepcopy(body)), Activity().deserialize(copy.deepcopy(body))
    assert _state(ours) == _state(theirs)
    assert ours.serialize() == theirs.serialize()


def test_what_is_not_plain_is_read_by_msrest_with_its_errors() -> None:
    odd = A.message(SERVICE_URL, A.PAT, "help")
    odd["id"] = 12345  # a number where the schema says string: msrest's leniency, not ours
    assert _state(activity_from_json(copy.deepcopy(odd))) == _state(Activity().deserialize(copy.deepcopy(odd)))
    broken = A.message(SERVICE_URL, A.PAT, "help")
    broken["timestamp"] = "not a time"
    with pytest.raises(DeserializationError):
        activity_from_json(broken)


def _outgoing() -> list[Activity]:
    incoming = Activity().deserialize(A.channel_message(SERVICE_URL, A.LAURA, "status"))
    reference = TurnContext.get_conversation_reference(incoming)
    card = TurnContext.apply_conversation_reference(
        MessageFactory.attachment(CardFactory.adaptive_card(copy.deepcopy(CARD))), reference
    )
    card.input_hint = "acceptingInput"
    text = TurnContext.apply_conversation_reference(MessageFactory.text("Vote recorded."), reference)
    mention = Activity(
        type=ActivityTypes.message,
        text="<at>Pat</at> please look",
        entities=[Mention(mentioned=ChannelAccount(id="29:pat", name="Pat"), text="<at>Pat</at>", type="mention")],
        conversation=ConversationAccount(id="19:x;messageid=1", is_group=True),
        timestamp=datetime(2026, 12, 6, 22, 0, tzinfo=UTC),
        attachments=[Attachment(content_type="application/vnd.microsoft.card.adaptive", content=copy.deepcopy(CARD))],
        channel_data={"notification": {"alert": True}},
    )
    return [card, text, mention, Activity(type="typing")]


@pytest.mark.parametrize("activity", _outgoing(), ids=lambda activity: str(activity.type))
def test_an_outgoing_activity_writes_as_msrest_writes_it(activity: Activity) -> None:
    assert activity_to_json(activity) == activity.serialize()
    serializer = _LightBodySerializer(Activity._infer_class_models())
    assert activity_to_json(activity) == serializer.body(copy.deepcopy(activity), "Activity")
    assert wire(activity) == activity.serialize()


def test_what_is_not_plain_is_written_by_msrest() -> None:
    activity = MessageFactory.text("x")
    activity.value = {"when": datetime(2026, 12, 6, tzinfo=UTC)}  # not JSON: msrest's rules apply
    assert activity_to_json(activity) == activity.serialize()


def _state(value: Any) -> Any:
    """A model's attributes, all the way down (msrest models compare by identity of class and
    `__dict__`; this shows what differs when they do not)."""
    if hasattr(value, "_attribute_map"):
        return (type(value).__name__, {k: _state(v) for k, v in vars(value).items()})
    if isinstance(value, list):
        return [_state(v) for v in value]
    if isinstance(value, dict):
        return {k: _state(v) for k, v in value.items()}
    return value
