"""The referral form as Adaptive Cards: one card per section, then review and submit.

A card is built from what the referrer typed (`raw`, strings as the card sent them)
and the errors the domain found, so a re-rendered card keeps every value and shows
each problem next to its field. Required-ness and length limits come from the
domain models (bot/domain/referral.py), never from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain.json_text import measured
from bot.domain.limits import within
from bot.domain.referral import (
    MAX_CHILDREN,
    SECTION_MODELS,
    CareStatus,
    ChildDetails,
    HarmOutcome,
    PathwaySought,
    Section,
    YesNoUnknown,
    incident_date_needs_confirmation,
    max_length,
    required_fields,
)
from bot.domain.text import clean_text, truncate
from cards import labels
from cards.budget import fit_measured
from cards.common import (
    HARD_MAX_CARD_BYTES,
    Element,
    Verb,
    action_set,
    card,
    error_text,
    escape_markdown,
    execute,
    facts,
    heading,
    labelled,
    notice,
    para,
    subheading,
    verbs,
)

SECTION_TITLES = {
    Section.REFERRER: "About you",
    Section.PATHWAY: "The pathway you are seeking",
    Section.INCIDENT: "The incident",
    Section.CHILDREN: "The children",
    Section.VIEWS: "Your views",
    Section.REVIEW: "Review and submit",
}
CHILD_FIELDS = tuple(ChildDetails.model_fields)
REVIEW_TEXT_LIMIT = 400

# Verbs of the referral form. The dialog routes on these.
NEXT, BACK, SAVE, EDIT, ADD_CHILD, REMOVE_CHILD, SUBMIT = (
    "form.next",
    "form.back",
    "form.save",
    "form.edit",
    "form.add_child",
    "form.remove_child",
    "form.submit",
)
CANCEL, CANCEL_CONFIRM, CANCEL_KEEP, RESUME = "form.cancel", "form.cancel_yes", "form.cancel_no", "form.resume"
FORM_VERBS = frozenset(
    {NEXT, BACK, SAVE, EDIT, ADD_CHILD, REMOVE_CHILD, SUBMIT, CANCEL, CANCEL_CONFIRM, CANCEL_KEEP, RESUME}
)


@dataclass(frozen=True)
class FormView:
    """Everything a form card needs besides the answers."""

    draft_id: str
    version: int
    today: date
    agencies: tuple[str, ...]
    editing_from_review: bool = False
    child_count: int = 1
    banner: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    # What the person typed on a card that could not be saved (the form changed meanwhile):
    # (label, value as typed), shown back so that nothing typed is lost.
    unsaved: tuple[tuple[str, str], ...] = ()


# ---- inputs ---------------------------------------------------------------------------------


def _label(model: type, name: str, text: str) -> tuple[str, bool]:
    return text, name in required_fields(model)


def _input_common(input_id: str, label: str, required: bool) -> Element:
    element: Element = {"id": input_id, "label": label}
    if required:
        element["isRequired"] = True
        element["errorMessage"] = f"{label.rstrip('?')} is required."
    return element


def text_input(
    model: type,
    name: str,
    label: str,
    value: str | None,
    *,
    input_id: str | None = None,
    placeholder: str | None = None,
    multiline: bool = False,
    style: str | None = None,
) -> Element:
    required = name in required_fields(model)
    element = {"type": "Input.Text", **_input_common(input_id or name, label, required)}
    limit = max_length(model, name)
    if limit:
        element["maxLength"] = limit
    if placeholder:
        element["placeholder"] = placeholder
    if multiline:
        element["isMultiline"] = True
    if style:
        element["style"] = style
    if value:
        # Shown again without control characters, as it will be stored, and never over the cap
        # (a draft saved before the caps were kept whole: the domain still reports its length).
        element["value"] = within(clean_text(value), limit) if limit else clean_text(value)
    return element


def choice_input(
    model: type,
    name: str,
    label: str,
    choices: dict[Any, str],
    value: str | None,
    *,
    input_id: str | None = None,
    expanded: bool = False,
    placeholder: str | None = None,
) -> Element:
    required = name in required_fields(model)
    element = {
        "type": "Input.ChoiceSet",
        **_input_common(input_id or name, label, required),
        "choices": [{"title": title, "value": str(getattr(key, "value", key))} for key, title in choices.items()],
        "style": "expanded" if expanded else "compact",
    }
    if placeholder and not expanded:
        element["placeholder"] = placeholder
    if value:
        element["value"] = value
    return element


def date_input(
    model: type, name: str, label: str, value: str | None, today: date, *, input_id: str | None = None
) -> Element:
    required = name in required_fields(model)
    element = {"type": "Input.Date", **_input_common(input_id or name, label, required), "max": today.isoformat()}
    if value:
        element["value"] = value
    return element


def _with_error(element: Element, errors: dict[str, str]) -> list[Element]:
    message = errors.get(element["id"])
    return [element, error_text(message)] if message else [element]


def _inputs(elements: list[Element], errors: dict[str, str]) -> list[Element]:
    body: list[Element] = []
    for element in elements:
        body += _with_error(element, errors) if element.get("id") else [element]
    return body


# ---- input ids <-> domain fields -----------------------------------------------------------


def child_input_id(index: int, name: str) -> str:
    return f"c{index + 1}_{name}"


def section_input_ids(section: Section, child_count: int = 1) -> set[str]:
    if section is Section.CHILDREN:
        ids = {child_input_id(i, f) for i in range(MAX_CHILDREN) for f in CHILD_FIELDS}
        return ids | {"family_members"}
    if section is Section.REVIEW:
        return {"senior_manager_reviewed"}
    return set(SECTION_MODELS[section].model_fields)


def input_cap(section: Section, input_id: str) -> int | None:
    """The cap of the text an input of the section takes (bot/domain/limits.py, through the
    section's model); None for an input that is not free text."""
    if section is Section.CHILDREN:
        from bot.domain.referral import ChildrenDetails

        if input_id == "family_members":
            return max_length(ChildrenDetails, input_id)
        prefix, _, name = input_id.partition("_")
        is_child = prefix[:1] == "c" and prefix[1:].isdigit()
        return max_length(ChildDetails, name) if is_child and name in ChildDetails.model_fields else None
    if section is Section.REVIEW:
        return None
    model = SECTION_MODELS[section]
    return max_length(model, input_id) if input_id in model.model_fields else None


# Every form button may carry the inputs of any section (the dialog keeps only the section's own).
INPUT_KEYS = frozenset().union(*(section_input_ids(s) for s in Section))
VERBS = verbs(*(Verb(name, INPUT_KEYS) for name in sorted(FORM_VERBS)))


def answers_from_raw(section: Section, raw: dict[str, str], child_count: int) -> dict[str, Any]:
    """What the card sent, shaped for the domain model."""
    if section is not Section.CHILDREN:
        return dict(raw)
    children = [{f: raw.get(child_input_id(i, f), "") for f in CHILD_FIELDS} for i in range(child_count)]
    return {"children": children, "family_members": raw.get("family_members", "")}


def errors_for_inputs(section: Section, errors: dict[str, str]) -> dict[str, str]:
    """Map the domain's error locations (`children.0.name`) to input ids (`c1_name`)."""
    if section is not Section.CHILDREN:
        return {key.split(".")[0]: message for key, message in errors.items()}
    mapped: dict[str, str] = {}
    for key, message in errors.items():
        parts = key.split(".")
        if parts[0] == "children" and len(parts) >= 3 and parts[1].isdigit():
            mapped.setdefault(child_input_id(int(parts[1]), parts[2]), message)
        elif parts[0] == "children":
            mapped.setdefault("__form__", message)
        else:
            mapped.setdefault(parts[0], message)
    return mapped


# ---- section cards ----------------------------------------------------------------------------


def _header(section: Section, view: FormView) -> list[Element]:
    body = [
        para(f"Referral · section {section.number} of {len(Section)}", subtle=True, size="Small"),
        heading(SECTION_TITLES[section]),
        para(
            "**CONFIDENTIAL WHEN COMPLETED.** Fields marked * are required. If something is not known yet, "
            "leave it blank — do not delay the referral.",
            size="Small",
            subtle=True,
        ),
    ]
    if view.banner:
        body.append(notice(view.banner, style="accent"))
    body += _unsaved(view)
    if view.errors:
        count = len(view.errors)
        body.append(notice(f"Please check {count} answer{'s' if count > 1 else ''} below.", style="attention"))
        if "__form__" in view.errors:
            body.append(error_text(view.errors["__form__"]))
    return body


def _unsaved(view: FormView) -> list[Element]:
    """The answers typed on a card that was not saved, each under its label, literally."""
    if not view.unsaved:
        return []
    items: list[Element] = [para("**What you typed (not saved).** Enter it again below if it is still right.")]
    for label, value in view.unsaved:
        items += labelled(label, value, empty="(left blank)")
    return [{"type": "Container", "style": "emphasis", "items": items}]


def _navigation(section: Section, view: FormView) -> list[Element]:
    ref, v = view.draft_id, view.version
    if view.editing_from_review:
        actions = [execute("Save and return to review", NEXT, ref, v, style="positive", section=section.value)]
    else:
        actions = [execute("Next", NEXT, ref, v, style="positive", section=section.value)]
        if section is not Section.REFERRER:
            actions.insert(0, execute("Back", BACK, ref, v, validate=False, section=section.value))
    actions.append(execute("Save for later", SAVE, ref, v, section=section.value))
    actions.append(execute("Cancel referral", CANCEL, ref, v, validate=False, secondary=True))
    return actions


def referrer_card(raw: dict[str, str], view: FormView) -> Element:
    from bot.domain.referral import ReferrerDetails as M

    e = view.errors
    body = _header(Section.REFERRER, view) + _inputs(
        [
            choice_input(
                M,
                "agency",
                "Referring agency",
                {a: a for a in view.agencies},
                raw.get("agency"),
                placeholder="Choose your agency",
            ),
            text_input(M, "name", "Your name", raw.get("name")),
            text_input(M, "email", "Your e-mail", raw.get("email"), style="Email", placeholder="name@example.org"),
            text_input(M, "job_title", "Job title", raw.get("job_title")),
            text_input(M, "telephone", "Telephone", raw.get("telephone"), style="Tel"),
            text_input(
                M,
                "discussed_with",
                "Who has the referral been discussed with?",
                raw.get("discussed_with"),
                multiline=True,
                placeholder="Your manager, and any other agencies you have discussed it with",
            ),
            subheading("Your agency's nominated lead for the review", size="Medium"),
            text_input(M, "lead_name", "Lead's name", raw.get("lead_name")),
            text_input(M, "lead_role", "Lead's role", raw.get("lead_role")),
            text_input(M, "lead_contact", "Lead's e-mail or telephone", raw.get("lead_contact")),
        ],
        e,
    )
    return card(body, actions=_navigation(Section.REFERRER, view))


def pathway_card(raw: dict[str, str], view: FormView) -> Element:
    from bot.domain.referral import PathwayChoice as M

    explanations: list[Element] = []
    for pathway in PathwaySought:
        explanations.append(subheading(labels.PATHWAY[pathway]))
        explanations.append(para(labels.PATHWAY_HELP[pathway], size="Small"))
    body = _header(Section.PATHWAY, view) + [
        {
            "type": "Container",
            "style": "emphasis",
            "items": [
                subheading("What counts as serious harm"),
                para(labels.SERIOUS_HARM_DEFINITION, size="Small"),
            ],
        },
        *explanations,
        *_inputs(
            [
                choice_input(
                    M, "pathway", "Which pathway are you seeking?", labels.PATHWAY, raw.get("pathway"), expanded=True
                )
            ],
            view.errors,
        ),
    ]
    return card(body, actions=_navigation(Section.PATHWAY, view))


def _typed_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None


def _date_confirmation(raw: dict[str, str], view: FormView) -> list[Element]:
    """The checkbox confirming an incident date more than a year before the local authority
    became aware (or the referral): shown, and required, only then (bot/domain/referral.py)."""
    incident = _typed_date(raw.get("incident_date"))
    needed = incident is not None and incident_date_needs_confirmation(
        incident, _typed_date(raw.get("la_aware_date")), view.today)
    if not needed and "incident_date_confirmed" not in view.errors:
        return []
    return [{
        "type": "Input.Toggle",
        "id": "incident_date_confirmed",
        "label": "Incident date check",
        "title": "I confirm the incident date is correct: it is more than a year before the referral.",
        "valueOn": "true",
        "valueOff": "false",
        "isRequired": True,
        "errorMessage": "Confirm the incident date, or correct it.",
        "value": "true" if raw.get("incident_date_confirmed") == "true" else "false",
    }]


def incident_card(raw: dict[str, str], view: FormView) -> Element:
    from bot.domain.referral import IncidentDetails as M

    body = _header(Section.INCIDENT, view)
    if raw.get("outcome") == HarmOutcome.DIED.value:
        body.append(notice(labels.ECDOP_NOTICE, style="attention"))
    body += _inputs(
        [
            date_input(
                M,
                "incident_date",
                "Date of the event that prompted this referral",
                raw.get("incident_date"),
                view.today,
            ),
            *_date_confirmation(raw, view),
            {
                "type": "Input.Time",
                **_input_common("incident_time", "Time (if known)", False),
                **({"value": raw["incident_time"]} if raw.get("incident_time") else {}),
            },
            text_input(M, "incident_location", "Where it happened (confidential)", raw.get("incident_location")),
            choice_input(
                M,
                "outcome",
                "Did the child die or was the child seriously harmed?",
                labels.HARM,
                raw.get("outcome"),
                expanded=True,
            ),
            # Right under the choice, so it is read as "the child died" is chosen, not only after Back.
            *([] if raw.get("outcome") == HarmOutcome.DIED.value else
              [{**notice(labels.ECDOP_IF_DIED, style="attention"), "spacing": "Small"}]),
            choice_input(
                M,
                "abuse_or_neglect",
                "Is abuse or neglect known or suspected?",
                labels.ABUSE,
                raw.get("abuse_or_neglect"),
                expanded=True,
            ),
            choice_input(
                M,
                "looked_after",
                "Is any child involved looked after by a local authority (in care)?",
                labels.YES_NO_UNKNOWN,
                raw.get("looked_after"),
                expanded=True,
            ),
            choice_input(
                M,
                "outside_england",
                "Did it happen outside England while the child normally lives in our area?",
                labels.YES_NO_UNKNOWN,
                raw.get("outside_england") or YesNoUnknown.NO.value,
            ),
            choice_input(
                M,
                "institutional_setting",
                "Did it happen in an institutional setting (e.g. children's home, secure setting, "
                "custody, child minder)?",
                labels.YES_NO_UNKNOWN,
                raw.get("institutional_setting") or YesNoUnknown.NO.value,
            ),
            text_input(
                M,
                "other_areas",
                "Other local authorities, police areas or health areas involved",
                raw.get("other_areas"),
                multiline=True,
            ),
            date_input(
                M,
                "la_aware_date",
                "Date the local authority became aware (if known)",
                raw.get("la_aware_date"),
                view.today,
            ),
            text_input(
                M,
                "summary",
                "What happened — a brief outline",
                raw.get("summary"),
                multiline=True,
                placeholder="The facts as far as they are known now",
            ),
        ],
        view.errors,
    )
    return card(body, actions=_navigation(Section.INCIDENT, view))


def _child_block(index: int, raw: dict[str, str], view: FormView) -> list[Element]:
    M = ChildDetails

    def rid(name: str) -> str:
        return child_input_id(index, name)

    block: list[Element] = [subheading(f"Child {index + 1}", size="Medium")]
    block += _inputs(
        [
            text_input(M, "name", "Name (confidential)", raw.get(rid("name")), input_id=rid("name")),
            date_input(
                M,
                "date_of_birth",
                "Date of birth",
                raw.get(rid("date_of_birth")),
                view.today,
                input_id=rid("date_of_birth"),
            ),
            {
                **text_input(
                    M,
                    "estimated_age",
                    "Estimated age, if the date of birth is not known",
                    raw.get(rid("estimated_age")),
                    input_id=rid("estimated_age"),
                ),
                "type": "Input.Number",
                "min": 0,
                "max": 30,
            },
            choice_input(M, "gender", "Gender", labels.GENDER, raw.get(rid("gender")), input_id=rid("gender")),
            text_input(
                M,
                "disability",
                "Disability or health needs",
                raw.get(rid("disability")),
                input_id=rid("disability"),
                multiline=True,
            ),
            text_input(M, "ethnicity", "Ethnicity", raw.get(rid("ethnicity")), input_id=rid("ethnicity")),
            text_input(
                M,
                "current_location",
                "Where the child is now",
                raw.get(rid("current_location")),
                input_id=rid("current_location"),
                placeholder="e.g. hospital, with grandparents, in care",
            ),
            choice_input(
                M,
                "care_status",
                "Looked after or care leaver?",
                labels.CARE,
                raw.get(rid("care_status")) or CareStatus.NONE.value,
                input_id=rid("care_status"),
            ),
        ],
        view.errors,
    )
    for el in block:
        if index > 0 and el.get("isRequired"):
            # Teams checks isRequired before any button that sends inputs, which would stop
            # "Remove child 2" on an empty child 2. The server validates every child anyway.
            el.pop("isRequired")
            el.pop("errorMessage", None)
            el["label"] += " *"
        if el.get("type") == "Input.Number":
            el.pop("maxLength", None)
            if el.get("value") is not None:
                try:
                    el["value"] = int(el["value"])
                except (TypeError, ValueError):
                    el.pop("value")
    if view.child_count > 1:
        block.append(
            action_set(
                [
                    execute(
                        f"Remove child {index + 1}",
                        REMOVE_CHILD,
                        view.draft_id,
                        view.version,
                        child=index,
                        section=Section.CHILDREN.value,
                    )
                ]
            )
        )
    return [{"type": "Container", "separator": index > 0, "spacing": "Large", "items": block}]


def children_card(raw: dict[str, str], view: FormView) -> Element:
    from bot.domain.referral import ChildrenDetails as M

    body = _header(Section.CHILDREN, view)
    body.append(
        para(
            "One referral covers one incident; add each child involved (up to four). Names and dates "
            "of birth are never shown in the panel channel.",
            size="Small",
        )
    )
    for index in range(view.child_count):
        body += _child_block(index, raw, view)
    if view.child_count < MAX_CHILDREN:
        body.append(
            action_set(
                [execute("Add another child", ADD_CHILD, view.draft_id, view.version, section=Section.CHILDREN.value)]
            )
        )
    body += _inputs(
        [
            text_input(
                M,
                "family_members",
                "Other significant family or household members (optional)",
                raw.get("family_members"),
                multiline=True,
                placeholder="Names, relationship to the child",
            )
        ],
        view.errors,
    )
    return card(body, actions=_navigation(Section.CHILDREN, view))


def views_card(raw: dict[str, str], view: FormView) -> Element:
    from bot.domain.referral import ReferrerViews as M

    body = _header(Section.VIEWS, view) + _inputs(
        [
            text_input(
                M,
                "meets_criteria",
                "Why does this case meet the criteria of the pathway you chose?",
                raw.get("meets_criteria"),
                multiline=True,
            ),
            text_input(M, "worked_well", "What worked well?", raw.get("worked_well"), multiline=True),
            text_input(M, "not_worked_well", "What did not work well?", raw.get("not_worked_well"), multiline=True),
            text_input(
                M,
                "key_issues",
                "What are the key issues the review should look at?",
                raw.get("key_issues"),
                multiline=True,
            ),
            choice_input(
                M,
                "family_consulted",
                "Has the family been consulted about this referral?",
                labels.YES_NO,
                raw.get("family_consulted"),
                expanded=True,
            ),
            text_input(
                M,
                "family_not_consulted_reason",
                "If not, why not?",
                raw.get("family_not_consulted_reason"),
                multiline=True,
            ),
            text_input(
                M,
                "family_involvement",
                "How should the child and family be involved in the review? (If they should not be, say why.)",
                raw.get("family_involvement"),
                multiline=True,
            ),
            text_input(
                M,
                "family_facilitator",
                "Who is best placed to talk to the family about it?",
                raw.get("family_facilitator"),
            ),
            choice_input(
                M,
                "key_worker_consulted",
                "Has the allocated social worker or key worker been consulted?",
                labels.YES_NO,
                raw.get("key_worker_consulted"),
                expanded=True,
            ),
            text_input(
                M,
                "key_worker_not_consulted_reason",
                "If not, why not?",
                raw.get("key_worker_not_consulted_reason"),
                multiline=True,
            ),
        ],
        view.errors,
    )
    return card(body, actions=_navigation(Section.VIEWS, view))


SECTION_CARDS = {
    Section.REFERRER: referrer_card,
    Section.PATHWAY: pathway_card,
    Section.INCIDENT: incident_card,
    Section.CHILDREN: children_card,
    Section.VIEWS: views_card,
}


def section_card(section: Section, raw: dict[str, str], view: FormView) -> Element:
    if section is Section.REVIEW:
        raise ValueError("use review_card")
    built = SECTION_CARDS[section](raw, view)
    if view.unsaved:  # what was typed and not saved, shown back: shortened for display if need be
        return fit_measured(built, HARD_MAX_CARD_BYTES)
    return measured(built)


# ---- a card that could not be saved ---------------------------------------------------------------


def input_labels(section: Section, child_count: int = 1) -> dict[str, tuple[str, dict[str, str]]]:
    """{input id: (its label, {choice value: choice title})} as the section's card shows them."""
    if section is Section.REVIEW:
        return {"senior_manager_reviewed": ("Declaration", {"true": "Reviewed by a senior manager",
                                                            "false": "Not confirmed"})}
    view = FormView(draft_id="", version=0, today=date(2000, 1, 1), agencies=(), child_count=child_count)
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for element in _walk(section_card(section, {}, view)):
        if element.get("type", "").startswith("Input.") and element.get("id") and element.get("label"):
            label = str(element["label"]).removesuffix(" *")
            child = element["id"].split("_", 1)[0]
            if section is Section.CHILDREN and child[:1] == "c" and child[1:].isdigit() and child_count > 1:
                label = f"Child {child[1:]}: {label}"
            choices = {str(c["value"]): str(c["title"]) for c in element.get("choices", [])}
            found[element["id"]] = (label, choices)
    return found


def _walk(value: Any) -> Iterator[Element]:
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def unsaved_answers(section: Section, typed: dict[str, str], stored: dict[str, str],
                    child_count: int) -> tuple[tuple[str, str], ...]:
    """What someone typed on a card that was not saved, where it differs from what the form
    holds now: (label, value) to show back to them (choices by their titles, long text cut)."""
    shown: list[tuple[str, str]] = []
    for input_id, (label, choices) in input_labels(section, child_count).items():
        if input_id not in typed:
            continue
        value, now = (typed.get(input_id) or "").strip(), (stored.get(input_id) or "").strip()
        if value == now:
            continue
        shown.append((label, choices.get(value, truncate(clean_text(value), REVIEW_TEXT_LIMIT))))
    return tuple(shown)


NOT_SAVED = "your answer was not saved — here is the form as it is now."


def changed_elsewhere_banner(who: str | None, what: str | None, when: str | None, *, another_window: bool) -> str:
    """"Alex Smith changed 'Incident date' at 10:42 from another window; your answer was not saved —
    here is the form as it is now." `who` is a name from Teams (escaped); `what` and `when` are ours."""
    if another_window:
        if who and what and when:
            return f"{escape_markdown(who)} {what} at {when} from another window; {NOT_SAVED}"
        return f"This referral was changed from another window; {NOT_SAVED}"
    if who and what and when:
        return f"That card was out of date: {escape_markdown(who)} {what} at {when} on a newer copy; {NOT_SAVED}"
    return f"That card was out of date; {NOT_SAVED}"


# ---- review -----------------------------------------------------------------------------------


def _value(raw: dict[str, str], key: str, names: dict[Any, str] | None = None) -> str | None:
    value = raw.get(key)
    if not value:
        return None
    if names:
        for k, title in names.items():
            if str(getattr(k, "value", k)) == value:
                return title
    # The draft keeps what was typed; what is shown loses control characters (bidi
    # overrides, zero-width, NUL) as the submitted referral will.
    return truncate(clean_text(str(value)), REVIEW_TEXT_LIMIT) or None


def _review_section(section: Section, rows: list[tuple[str, str | None]], view: FormView) -> Element:
    items: list[Element] = [
        {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [subheading(f"{section.number}. {SECTION_TITLES[section]}", size="Medium")],
                },
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                        action_set(
                            [
                                execute(
                                    "Edit",
                                    EDIT,
                                    view.draft_id,
                                    view.version,
                                    validate=False,
                                    tooltip=f"Edit section {section.number}, {SECTION_TITLES[section]}",
                                    section=section.value,
                                )
                            ]
                        )
                    ],
                },
            ],
        }
    ]
    for label, value in rows:
        items += labelled(label, value)
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def review_card(
    raw: dict[str, dict[str, str]], view: FormView, *, child_count: int, likely_notifiable: bool | None
) -> Element:
    r, p, i, c, w = (
        raw.get(s.value, {})
        for s in (Section.REFERRER, Section.PATHWAY, Section.INCIDENT, Section.CHILDREN, Section.VIEWS)
    )
    body = [
        para("Referral · section 6 of 6", subtle=True, size="Small"),
        heading("Review and submit"),
        para("Check every answer. Use **Edit** to change a section; you will come back here."),
    ]
    if view.banner:
        body.append(notice(view.banner, style="accent"))
    body += _unsaved(view)
    if i.get("outcome") == HarmOutcome.DIED.value:
        body.append(notice(labels.ECDOP_NOTICE, style="attention"))
    if likely_notifiable:
        body.append(
            notice(
                "From your answers this looks **likely to be notifiable** to the National Panel. The "
                "panel decides; the bot only flags it.",
                style="warning",
            )
        )
    body.append(
        _review_section(
            Section.REFERRER,
            [
                ("Referring agency", _value(r, "agency")),
                ("Name", _value(r, "name")),
                ("E-mail", _value(r, "email")),
                ("Job title", _value(r, "job_title")),
                ("Telephone", _value(r, "telephone")),
                ("Discussed with", _value(r, "discussed_with")),
                (
                    "Nominated lead",
                    " · ".join(x for x in (_value(r, "lead_name"), _value(r, "lead_role"), _value(r, "lead_contact"))
                               if x) or None,
                ),
            ],
            view,
        )
    )
    body.append(_review_section(Section.PATHWAY, [("Pathway sought", _value(p, "pathway", labels.PATHWAY))], view))
    body.append(
        _review_section(
            Section.INCIDENT,
            [
                ("Date", _value(i, "incident_date")),
                ("Time", _value(i, "incident_time")),
                ("Where", _value(i, "incident_location")),
                ("Died or seriously harmed", _value(i, "outcome", labels.HARM)),
                ("Abuse or neglect", _value(i, "abuse_or_neglect", labels.ABUSE)),
                ("Any looked-after child", _value(i, "looked_after", labels.YES_NO_UNKNOWN)),
                ("Outside England", _value(i, "outside_england", labels.YES_NO_UNKNOWN)),
                ("Institutional setting", _value(i, "institutional_setting", labels.YES_NO_UNKNOWN)),
                ("Other areas involved", _value(i, "other_areas")),
                ("Local authority aware", _value(i, "la_aware_date")),
                ("What happened", _value(i, "summary")),
            ],
            view,
        )
    )
    child_rows: list[tuple[str, str | None]] = []
    for index in range(child_count):

        def cv(name: str, names: dict[Any, str] | None = None, index: int = index) -> str | None:
            return _value(c, child_input_id(index, name), names)

        dob = cv("date_of_birth")
        age = f"estimated age {cv('estimated_age')}" if not dob and cv("estimated_age") else None
        child_rows += [
            (f"Child {index + 1}", cv("name")),
            ("Date of birth", dob or age),
            ("Gender", cv("gender", labels.GENDER)),
            ("Looked after / care leaver", cv("care_status", labels.CARE)),
            ("Disability or health needs", cv("disability")),
            ("Ethnicity", cv("ethnicity")),
            ("Where the child is now", cv("current_location")),
        ]
    child_rows.append(("Family and household members", _value(c, "family_members")))
    body.append(_review_section(Section.CHILDREN, child_rows, view))
    body.append(
        _review_section(
            Section.VIEWS,
            [
                ("Why it meets the criteria", _value(w, "meets_criteria")),
                ("What worked well", _value(w, "worked_well")),
                ("What did not work well", _value(w, "not_worked_well")),
                ("Key issues", _value(w, "key_issues")),
                ("Family consulted", _value(w, "family_consulted", labels.YES_NO)),
                ("If not, why", _value(w, "family_not_consulted_reason")),
                ("How the family should be involved", _value(w, "family_involvement")),
                ("Who should talk to the family", _value(w, "family_facilitator")),
                ("Key worker consulted", _value(w, "key_worker_consulted", labels.YES_NO)),
                ("If not, why", _value(w, "key_worker_not_consulted_reason")),
            ],
            view,
        )
    )
    declaration = {
        "type": "Input.Toggle",
        "id": "senior_manager_reviewed",
        "title": "A senior manager in my agency has reviewed this referral.",
        "label": "Declaration",
        "valueOn": "true",
        "valueOff": "false",
        "isRequired": True,
        "errorMessage": "Confirm that a senior manager has reviewed the referral.",
        "value": "true" if raw.get(Section.REVIEW.value, {}).get("senior_manager_reviewed") == "true" else "false",
    }
    body += [
        {"type": "Container", "separator": True, "spacing": "Large", "items": _with_error(declaration, view.errors)}
    ]
    actions = [
        execute("Submit referral", SUBMIT, view.draft_id, view.version, style="positive"),
        execute("Save for later", SAVE, view.draft_id, view.version, validate=False, section=Section.REVIEW.value),
        execute("Back", BACK, view.draft_id, view.version, validate=False, section=Section.REVIEW.value),
        execute("Cancel referral", CANCEL, view.draft_id, view.version, validate=False, secondary=True),
    ]
    review = card(body, actions=actions)
    # Long answers for several children do not fit in one Teams message: shorten them for
    # display so that Teams accepts the card. (This layout needs about 25 KB for one child
    # and 3 KB more per child before any answer, so MAX_CARD_BYTES is not attainable here.)
    # The JSON text written to measure it is kept: the reply carrying it is not written again.
    return fit_measured(review, HARD_MAX_CARD_BYTES)


# ---- around the form -------------------------------------------------------------------------


def cancel_confirm_card(view: FormView) -> Element:
    return card(
        [
            heading("Discard this referral?", size="Medium"),
            para("Everything you have entered will be deleted. This cannot be undone."),
        ],
        actions=[
            execute(
                "Yes, discard it", CANCEL_CONFIRM, view.draft_id, view.version, validate=False, style="destructive"
            ),
            execute("No, keep it", CANCEL_KEEP, view.draft_id, view.version, validate=False),
        ],
    )


def saved_card(view: FormView, section: Section) -> Element:
    return card(
        [
            heading("Referral saved", size="Medium"),
            para(
                f"Your referral is saved at section {section.number} ({SECTION_TITLES[section]}). Type **resume** "
                "when you are ready to carry on — it will be here tomorrow, or next week."
            ),
        ],
        actions=[execute("Resume now", RESUME, view.draft_id, view.version, validate=False)],
    )


def discarded_card() -> Element:
    return card(
        [
            heading("Referral discarded", size="Medium"),
            para("Nothing was sent. Type **refer** to start a new referral."),
        ]
    )


def submitted_card(
    reference: str,
    pseudonym: str,
    *,
    likely_notifiable: bool,
    channel_bound: bool,
    partnership: str,
    already: bool = False,
) -> Element:
    body = [
        heading("Referral received" if not already else "Already submitted", size="Medium"),
        para(f"Thank you. {escape_for_partnership(partnership)} has your referral."),
        facts([("Reference", reference), ("Pseudonym", pseudonym)]),
        para(
            f"In the panel channel the case is called **{pseudonym}** — please use the reference and the pseudonym, "
            "never the child's name, when you discuss it there."
        ),
        para(
            "The three statutory partners (local authority, police and health) will now screen it. You will be "
            "told their decision here, and they may send you questions."
        ),
    ]
    if likely_notifiable:
        body.append(
            notice(
                "Flagged as **likely notifiable**: the local authority must notify the National Panel "
                "within 5 working days of becoming aware of the incident.",
                style="warning",
            )
        )
    if not channel_bound:
        body.append(
            notice(
                "The partnership's panel channel is not set up yet. Your referral is safely stored and "
                "the partnership manager has been told.",
                style="accent",
            )
        )
    return card(body)


def escape_for_partnership(name: str) -> str:
    return escape_markdown(name)
