"""Bot Framework activities to and from their wire JSON, without msrest's generic walk.

botbuilder reads every incoming activity with msrest (`Activity().deserialize(body)`) and
writes every reply with it (the connector client's body serialiser, and
bot/teams/message_size.py measuring the reply as Teams will count it). msrest looks up each
attribute through key extractors, type tables and validation for every node, about half a
millisecond an activity each way on this machine: a tenth of a dialog step's CPU
(tests/bench/bench.py, README "Performance").

The activity schema is a fixed tree of msrest models whose attributes are plain strings,
booleans, JSON objects, ISO timestamps, other models and lists of them. This module walks that
tree directly, with the table of each model's attributes built once. Whatever falls outside
those plain cases (a number where a string belongs, a model with validation rules or
flattened keys, a value of a type JSON has no name for) goes through msrest as before, so the
result is always msrest's own; tests/unit/test_activity_json.py checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from botbuilder.schema import Activity
from msrest.serialization import Deserializer, Model, Serializer

from bot.domain.json_text import MeasuredJson


class _Unusual(Exception):  # noqa: N818 - not an error: the value takes msrest's own path
    """A value outside the plain cases: msrest handles it."""


_MODELS: dict[str, type[Model]] = Activity._infer_class_models()
_PLAIN = (str, int, float, bool)


_FIELDS: dict[type[Model], tuple[tuple[str, str, str], ...]] = {}
_READERS: dict[type[Model], tuple[dict[str, None], dict[str, tuple[str, str]]]] = {}


def _fields(model: type[Model]) -> tuple[tuple[str, str, str], ...]:
    """(attribute, JSON key, msrest type) of each attribute, worked out once per model; a model
    msrest treats specially (validation rules, flattened or escaped keys, additional
    properties, subtypes) is unusual."""
    known = _FIELDS.get(model)
    if known is not None:
        return known
    if getattr(model, "_validation", None) or getattr(model, "_subtype_map", None):
        raise _Unusual(model.__name__)
    fields = []
    for attribute, description in model._attribute_map.items():
        key = description["key"]
        if not key or "." in key or "\\" in key or attribute == "additional_properties":
            raise _Unusual(model.__name__)
        fields.append((attribute, key, description["type"]))
    _FIELDS[model] = tuple(fields)
    return _FIELDS[model]


# ---- reading -------------------------------------------------------------------------------------


def _copy_json(value: Any) -> Any:
    """msrest's reading of an `object` attribute: the JSON value, dicts and lists copied."""
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if value is None or kind in _PLAIN:
        return value
    raise _Unusual(kind.__name__)


def _read_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "str":
        if type(value) is not str:
            raise _Unusual(kind)
        return value
    if kind == "bool":
        if type(value) is not bool:
            raise _Unusual(kind)
        return value
    if kind == "object":
        return _copy_json(value)
    if kind == "iso-8601":
        return Deserializer.deserialize_iso(value)
    if kind.startswith("["):
        if type(value) is not list:
            raise _Unusual(kind)
        inner = kind[1:-1]
        return [_read_value(item, inner) for item in value]
    model = _MODELS.get(kind)
    if model is None or isinstance(model, type) and issubclass(model, Enum) or type(value) is not dict:
        raise _Unusual(kind)
    return _read_model(model, value)


def _readers(model: type[Model]) -> tuple[dict[str, None], dict[str, tuple[str, str]]]:
    """Every attribute set to None (msrest passes each to the constructor), and for each JSON
    key its attribute and type; worked out once per model."""
    known = _READERS.get(model)
    if known is None:
        fields = _fields(model)
        known = _READERS[model] = (
            {attribute: None for attribute, _, _ in fields},
            {key: (attribute, kind) for attribute, key, kind in fields},
        )
    return known


def _read_model(model: type[Model], data: dict[str, Any]) -> Model:
    empty, by_key = _readers(model)
    values: dict[str, Any] = dict(empty)
    extra: dict[str, Any] = {}
    for key, value in data.items():
        field = by_key.get(key)
        if field is None:
            extra[key] = value
        elif value is not None:
            values[field[0]] = _read_value(value, field[1])
    instance = model(**values)
    if extra:  # as msrest keeps them: the keys the schema does not know
        instance.additional_properties = extra
    return instance


def activity_from_json(body: dict[str, Any]) -> Activity:
    """The activity in `body` (parsed JSON), as `Activity().deserialize(body)` reads it."""
    try:
        activity = _read_model(Activity, body)
    except Exception:  # noqa: BLE001 - anything not plain: msrest's own path, its errors included
        return Activity().deserialize(body)
    assert isinstance(activity, Activity)
    return activity


# ---- writing -------------------------------------------------------------------------------------


def _plain_json(value: Any) -> Any:
    """msrest's writing of an `object` attribute for plain JSON (dict keys strings). A measured
    card (bot/domain/json_text.py) is plain JSON already and never changed in place: it is
    written as itself, with the text it was measured as, not walked and copied."""
    if isinstance(value, MeasuredJson):
        return value
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual("key")
            out[key] = _plain_json(item)
        return out
    if kind is list:
        return [_plain_json(item) for item in value]
    if value is None or kind in _PLAIN:
        return value
    raise _Unusual(kind.__name__)


def _write_value(value: Any, kind: str) -> Any:
    if kind == "str":
        if type(value) is str:
            return value
        if isinstance(value, Enum) and type(value.value) is str:
            return value.value
        raise _Unusual(kind)
    if kind == "bool":
        if type(value) is not bool:
            raise _Unusual(kind)
        return value
    if kind == "object":
        return _plain_json(value)
    if kind == "iso-8601":
        return Serializer.serialize_iso(value)
    if kind.startswith("["):
        if type(value) is not list:
            raise _Unusual(kind)
        inner = kind[1:-1]
        return [None if item is None else _write_value(item, inner) for item in value]
    model = _MODELS.get(kind)
    if model is None or type(value) is not model:
        raise _Unusual(kind)
    return _write_model(value)


def _write_model(instance: Model) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attribute, key, kind in _fields(type(instance)):
        value = getattr(instance, attribute, None)
        if value is not None:
            out[key] = _write_value(value, kind)
    return out


def activity_to_json(
    activity: Activity, fallback: Callable[[Activity], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The activity's wire JSON, as msrest writes it (`activity.serialize()`, or `fallback`
    for what is not plain: the caller's own msrest path)."""
    try:
        if type(activity) is not Activity:
            raise _Unusual(type(activity).__name__)
        return _write_model(activity)
    except Exception:  # noqa: BLE001 - anything not plain: msrest's own path, its errors included
        return fallback(activity) if fallback is not None else activity.serialize()
