"""Training mode's additions to cards: the banner every card carries, and the training
commands on the help card. Applied in one place each (bot/turns/training.py), never by the
card builders themselves."""

from __future__ import annotations

import copy

from cards.common import Element, escape_markdown, facts, heading, para
from cards.common import person as shown

BANNER_ID = "training-banner"
TRAINING_COMMANDS = [
    ("act as Laura", "act as someone else: a first name, full name or role (police, health, chair, manager, "
                     "referrer); act as me to stop"),
    ("inbox", "the messages waiting for the person you act as"),
    ("advance 2 working days", "move the training clock (also: advance 3 hours, advance to Tue 15 Dec 10:00, "
                               "advance to the meeting); due reminders and prompts go out at once"),
    ("today", "the training date and time"),
    ("demo case", "submit a synthetic referral (Demo Child) as Riley Referrer, ready for the panel's vote"),
]


def banner(training_date: str, acting: str | None = None) -> Element:
    """The training banner: words, not colour alone."""
    items: list[Element] = [
        {"type": "TextBlock", "text": "TRAINING — not a real case", "weight": "Bolder", "wrap": True},
        {"type": "TextBlock", "text": f"Training date: {training_date}", "size": "Small", "wrap": True,
         "spacing": "None"},
    ]
    if acting:
        items.append({"type": "TextBlock", "text": f"Acting as {escape_markdown(shown(acting))}", "size": "Small", "wrap": True,
                      "spacing": "None"})
    return {"type": "Container", "id": BANNER_ID, "style": "attention", "items": items}


def with_banner(card: Element, training_date: str, acting: str | None = None) -> Element:
    """A copy of the card with the banner at the top (a card that has one already is kept as it is)."""
    body = card.get("body") or []
    if body and isinstance(body[0], dict) and body[0].get("id") == BANNER_ID:
        return card
    wrapped = copy.copy(card)
    wrapped["body"] = [banner(training_date, acting), *body]
    return wrapped


def with_training_help(card: Element) -> Element:
    """The help card with the training commands added."""
    wrapped = copy.copy(card)
    wrapped["body"] = [*card.get("body", []), heading("Training commands", size="Medium"),
                       facts(TRAINING_COMMANDS)]
    return wrapped


def inbox_note(person: str, sent_at: str) -> Element:
    return para(f"*Inbox of {escape_markdown(shown(person))} · sent {sent_at}*", subtle=True, size="Small")
