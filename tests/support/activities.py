"""Synthetic Teams activities, shaped like what Teams sends (never real case data).

Ids match config/partnership.example.toml and .m365agentsplayground.yml.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

TENANT = "00000000-0000-0000-0000-0000000000aa"
BOT_ID = "28:00000000-0000-0000-0000-0000000000b0"
TEAM_ID = "19:safeguarding-partnership-general@thread.tacv2"
PANEL_CHANNEL_ID = "19:rapid-review-panel@thread.tacv2"


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    aad: str

    @property
    def mri(self) -> str:
        return f"29:{self.key}"

    @property
    def chat(self) -> str:
        return f"a:personal-{self.key}"


RILEY = Person("riley-referrer", "Riley Referrer", "00000000-0000-0000-0000-00000000a001")
PAT = Person("pat-manager", "Pat Manager", "00000000-0000-0000-0000-00000000a002")
CHRIS = Person("chris-chair", "Chris Chair", "00000000-0000-0000-0000-00000000a003")
LAURA = Person("laura-localauthority", "Laura LocalAuthority", "00000000-0000-0000-0000-00000000a004")
DAN = Person("dan-police", "Dan Police", "00000000-0000-0000-0000-00000000a005")
NINA = Person("nina-health", "Nina Health", "00000000-0000-0000-0000-00000000a006")
DEE = Person("dee-deputy", "Dee Deputy", "00000000-0000-0000-0000-00000000a007")
MALLORY = Person("mallory-outsider", "Mallory Outsider", "00000000-0000-0000-0000-00000000a0ff")

_ids = itertools.count(1)


def _base(service_url: str, person: Person, conversation: dict[str, Any], tenant: str = TENANT) -> dict[str, Any]:
    return {
        "id": f"act-{next(_ids)}-{uuid.uuid4().hex[:8]}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2026-11-23T10:00:00.000Z",
        "from": {"id": person.mri, "name": person.name, "aadObjectId": person.aad},
        "recipient": {"id": BOT_ID, "name": "Rapid Review"},
        "conversation": conversation,
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-GB",
    }


def personal_conversation(person: Person, tenant: str = TENANT) -> dict[str, Any]:
    return {"id": person.chat, "conversationType": "personal", "tenantId": tenant}


def channel_conversation(channel_id: str = PANEL_CHANNEL_ID, thread: str | None = None) -> dict[str, Any]:
    conv_id = channel_id + (f";messageid={thread}" if thread else "")
    return {"id": conv_id, "conversationType": "channel", "isGroup": True, "tenantId": TENANT}


def message(service_url: str, person: Person, text: str, *, tenant: str = TENANT) -> dict[str, Any]:
    activity = _base(service_url, person, personal_conversation(person, tenant), tenant)
    activity.update({"type": "message", "text": text, "textFormat": "plain"})
    return activity


def channel_message(service_url: str, person: Person, text: str, *, channel_id: str = PANEL_CHANNEL_ID,
                    thread: str | None = None) -> dict[str, Any]:
    activity = _base(service_url, person, channel_conversation(channel_id, thread))
    activity.update(
        {
            "type": "message",
            "text": f"<at>Rapid Review</at> {text}",
            "entities": [{"type": "mention", "text": "<at>Rapid Review</at>",
                          "mentioned": {"id": BOT_ID, "name": "Rapid Review"}}],
        }
    )
    activity["channelData"].update({"team": {"id": TEAM_ID}, "channel": {"id": channel_id}})
    return activity


def submit(service_url: str, person: Person, data: dict[str, Any], *, reply_to: str | None = None) -> dict[str, Any]:
    """An Action.Submit press: a message with a value and no text."""
    activity = _base(service_url, person, personal_conversation(person))
    activity.update({"type": "message", "value": data})
    if reply_to:
        activity["replyToId"] = reply_to
    return activity


def invoke(service_url: str, person: Person, verb: str, data: dict[str, Any], *, channel: bool = False,
           reply_to: str | None = None, tenant: str = TENANT) -> dict[str, Any]:
    """An Action.Execute press (Universal Actions)."""
    conversation = channel_conversation() if channel else personal_conversation(person, tenant)
    activity = _base(service_url, person, conversation, tenant)
    activity.update(
        {
            "type": "invoke",
            "name": "adaptiveCard/action",
            "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        }
    )
    if channel:
        activity["channelData"].update({"team": {"id": TEAM_ID}, "channel": {"id": PANEL_CHANNEL_ID}})
    if reply_to:
        activity["replyToId"] = reply_to
    return activity


def install_personal(service_url: str, person: Person) -> dict[str, Any]:
    activity = _base(service_url, person, personal_conversation(person))
    activity.update({"type": "conversationUpdate", "membersAdded": [{"id": BOT_ID}]})
    return activity


def install_team(service_url: str, person: Person) -> dict[str, Any]:
    activity = _base(service_url, person, channel_conversation(TEAM_ID))
    activity.update({"type": "conversationUpdate", "membersAdded": [{"id": BOT_ID}]})
    activity["channelData"].update({"team": {"id": TEAM_ID, "name": "Safeguarding Partnership"},
                                    "eventType": "teamMemberAdded"})
    return activity
