"""Reading reminders back from what reached the fake Bot Connector.

A reminder goes to each person who owns the step, in their personal chat, mentioning only
them; several due for one person at once go as one digest card whose sections each read like
a reminder of its own (bot/services/reminder_delivery.py, cards/clock_cards.py). Tests that
ask "who was this reminder for?" read it here as ONE card per reminder: the first copy, with
its mention line and Teams mention entities listing everyone a copy reached. The same reminder
reaching the same chat twice fails at once: that is a message sent twice.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from tests.support.fake_connector import SentActivity
from tests.support.harness import texts, walk

REMINDER_LINE = "Reminder · "
_MENTION_LINE = re.compile(r"^(For|Escalated to) ")


def _alone(section: dict[str, Any], entities: list[dict[str, Any]]) -> dict[str, Any]:
    """A digest's section as the card it would be if it had come alone."""
    body = [e for e in section["items"] if e.get("type") != "ActionSet"]
    actions = [a for e in section["items"] if e.get("type") == "ActionSet" for a in e["actions"]]
    return {"type": "AdaptiveCard", "body": body, "actions": actions, "msteams": {"entities": entities}}


def cards_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The reminders one message carries, each as a card: itself, or a digest's sections."""
    if texts(card).startswith(REMINDER_LINE):
        return [card]
    entities = card.get("msteams", {}).get("entities", [])
    return [_alone(e, entities) for e in card.get("body", [])
            if e.get("type") == "Container" and texts({"body": e["items"]}).startswith(REMINDER_LINE)]


def identity(card: dict[str, Any]) -> tuple[str, str]:
    """(the "Reminder · reference · pseudonym" line, the headline): one reminder."""
    lines = texts(card).splitlines()
    return lines[0], lines[1]


class Delivered(NamedTuple):
    conversation: str
    card: dict[str, Any]
    at: float  # the connector's arrival time


def delivered(sent: Iterable[SentActivity]) -> list[Delivered]:
    """Every reminder in these messages, with where and when it arrived, digests unpacked."""
    found = []
    for activity in sent:
        if activity.kind not in ("send", "reply") or not activity.attachments:
            continue
        content = activity.attachments[0].get("content")
        if isinstance(content, dict):
            found += [Delivered(activity.conversation_id, c, activity.at) for c in cards_of(content)]
    return found


def merged(sent: Iterable[SentActivity]) -> list[dict[str, Any]]:
    """One card per reminder, in the order first sent, mentioning everyone it reached; `reached`
    lists the chats, `at` when the first copy arrived."""
    copies: dict[tuple[str, str], list[Delivered]] = {}
    for one in delivered(sent):
        copies.setdefault(identity(one.card), []).append(one)
    result = []
    for key, found in copies.items():
        chats = [one.conversation for one in found]
        assert len(chats) == len(set(chats)), f"reminder {key} reached the same chat twice"
        first = copy.deepcopy(found[0].card)
        entities = {e["mentioned"]["id"]: e for one in found for e in one.card.get("msteams", {}).get("entities", [])}
        for block in walk(first):
            mention = _MENTION_LINE.match(block.get("text", "")) if block.get("type") == "TextBlock" else None
            if mention:
                block["text"] = f"{mention.group(1)} " + ", ".join(e["text"] for e in entities.values())
        first.setdefault("msteams", {})["entities"] = list(entities.values())
        first["reached"], first["at"] = chats, found[0].at
        result.append(first)
    return result
