"""The Teams app package: manifest against the vendored v1.22 schema, icons, and build.py."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import zipfile
import zlib
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

APP_PACKAGE = Path(__file__).resolve().parents[2] / "appPackage"
BOT_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def _load(name: str) -> ModuleType:
    """appPackage/ is not a Python package; load its scripts by path."""
    spec = importlib.util.spec_from_file_location(f"apppackage_{name}", APP_PACKAGE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = _load("build")
make_icons = _load("make_icons")


@pytest.fixture(scope="module")
def schema() -> dict:
    return build.load_schema()


@pytest.fixture(scope="module")
def manifest() -> dict:
    return build.render_manifest(build.settings_from({"MicrosoftAppId": BOT_ID}))


def _icons() -> dict[str, bytes]:
    return {name: (APP_PACKAGE / name).read_bytes() for name in build.ICONS}


# --- the schema --------------------------------------------------------------------------------------


def test_vendored_schema_is_teams_v1_22_draft_04(schema: dict) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["properties"]["manifestVersion"]["const"] == "1.22"
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft4Validator
    jsonschema.Draft4Validator.check_schema(schema)


def test_manifest_validates_against_the_schema(manifest: dict, schema: dict) -> None:
    assert manifest["$schema"].endswith("/teams/v1.22/MicrosoftTeams.schema.json")
    assert manifest["manifestVersion"] == "1.22"
    assert build.schema_errors(manifest, schema) == []


def test_a_broken_manifest_is_reported(manifest: dict, schema: dict) -> None:
    broken = copy.deepcopy(manifest)
    del broken["developer"]
    broken["bots"][0]["botId"] = "not-a-guid"
    broken["manifestVersion"] = "1.21"  # 'const' is enforced although the schema says draft-04

    errors = build.schema_errors(broken, schema)

    assert any("'developer' is a required property" in e for e in errors), errors
    assert any(e.startswith("bots/0/botId:") and "not-a-guid" in e for e in errors), errors
    assert any(e.startswith("manifestVersion:") for e in errors), errors
    assert len(errors) == 3


# --- our own rules -----------------------------------------------------------------------------------


def test_ids_come_from_the_environment(manifest: dict) -> None:
    assert manifest["bots"][0]["botId"] == BOT_ID
    assert manifest["id"] == BOT_ID  # TEAMS_APP_ID defaults to MicrosoftAppId

    other = build.render_manifest(build.settings_from({"MicrosoftAppId": BOT_ID, "TEAMS_APP_ID": OTHER_ID}))
    assert (other["id"], other["bots"][0]["botId"]) == (OTHER_ID, BOT_ID)


def test_the_bot_may_read_its_channels_messages_back_with_resource_specific_consent(manifest: dict,
                                                                                   schema: dict) -> None:
    """A send left in doubt by a crash is settled by reading the channel back through Graph
    (bot/services/sends.py): the app asks for ChannelMessage.Read.Group, granted to the bot's
    own Entra app (webApplicationInfo.id), which is the app the bot's Graph token is for."""
    assert manifest["webApplicationInfo"]["id"] == BOT_ID == manifest["bots"][0]["botId"]
    permissions = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in permissions
    assert build.schema_errors(manifest, schema) == []


def test_urls_and_version_are_configurable() -> None:
    env = {
        "MicrosoftAppId": BOT_ID,
        "TEAMS_APP_VERSION": "2.3.4",
        "TEAMS_WEBSITE_URL": "https://lscp.example.gov.uk/rapid-review",
        "TEAMS_PRIVACY_URL": "https://lscp.example.gov.uk/privacy",
        "TEAMS_TERMS_URL": "https://lscp.example.gov.uk/terms",
    }
    manifest = build.render_manifest(build.settings_from(env))
    assert manifest["version"] == "2.3.4"
    assert manifest["developer"] == {
        "name": "Rapid Review bot project",
        "websiteUrl": "https://lscp.example.gov.uk/rapid-review",
        "privacyUrl": "https://lscp.example.gov.uk/privacy",
        "termsOfUseUrl": "https://lscp.example.gov.uk/terms",
    }


def test_the_template_has_only_known_placeholders() -> None:
    used = set(build.PLACEHOLDER.findall(build.TEMPLATE.read_text(encoding="utf-8")))
    assert used == {s.placeholder for s in build.SETTINGS}


def test_bot_scopes_and_commands(manifest: dict) -> None:
    (bot,) = manifest["bots"]
    assert sorted(bot["scopes"]) == ["personal", "team"]
    assert bot["supportsFiles"] is True  # records go to a person as a file (Teams file consent card)
    assert manifest["validDomains"] == []
    commands = {tuple(cl["scopes"]): [c["title"] for c in cl["commands"]] for cl in bot["commandLists"]}
    assert commands == {
        ("personal",): ["refer", "resume", "cancel", "my referrals", "status", "help"],
        ("team",): ["use this channel for the panel", "status", "add", "remove", "members", "help"],
    }
    for command_list in bot["commandLists"]:
        assert len(command_list["commands"]) <= 10
        for command in command_list["commands"]:
            assert len(command["title"]) <= 32
            assert command["description"]
    assert build.package_errors(manifest, _icons(), bot_id=BOT_ID) == []


def test_package_rules_catch_what_the_schema_allows(manifest: dict) -> None:
    bad = copy.deepcopy(manifest)
    bad["version"] = "1.0"
    commands = bad["bots"][0]["commandLists"][0]["commands"]
    commands.append({"title": "x" * 33, "description": "too long a title"})
    commands.extend({"title": f"c{i}", "description": "filler"} for i in range(5))
    icons = _icons()
    icons["color.png"] = icons["outline.png"]  # 32x32 where 192x192 is needed

    problems = build.package_errors(bad, icons, bot_id=OTHER_ID)

    text = "\n".join(problems)
    assert "version" in text
    assert "12 commands" in text
    assert "longer than 32" in text
    assert "32x32, Teams needs 192x192" in text
    assert f"is not MicrosoftAppId '{OTHER_ID}'" in text


# --- icons -------------------------------------------------------------------------------------------


def test_icon_sizes_from_png_headers() -> None:
    width, height, colour_type = build.png_info((APP_PACKAGE / "color.png").read_bytes())
    assert (width, height) == (192, 192)
    width, height, colour_type = build.png_info((APP_PACKAGE / "outline.png").read_bytes())
    assert (width, height) == (32, 32)
    assert colour_type == 6  # RGBA: the outline needs transparency


def _pixels(png: bytes) -> bytes:
    """RGBA pixels of a PNG written by make_icons.png_bytes (one IDAT, filter 0 on every row)."""
    width, height, _ = build.png_info(png)
    length = int.from_bytes(png[33:37], "big")
    assert png[37:41] == b"IDAT"
    raw = zlib.decompress(png[41 : 41 + length])
    stride = width * 4 + 1
    assert all(raw[y * stride] == 0 for y in range(height))
    return b"".join(raw[y * stride + 1 : (y + 1) * stride] for y in range(height))


def test_outline_is_white_on_transparent() -> None:
    pixels = _pixels((APP_PACKAGE / "outline.png").read_bytes())
    alphas = pixels[3::4]
    assert 0 in alphas and 255 in alphas
    for i in range(0, len(pixels), 4):
        assert pixels[i : i + 3] == b"\xff\xff\xff"


def test_committed_icons_match_the_generator() -> None:
    assert _pixels((APP_PACKAGE / "outline.png").read_bytes()) == make_icons.render_outline()
    assert _pixels((APP_PACKAGE / "color.png").read_bytes()) == make_icons.render_color()


def test_accent_colour_matches_the_icon(manifest: dict) -> None:
    assert manifest["accentColor"].upper() == "#{:02X}{:02X}{:02X}".format(*make_icons.ACCENT)


# --- build.py ----------------------------------------------------------------------------------------


def test_build_writes_a_zip_with_exactly_three_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out" / "appPackage.zip"
    env_file = tmp_path / ".env"
    env_file.write_text(f"# bot registration\nexport MicrosoftAppId='{BOT_ID}'\nTEAMS_APP_VERSION=1.2.3 # bump\n")

    assert build.main(["--out", str(out), "--env-file", str(env_file)], environ={}) == 0

    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        packaged = json.loads(archive.read("manifest.json"))
        assert archive.read("color.png") == (APP_PACKAGE / "color.png").read_bytes()
        assert archive.read("outline.png") == (APP_PACKAGE / "outline.png").read_bytes()
    assert packaged["bots"][0]["botId"] == BOT_ID
    assert packaged["version"] == "1.2.3"
    assert build.schema_errors(packaged) == []
    assert str(out) in capsys.readouterr().out


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"MicrosoftAppId={OTHER_ID}\n")
    assert build.settings_from({"MicrosoftAppId": BOT_ID}, env_file)["BOT_ID"] == BOT_ID
    assert build.settings_from({}, env_file)["BOT_ID"] == OTHER_ID


def test_build_is_reproducible(tmp_path: Path) -> None:
    env = {"MicrosoftAppId": BOT_ID}
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert build.main(["--out", str(first), "--env-file", str(tmp_path / "none")], environ=env) == 0
    assert build.main(["--out", str(second), "--env-file", str(tmp_path / "none")], environ=env) == 0
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "MicrosoftAppId is not set"),
        ({"MicrosoftAppId": "my-bot"}, "MicrosoftAppId='my-bot' is not a GUID"),
        ({"MicrosoftAppId": BOT_ID, "TEAMS_APP_ID": "x"}, "TEAMS_APP_ID='x' is not a GUID"),
        ({"MicrosoftAppId": BOT_ID, "TEAMS_APP_VERSION": "1.0"}, "is not a version like 1.2.3"),
    ],
)
def test_build_refuses_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture, env: dict, message: str) -> None:
    out = tmp_path / "appPackage.zip"
    assert build.main(["--out", str(out), "--env-file", str(tmp_path / "missing.env")], environ=env) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_build_refuses_an_invalid_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = json.loads(build.TEMPLATE.read_text(encoding="utf-8"))
    del template["developer"]
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(template))
    monkeypatch.setattr(build, "TEMPLATE", bad)
    out = tmp_path / "appPackage.zip"

    status = build.main(["--out", str(out), "--env-file", str(tmp_path / "none")], environ={"MicrosoftAppId": BOT_ID})

    err = capsys.readouterr().err
    assert status == 1
    assert "the manifest is not valid" in err and "'developer' is a required property" in err
    assert not out.exists()
