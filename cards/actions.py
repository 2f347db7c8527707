"""Reading a card press: the trust boundary for card data (pure: no SDK here).

A card's data comes back "as is" from the client and anyone who can craft an invoke
can change it (docs/architecture.md, Confidentiality). So a card may carry only *intent*: the verb, a
reference, the card version, the one record id its verb is about and, per verb, the
inputs that card has. Any other key is refused (and audited by the caller), and nothing
in it is treated as identity or authority — those come from the activity.

What each verb may carry is declared once, by the card module that emits it (`VERBS`,
a `cards.common.Verb` per verb); `VERBS` here is their union, and bot/turns/routes.py
pairs each with its handler. Action.Execute (invoke `adaptiveCard/action`) and
Action.Submit (message with value) both end up here, so both go through the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cards import (
    chat,
    clock_cards,
    duplicate_cards,
    meeting_cards,
    panel,
    pathway_cards,
    report_cards,
    retention_cards,
    review_cards,
    vote_card,
)
from cards import referral_form as form
from cards.common import ACTION_ID, AGENCY_REQUEST_ID, LEGACY_ID, QUERY_ID, STEP_ID, Verb

# Keys any of our cards' data may carry whatever the verb (`action` is the verb again,
# for the Teams SDK's router; `section` and `child` belong to the referral form).
META_KEYS = frozenset({"verb", "action", "ref", "v", "section", "child", "msteams"})
# No input is cut here: a refusal says how much was written ("2,000 characters at most — you wrote
# 100,000", bot/domain/limits.py), so it must see all of it. The request body itself is at most
# 1 MB (bot/app.py), which bounds every value; this only bounds a caller that bypasses it.
MAX_VALUE = 1024 * 1024


def _union(*modules: dict[str, Verb]) -> dict[str, Verb]:
    table: dict[str, Verb] = {}
    for declared in modules:
        for name, verb in declared.items():
            if name in table:
                raise ValueError(f"{name} is declared by two card modules")
            table[name] = verb
    return table


# Every verb any of our cards emits, with what its data may carry.
VERBS: dict[str, Verb] = _union(
    chat.VERBS, form.VERBS, panel.VERBS, vote_card.VERBS, clock_cards.VERBS, meeting_cards.VERBS,
    retention_cards.VERBS,
    pathway_cards.VERBS,
    report_cards.VERBS,
    review_cards.VERBS,
    duplicate_cards.VERBS,
)


class BadCardData(ValueError):
    """The card's data is not something one of our cards could have sent."""


@dataclass(frozen=True)
class CardPress:
    verb: str
    ref: str | None = None
    version: int | None = None
    section: str | None = None
    child: int | None = None
    query_id: int | None = None  # QUERY_ID: the panel's question being answered
    step_id: int | None = None  # STEP_ID: the deadline being marked done
    agency_request_id: int | None = None  # AGENCY_REQUEST_ID: the agency request marked returned
    action_id: int | None = None  # review_cards.ACTION_ID: the action marked done
    inputs: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return value[:MAX_VALUE]
    raise BadCardData("values must be text")


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError as error:
        raise BadCardData("not a number") from error


def allowed_inputs(verb: str) -> frozenset[str]:
    declared = VERBS.get(verb)
    return declared.inputs if declared else frozenset()


def _record_id(data: dict[str, Any], id_key: str | None) -> int | None:
    """The verb's own id: under its key, or under `q` on a card posted before the keys
    were split (`q` is read as the verb's own kind; a verb without an id may not carry it)."""
    if id_key is None:
        return None
    value, legacy = _int(data.get(id_key)), _int(data.get(LEGACY_ID))
    if value is not None and legacy is not None and value != legacy:
        raise BadCardData("two different ids")
    return value if value is not None else legacy


def parse_press(data: Any, verb_hint: str | None = None) -> CardPress:
    """The press, checked against what the verb's card could have sent. A verb none of our
    cards emits passes here with no inputs allowed: the router refuses it (and audits it)."""
    if not isinstance(data, dict):
        raise BadCardData("card data must be an object")
    verb = data.get("verb") or data.get("action") or verb_hint
    if not isinstance(verb, str) or not verb or len(verb) > 64:
        raise BadCardData("no verb")
    if verb_hint and data.get("verb") and data["verb"] != verb_hint:
        raise BadCardData("verb mismatch")
    declared = VERBS.get(verb)
    inputs_allowed = declared.inputs if declared else frozenset()
    id_key = declared.id_key if declared else None
    ids_allowed = frozenset({id_key, LEGACY_ID}) if id_key else frozenset()
    unknown = [k for k in data if k not in META_KEYS and k not in ids_allowed and k not in inputs_allowed]
    if unknown:
        raise BadCardData(f"unexpected keys: {', '.join(sorted(str(k)[:40] for k in unknown)[:5])}")
    ref = data.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 64):
        raise BadCardData("bad reference")
    section = data.get("section")
    if section is not None and (not isinstance(section, str) or len(section) > 20):
        raise BadCardData("bad section")
    inputs = {k: _text(v) for k, v in data.items() if k in inputs_allowed and v is not None}
    record_id = _record_id(data, id_key)
    return CardPress(verb=verb, ref=ref, version=_int(data.get("v")), section=section, child=_int(data.get("child")),
                     query_id=record_id if id_key == QUERY_ID else None,
                     step_id=record_id if id_key == STEP_ID else None,
                     agency_request_id=record_id if id_key == AGENCY_REQUEST_ID else None,
                     action_id=record_id if id_key == ACTION_ID else None, inputs=inputs)
