"""How JSON columns are written and read: by orjson, for every engine of `Database`.

Why: a vote stores its remembered answer (a sealed card, several kilobytes of base64 inside a
JSON string), its event's detail and its outbox row's payload as JSON; the standard library's
encoder escaped those strings character by character. orjson writes the same JSON (without the
spaces) and reads it back as the same Python values.

It stays as strict as the standard library where that matters: a value that is not JSON (a
date, a dataclass, any object) is refused with TypeError, never stored as some rendering of it.
What orjson cannot write or read but the standard library can (an integer beyond 64 bits; a
`NaN` written by an earlier version) goes through the standard library.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from bot.domain.json_text import ORJSON_OPTIONS


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def column_text(value: Any) -> str:
    """A JSON column's value as stored."""
    try:
        return orjson.dumps(value, default=_refuse, option=ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def column_value(text: str | bytes) -> Any:
    """A stored JSON column's value."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


JSON_CODEC: dict[str, Any] = {"json_serializer": column_text, "json_deserializer": column_value}
