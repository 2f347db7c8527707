"""A message body serialised once: the JSON text written to measure it against Teams' size
budget (cards/budget.py) is the text that goes on the wire and the text sealed as the
remembered answer (bot/adapters/envelope.py), instead of one `json.dumps` of the same card
at each of those steps (the vote's profile counted seven of them per vote).

`MeasuredJson` is a dict, so everything that reads a body reads it as before. Its text is
only trusted while the dict is unchanged at the top level: setting, deleting or updating a
key forgets the text, and a copy (`copy.copy`, `dict(...)`, `{**...}`) is a plain dict, so a
card changed after it was measured (a send key added, training mode's banner) is written
afresh. Nested values are never changed in place after a card is built (cards/ builds new
lists and dicts for every change), which is what makes keeping the text safe.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# orjson writes what `json.dumps(value, ensure_ascii=False, default=str)` wrote, without the
# spaces after `,` and `:`, in a seventh of the time: the cards' JSON was a tenth of a vote's
# instructions (counted with valgrind's callgrind under tests/bench/bench.py's vote workload).
# Dates and dataclasses go to `default` as they did (here their text; the JSON columns,
# bot/adapters/db/json_codec.py, refuse them), never orjson's own rendering of them.
ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """The JSON text of a message body as it is measured and sent: not ASCII-escaped (Teams
    counts characters, in UTF-16), no spaces, anything not JSON as its text. What orjson
    refuses (an integer beyond 64 bits, a lone surrogate) is written by the standard library."""
    try:
        return orjson.dumps(value, default=str, option=ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, default=str)


def utf16_size(text: str) -> int:
    """Bytes as Teams counts them: the text encoded as UTF-16."""
    return len(text.encode("utf-16-le"))


class MeasuredJson(dict[str, Any]):
    """A JSON object with the text it serialises to, kept while the object is unchanged."""

    __slots__ = ("_text",)

    def __init__(self, value: dict[str, Any], text: str) -> None:
        super().__init__(value)
        self._text: str | None = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json_text(self)
        return self._text

    # Any change at the top level forgets the text (it is written again when next asked for).
    def __setitem__(self, key: str, value: Any) -> None:
        self._text = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._text = None
        super().__delitem__(key)

    def __ior__(self, other: Any) -> MeasuredJson:  # type: ignore[override,misc]
        self._text = None
        super().__ior__(other)
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._text = None
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._text = None
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self._text = None
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._text = None
        return super().popitem()

    def clear(self) -> None:
        self._text = None
        super().clear()

    def __copy__(self) -> dict[str, Any]:
        return dict(self)  # a copy is changed next (a send key, a banner): a plain dict

    def __reduce__(self) -> Any:  # pickled or deep-copied as the plain dict it is
        return (dict, (dict(self),))


class OutgoingJson(MeasuredJson):
    """A measured card handed to an SDK to send. Both Teams SDKs deep-copy every activity they
    send (`TurnContext.send_activities`) so that their own changes to it — its conversation,
    ids, input hint — never reach the caller's object; those are changes to the activity, never
    to a card in it. A measured card is never changed in place below its top level (see above),
    so its deep copy shares everything below the top level and keeps its text: the card is not
    walked node by node (a third of a referral form step's reply, tests/bench/bench.py) and the
    text measured is still the text sent."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> OutgoingJson:
        return OutgoingJson(self, self.text)


def outgoing(value: dict[str, Any]) -> OutgoingJson:
    """`value` as a card to hand to an SDK, its JSON text written now unless it was measured."""
    if isinstance(value, OutgoingJson):
        return value
    return OutgoingJson(value, value.text if isinstance(value, MeasuredJson) else json_text(value))


def measured(value: dict[str, Any]) -> MeasuredJson:
    """`value` with its JSON text written now."""
    if isinstance(value, MeasuredJson):
        return value
    return MeasuredJson(value, json_text(value))
