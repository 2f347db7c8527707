"""Reading a card press: the trust boundary for card data (pure: no SDK here).

A card's data comes back "as is" from the client and anyone who can craft an invoke
can change it (reliability brief §2). So a card may carry only *intent*: the verb, a
reference, the card version and, per verb, the inputs that card has. Any other key is
refused (and audited by the caller), and nothing in it is treated as identity or
authority — those come from the activity.

Action.Execute (invoke `adaptiveCard/action`) and Action.Submit (message with value)
both end up here, so both go through the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.referral import Section
from cards import referral_form as form

META_KEYS = frozenset({"verb", "action", "ref", "v", "section", "child", "q"})
FORM_INPUT_KEYS = frozenset().union(*(form.section_input_ids(s) for s in Section))
MAX_VALUE = 20_000


class BadCardData(ValueError):
    """The card's data is not something one of our cards could have sent."""


@dataclass(frozen=True)
class CardPress:
    verb: str
    ref: str | None = None
    version: int | None = None
    section: str | None = None
    child: int | None = None
    query: int | None = None
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
    if verb in form.FORM_VERBS:
        return FORM_INPUT_KEYS
    return EXTRA_INPUTS.get(verb, frozenset())


# Verbs outside the form that carry inputs, and which inputs (cards/vote_card.py).
EXTRA_INPUTS: dict[str, frozenset[str]] = {
    "panel.vote": frozenset({"choice", "rationale", "serious_harm_basis", "question"}),
    "query.answer": frozenset({"answer"}),
    "deadline.done": frozenset({"done_on"}),
    "agencies.record": frozenset({"agencies", "contacts"}),
    "meeting.pick": frozenset({"start"}),
    "meeting.choose": frozenset({"date", "time"}),
    "meeting.outcome": frozenset({"local_cspr", "national_review", "rationale", "immediate_actions", "learning",
                                  "agencies_involved", "agencies_absent", "participants", "quorum_local_authority",
                                  "quorum_police", "quorum_health"}),
}


def parse_press(data: Any, verb_hint: str | None = None) -> CardPress:
    if not isinstance(data, dict):
        raise BadCardData("card data must be an object")
    verb = data.get("verb") or data.get("action") or verb_hint
    if not isinstance(verb, str) or not verb or len(verb) > 64:
        raise BadCardData("no verb")
    if verb_hint and data.get("verb") and data["verb"] != verb_hint:
        raise BadCardData("verb mismatch")
    inputs_allowed = allowed_inputs(verb)
    unknown = [k for k in data if k not in META_KEYS and k not in inputs_allowed and k != "msteams"]
    if unknown:
        raise BadCardData(f"unexpected keys: {', '.join(sorted(str(k)[:40] for k in unknown)[:5])}")
    ref = data.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 64):
        raise BadCardData("bad reference")
    section = data.get("section")
    if section is not None and (not isinstance(section, str) or len(section) > 20):
        raise BadCardData("bad section")
    inputs = {k: _text(v) for k, v in data.items() if k in inputs_allowed and v is not None}
    return CardPress(verb=verb, ref=ref, version=_int(data.get("v")), section=section, child=_int(data.get("child")),
                     query=_int(data.get("q")), inputs=inputs)
