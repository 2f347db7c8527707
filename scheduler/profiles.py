"""Load timeline profiles from TOML: the shipped ones and a partnership's overrides.

Why TOML files: the person who changes a timescale is a partnership manager reading their
local procedure, not a developer. They copy a shipped profile or write a short override
file next to their partnership file; a mistake must come back as one line that names the
file, the step and the problem, e.g.

    scheduler/profiles/x.toml: step 'notify_panel': offset: set exactly one of working_days, …

An override file (all keys optional)::

    title = "Our partnership (Surrey timescales, local meeting window)"
    remove = ["set_meeting_date"]           # drop shipped steps by id

    [[steps]]                               # same id: the fields given replace the shipped ones
    id = "rapid_review_meeting"
    window = { earliest = { working_days = 8 }, latest = { working_days = 12 } }

    [[steps]]                               # new id: a whole new step
    id = "strategy_meeting"
    ...

Fields replace whole values (a new `reminders` table replaces the shipped one; unspecified
reminder settings fall back to the defaults). Giving `offset` drops a shipped `window` and
giving `window` drops a shipped `offset`, so a step can change kind.

Pure: tomllib and pydantic, plus the domain model. No clock, no I/O beyond reading the files.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.domain.timeline import TimelineProfile

SHIPPED_DIR = Path(__file__).resolve().with_name("profiles")
_REPO_ROOT = SHIPPED_DIR.parent.parent
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_OVERRIDE_KEYS = frozenset({"id", "title", "source", "remove", "steps"})
_EXCLUSIVE = {"offset": "window", "window": "offset"}


class ProfileError(ValueError):
    """A profile or override file that cannot be used; the message says where and why."""


def list_profiles() -> list[str]:
    """The names of the shipped profiles, e.g. ['gloucestershire', 'national_minimum', …]."""
    return sorted(path.stem for path in SHIPPED_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path, overrides_path: Path | str | None = None) -> TimelineProfile:
    """A validated profile: a shipped name ("surrey") or a TOML path, then the overrides."""
    path = _resolve(name_or_path)
    data = _read_toml(path)
    origins = {step.get("id"): path for step in _steps_of(data, path)}
    blame = path
    if overrides_path is not None:
        overrides_file = Path(overrides_path)
        data = _apply_overrides(data, path, _read_toml(overrides_file), overrides_file, origins)
        blame = overrides_file
    try:
        return TimelineProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_explain(exc, data, origins, blame)) from None


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path) or "/" in name_or_path or name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(f"{_shown(path)}: no such profile file")
        return path
    if not _NAME.match(name_or_path):
        raise ProfileError(f"'{name_or_path}' is not a profile name (shipped: {', '.join(list_profiles())})")
    path = SHIPPED_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise ProfileError(f"no shipped profile named '{name_or_path}' (shipped: {', '.join(list_profiles())})")
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ProfileError(f"{_shown(path)}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{_shown(path)}: not valid TOML: {exc}") from None


def _steps_of(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    steps = data.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise ProfileError(f"{_shown(path)}: steps: write each step as a [[steps]] table")
    return steps


def _apply_overrides(
    base: dict[str, Any], base_path: Path, overrides: dict[str, Any], path: Path, origins: dict[Any, Path]
) -> dict[str, Any]:
    """The base profile with the override file applied; `origins` learns which file each
    changed step now comes from, so errors blame the file the partnership edited."""
    unknown = sorted(set(overrides) - _OVERRIDE_KEYS)
    if unknown:
        raise ProfileError(
            f"{_shown(path)}: unknown key {', '.join(unknown)} (allowed: {', '.join(sorted(_OVERRIDE_KEYS))})"
        )
    merged = {key: value for key, value in base.items() if key != "steps"}
    merged.update({key: overrides[key] for key in ("id", "title", "source") if key in overrides})
    steps = [dict(step) for step in _steps_of(base, base_path)]
    by_id = {step.get("id"): step for step in steps}
    removed = _removed_ids(overrides, path, by_id, base_path)
    for number, change in enumerate(_steps_of(overrides, path), start=1):
        step_id = change.get("id")
        if not isinstance(step_id, str):
            raise ProfileError(f"{_shown(path)}: steps #{number}: give the id of the step to change or add")
        if step_id in removed:
            raise ProfileError(f"{_shown(path)}: step '{step_id}': both removed and changed")
        origins[step_id] = path
        if step_id in by_id:
            _change_step(by_id[step_id], change)
        else:
            steps.append(dict(change))
            by_id[step_id] = steps[-1]
    merged["steps"] = [step for step in steps if step.get("id") not in removed]
    return merged


def _removed_ids(overrides: dict[str, Any], path: Path, by_id: dict[Any, Any], base_path: Path) -> set[str]:
    remove = overrides.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(item, str) for item in remove):
        raise ProfileError(f'{_shown(path)}: remove: give a list of step ids, e.g. remove = ["set_meeting_date"]')
    for step_id in remove:
        if step_id not in by_id:
            raise ProfileError(f"{_shown(path)}: remove: no step '{step_id}' in {_shown(base_path)}")
    return set(remove)


def _change_step(step: dict[str, Any], change: dict[str, Any]) -> None:
    for key, other in _EXCLUSIVE.items():
        if key in change and other not in change:
            step.pop(other, None)
    step.update(change)


def _explain(exc: ValidationError, data: dict[str, Any], origins: dict[Any, Path], blame: Path) -> str:
    """One line per problem: file, step, field, and what is wrong in plain words."""
    steps = data.get("steps", [])
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        message = _message(error)
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int) and loc[1] < len(steps):
            step_id = steps[loc[1]].get("id") or f"#{loc[1] + 1}"
            where = ".".join(str(part) for part in loc[2:])
            prefix = f"{_shown(origins.get(step_id, blame))}: step '{step_id}'"
            lines.append(f"{prefix}: {where}: {message}" if where else f"{prefix}: {message}")
        else:
            where = ".".join(str(part) for part in loc)
            lines.append(f"{_shown(blame)}: {where}: {message}" if where else f"{_shown(blame)}: {message}")
    return "\n".join(lines)


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    return str(error["msg"]).removeprefix("Value error, ")


def _shown(path: Path) -> str:
    """Shipped files as 'scheduler/profiles/x.toml'; other files as given."""
    try:
        return path.resolve().relative_to(_REPO_ROOT).as_posix()
    except ValueError:
        return str(path)
