"""JSON columns are written and read by orjson (bot/adapters/db/json_codec.py), as strict as
the standard library about what is not JSON, and able to read what it wrote before."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.adapters.db.json_codec import column_text, column_value


@dataclass
class _Thing:
    name: str


def test_a_value_is_stored_as_the_same_json_and_read_back_as_it_was() -> None:
    value = {"sealed": "rrenc:v1.k1." + "A" * 4000, "detail": {"partner": "police", "round": 2, "é": ["Zoë", None, 1.5]},
             3: True}
    text = column_text(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert column_value(text) == json.loads(json.dumps(value))
    assert column_text(None) == "null" and column_value("null") is None


@pytest.mark.parametrize("not_json", [datetime(2026, 12, 7, tzinfo=UTC), _Thing("x"), object()])
def test_what_is_not_json_is_refused_as_the_standard_library_refused_it(not_json: object) -> None:
    with pytest.raises(TypeError):
        column_text({"at": not_json})


def test_what_orjson_cannot_handle_goes_through_the_standard_library() -> None:
    assert column_value(column_text({"n": 2**70})) == {"n": 2**70}
    assert column_value('{"x": NaN}')["x"] != column_value('{"x": NaN}')["x"]  # NaN, as json.loads read it
