"""Build the Teams app package: manifest.json + color.png + outline.png in one zip.

    python appPackage/build.py [--out build/appPackage.zip] [--env-file .env]

Values come from the environment, then from the .env file in the repository root (the
environment wins). Placeholders ``${{NAME}}`` in manifest.json are replaced as follows:

    placeholder       variable               default
    BOT_ID            MicrosoftAppId         (required; the bot's Entra app id, a GUID)
    APP_ID            TEAMS_APP_ID           MicrosoftAppId
    APP_VERSION       TEAMS_APP_VERSION      project.version in pyproject.toml
    DEVELOPER_NAME    TEAMS_DEVELOPER_NAME   Rapid Review bot project
    WEBSITE_URL       TEAMS_WEBSITE_URL      https://example.org/rapid-review
    PRIVACY_URL       TEAMS_PRIVACY_URL      https://example.org/rapid-review/privacy
    TERMS_URL         TEAMS_TERMS_URL        https://example.org/rapid-review/terms

The result is checked against the vendored v1.22 JSON schema (schema/, draft-04) and
against Teams rules the schema does not carry (icon sizes, command titles, semver), and
the build stops with exit status 1 and a list of problems if anything is wrong.
Raise TEAMS_APP_VERSION (or the project version) for every upload of a changed package.
BOT_DOMAIN is not read: a bot-only app lists no validDomains, and the messaging endpoint
is set on the Azure Bot resource, not in the manifest.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import sys
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TEMPLATE = HERE / "manifest.json"
SCHEMA = HERE / "schema" / "MicrosoftTeams.v1.22.schema.json"
ICONS = ("color.png", "outline.png")
DEFAULT_OUT = REPO / "build" / "appPackage.zip"

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
PLACEHOLDER = re.compile(r"\$\{\{([A-Za-z0-9_]+)\}\}")

ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}
MAX_COMMANDS = 10  # per command list (scope)
MAX_COMMAND_TITLE = 32  # what Teams shows in the command menu; the schema allows 128


class BuildError(Exception):
    """A problem the person building the package must fix; the message says what."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class Setting(NamedTuple):
    placeholder: str
    variable: str
    default: str | None  # None: required


def _project_version() -> str:
    try:
        with (REPO / "pyproject.toml").open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "1.0.0"


SETTINGS = (
    Setting("BOT_ID", "MicrosoftAppId", None),
    Setting("APP_ID", "TEAMS_APP_ID", None),  # defaults to MicrosoftAppId, see settings_from()
    Setting("APP_VERSION", "TEAMS_APP_VERSION", _project_version()),
    Setting("DEVELOPER_NAME", "TEAMS_DEVELOPER_NAME", "Rapid Review bot project"),
    Setting("WEBSITE_URL", "TEAMS_WEBSITE_URL", "https://example.org/rapid-review"),
    Setting("PRIVACY_URL", "TEAMS_PRIVACY_URL", "https://example.org/rapid-review/privacy"),
    Setting("TERMS_URL", "TEAMS_TERMS_URL", "https://example.org/rapid-review/terms"),
)


# --- inputs -----------------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines, # comments and a leading 'export ' are allowed; quotes are stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise BuildError(f"{path}:{number}: expected KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def settings_from(environ: Mapping[str, str], env_file: Path | None = None) -> dict[str, str]:
    """The placeholder values, from the environment first and the .env file second."""
    file_values = read_env_file(env_file) if env_file else {}

    def lookup(variable: str) -> str | None:
        return (environ.get(variable) or file_values.get(variable) or "").strip() or None

    bot_id = lookup("MicrosoftAppId")
    if bot_id is None:
        where = f"the environment or {env_file}" if env_file else "the environment"
        raise BuildError(
            f"MicrosoftAppId is not set in {where}. Set it to the bot's Entra (Azure AD) "
            "application id, e.g. MicrosoftAppId=0f8fad5b-d9cb-469f-a165-70867728950e"
        )
    values: dict[str, str] = {}
    for setting in SETTINGS:
        value = lookup(setting.variable)
        if value is None:
            value = bot_id if setting.placeholder == "APP_ID" else setting.default
        values[setting.placeholder] = value  # type: ignore[assignment]

    for placeholder, variable in (("BOT_ID", "MicrosoftAppId"), ("APP_ID", "TEAMS_APP_ID")):
        if not GUID.match(values[placeholder]):
            raise BuildError(f"{variable}={values[placeholder]!r} is not a GUID (an Entra application id)")
    if not SEMVER.match(values["APP_VERSION"]):
        raise BuildError(f"TEAMS_APP_VERSION={values['APP_VERSION']!r} is not a version like 1.2.3")
    return values


def render_manifest(values: Mapping[str, str], template: str | None = None) -> dict[str, Any]:
    """manifest.json with every ${{NAME}} replaced (values are JSON-escaped)."""
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if unknown:
        raise BuildError("manifest.json has placeholders with no value: " + ", ".join(unknown))
    text = PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)])[1:-1], text)
    return json.loads(text)


# --- checks -----------------------------------------------------------------------------------------


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def schema_validator(schema: Mapping[str, Any] | None = None) -> Any:
    """A validator for the schema's declared draft (draft-04 for Teams v1.22).

    The Teams schema uses 'const' (draft-06) although it declares draft-04; Microsoft's own
    validator (ajv) enforces it, so it is added to the draft-04 validator here too.
    """
    try:
        import jsonschema
        from jsonschema import validators
    except ImportError as exc:  # a test dependency (pyproject [test]); the bot itself does not need it
        raise BuildError("the jsonschema package is needed to validate the manifest: pip install -e '.[test]'") from exc
    schema = load_schema() if schema is None else schema
    base = validators.validator_for(schema)
    if "const" not in base.VALIDATORS:
        base = validators.extend(base, {"const": jsonschema.Draft6Validator.VALIDATORS["const"]})
    return base(schema, format_checker=base.FORMAT_CHECKER)


def schema_errors(manifest: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every way the manifest breaks the JSON schema, as 'path: message' lines."""
    validator = schema_validator(schema)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]


def png_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


def package_errors(manifest: Mapping[str, Any], icons: Mapping[str, bytes], bot_id: str | None = None) -> list[str]:
    """Teams rules the JSON schema does not express."""
    problems: list[str] = []
    if not SEMVER.match(str(manifest.get("version", ""))):
        problems.append(f"version: {manifest.get('version')!r} is not a version like 1.2.3")
    for kind, (width, height) in ICON_SIZES.items():
        name = manifest.get("icons", {}).get(kind)
        if name not in icons:
            problems.append(f"icons/{kind}: {name!r} is not in the package")
            continue
        try:
            got_w, got_h, colour_type = png_info(icons[name])
        except ValueError:
            problems.append(f"icons/{kind}: {name} is not a PNG file")
            continue
        if (got_w, got_h) != (width, height):
            problems.append(f"icons/{kind}: {name} is {got_w}x{got_h}, Teams needs {width}x{height}")
        if kind == "outline" and colour_type not in (4, 6) and b"tRNS" not in icons[name]:
            problems.append(f"icons/outline: {name} has no transparency; it must be white on transparent")
    bots = manifest.get("bots", [])
    if len(bots) != 1:
        problems.append(f"bots: expected exactly one bot, found {len(bots)}")
    for i, bot in enumerate(bots):
        if bot_id is not None and bot.get("botId") != bot_id:
            problems.append(f"bots/{i}/botId: {bot.get('botId')!r} is not MicrosoftAppId {bot_id!r}")
        seen_scopes: set[str] = set()
        for j, command_list in enumerate(bot.get("commandLists", [])):
            where = f"bots/{i}/commandLists/{j}"
            scopes = set(command_list.get("scopes", []))
            if scopes & seen_scopes:
                problems.append(f"{where}: more than one command list for {sorted(scopes & seen_scopes)}")
            if not scopes <= set(bot.get("scopes", [])):
                problems.append(f"{where}: scopes {sorted(scopes)} are not all scopes of the bot")
            seen_scopes |= scopes
            commands = command_list.get("commands", [])
            if len(commands) > MAX_COMMANDS:
                problems.append(f"{where}: {len(commands)} commands, Teams shows at most {MAX_COMMANDS}")
            titles = [c.get("title", "") for c in commands]
            for title in titles:
                if len(title) > MAX_COMMAND_TITLE:
                    problems.append(f"{where}: command {title!r} is longer than {MAX_COMMAND_TITLE} characters")
            if len(set(titles)) != len(titles):
                problems.append(f"{where}: a command title appears twice")
    leftovers = PLACEHOLDER.findall(json.dumps(manifest))
    if leftovers:
        problems.append("placeholders left unreplaced: " + ", ".join(sorted(set(leftovers))))
    return problems


# --- the package ------------------------------------------------------------------------------------


def build(out: Path, environ: Mapping[str, str], env_file: Path | None = None) -> dict[str, Any]:
    """Write the zip to ``out`` and return the manifest in it. Raises BuildError on any problem."""
    values = settings_from(environ, env_file)
    manifest = render_manifest(values)
    icons = {name: (HERE / name).read_bytes() for name in ICONS}
    problems = schema_errors(manifest) + package_errors(manifest, icons, bot_id=values["BOT_ID"])
    if problems:
        raise BuildError("the manifest is not valid", problems)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())]
        entries += [(name, icons[name]) for name in ICONS]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same input, same zip
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return manifest


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Teams app package (zip) for the Rapid Review bot.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"zip to write (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--env-file", type=Path, default=REPO / ".env", help="KEY=VALUE file read after the environment"
    )
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, os.environ if environ is None else environ, args.env_file)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.out} (Teams app {manifest['id']}, bot {manifest['bots'][0]['botId']}, "
        f"version {manifest['version']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
