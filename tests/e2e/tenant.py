"""Playground's mock tenant as someone else: a copy of `.m365agentsplayground.yml` with another `currentUser`.

Playground has no user switcher: it types as `currentUser`, read once at start. `config_as` does
what the README asks a person to do by hand (swap the `currentUser` block with that person's,
keep exactly five `users`, set `personalChat.id` to `a:personal-<name>`), taking the people from
the ready-to-paste blocks at the end of the repository's file. Use it by overriding the
`playground_config` fixture, e.g.::

    @pytest.fixture
    def playground_config(e2e_workdir):
        return config_as("29:pat-manager", e2e_workdir)
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_CONFIG = Path(__file__).resolve().parents[2] / ".m365agentsplayground.yml"
PERSON_KEYS = ("id", "name", "userPrincipleName", "aadObjectId", "givenName", "surname", "email")
DEPUTY = "29:dee-deputy"
REFERRER = "29:riley-referrer"


def people(text: str) -> dict[str, dict[str, str]]:
    """The seven people of the ready-to-paste comment blocks, by Teams id, in file order."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        match = re.match(r"#\s+(\w+): (.+?)\s*$", line)
        if not match or match.group(1) not in PERSON_KEYS:
            continue
        key, value = match.groups()
        if key == "id":
            current = found.setdefault(value, {})
        if current is not None:
            current[key] = value
    return found


def _block(person: dict[str, str], indent: str, first: str = "") -> list[str]:
    lines = []
    for n, key in enumerate(PERSON_KEYS):
        lead = first if n == 0 and first else indent
        lines.append(f"{lead}{key}: {person[key]}")
    return lines


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """Top-level sections (`key:` at column 0) with their lines; the leading comments are section ''."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        match = re.match(r"([A-Za-z]\w*):", line)
        if match:
            sections.append((match.group(1), []))
        sections[-1][1].append(line)
    return sections


def config_as(user_id: str, folder: Path, source: Path = REPO_CONFIG) -> Path:
    """Write `folder/playground-as-<name>.yml`: the repository's tenant with `user_id` as the current user.

    Playground wants exactly five `users`: the deputy is left out, or, when she is the current
    user, the referrer is.
    """
    text = source.read_text()
    everyone = people(text)
    if user_id not in everyone:
        raise KeyError(f"{user_id} is not one of the people in {source.name}: {', '.join(everyone)}")
    others = [p for uid, p in everyone.items() if uid != user_id]
    leave_out = REFERRER if user_id == DEPUTY else DEPUTY
    others = [p for p in others if p["id"] != leave_out]
    if len(others) != 5:
        raise ValueError(f"Playground needs exactly 5 users, got {len(others)}")
    slug = user_id.split(":", 1)[1]
    out: list[str] = []
    for key, lines in _sections(text):
        if key == "currentUser":
            out += ["currentUser:", *_block(everyone[user_id], "  ")]
        elif key == "users":
            out.append("users:")
            for person in others:
                out += _block(person, "    ", first="  - ")
        elif key == "personalChat":
            out += ["personalChat:", f"  id: a:personal-{slug}"]
        else:
            out += lines
    target = folder / f"playground-as-{slug}.yml"
    target.write_text("\n".join(out) + "\n")
    return target
