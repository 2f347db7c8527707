"""Start-up configuration: refusing to run unsafely (an empty Bot Framework app id in
production must stop start-up) and errors that name the setting and say how to fix it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import bot.__main__ as entrypoint
from bot.settings import DEFAULT_PARTNERSHIP_FILE, REPO_ROOT, ConfigError, load_partnership, load_settings

APP_ID = "5f0c7a1e-3b7d-4c2a-9e51-0d6f2b8a4c11"
TENANT = "00000000-0000-0000-0000-0000000000aa"
SETTING_NAMES = (
    "PORT", "HOST", "BOT_ENV", "DATABASE_URL", "PARTNERSHIP_FILE", "MicrosoftAppId", "MicrosoftAppPassword",
    "MicrosoftAppType", "MicrosoftAppTenantId", "LOG_LEVEL",
)


# ---- environment ------------------------------------------------------------------------------


def test_production_without_an_app_id_refuses_to_start():
    with pytest.raises(ConfigError) as raised:
        load_settings({"BOT_ENV": "production"})
    message = str(raised.value)
    assert message.startswith("MicrosoftAppId is empty")
    assert "BOT_ENV=production" in message
    assert "Set MicrosoftAppId" in message  # the fix


def test_production_with_an_app_id_but_no_password_names_the_password():
    with pytest.raises(ConfigError, match="MicrosoftAppPassword is empty: set the client secret"):
        load_settings({"BOT_ENV": "production", "MicrosoftAppId": APP_ID, "MicrosoftAppTenantId": TENANT})


@pytest.mark.parametrize("app_type", ["SingleTenant", "singletenant", "UserAssignedMSI"])
def test_single_tenant_or_msi_without_a_tenant_names_microsoft_app_tenant_id(app_type):
    env = {"BOT_ENV": "production", "MicrosoftAppId": APP_ID, "MicrosoftAppType": app_type}
    if app_type != "UserAssignedMSI":  # a managed identity has no secret
        env["MicrosoftAppPassword"] = "secret"
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert str(raised.value).startswith("MicrosoftAppTenantId is empty")
    assert "set it to your Entra tenant id" in str(raised.value)


def test_a_managed_identity_needs_no_secret_and_refuses_one():
    env = {"BOT_ENV": "production", "MicrosoftAppId": APP_ID, "MicrosoftAppTenantId": TENANT,
           "MicrosoftAppType": "UserAssignedMSI"}
    settings = load_settings(env)
    assert settings.app_password == "" and not settings.local_mode
    with pytest.raises(ConfigError, match="MicrosoftAppPassword is set but MicrosoftAppType=UserAssignedMSI"):
        load_settings({**env, "MicrosoftAppPassword": "left-over-secret"})


def test_multi_tenant_needs_no_tenant():
    settings = load_settings({"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "secret",
                              "MicrosoftAppType": "MultiTenant"})
    assert not settings.local_mode


def test_an_unknown_app_type_names_the_setting():
    with pytest.raises(ConfigError, match="MicrosoftAppType: Input should be .SingleTenant."):
        load_settings({"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "secret", "MicrosoftAppType": "Anonymous"})


def test_local_mode_binds_loopback_even_if_host_says_otherwise():
    settings = load_settings({"HOST": "0.0.0.0"})
    assert settings.local_mode
    assert settings.bind_host == "127.0.0.1"


def test_with_credentials_the_configured_host_is_used():
    settings = load_settings({"HOST": "0.0.0.0", "BOT_ENV": "production", "MicrosoftAppId": APP_ID,
                              "MicrosoftAppPassword": "secret", "MicrosoftAppTenantId": TENANT})
    assert not settings.local_mode
    assert settings.bind_host == "0.0.0.0"


def test_the_password_is_not_in_the_settings_repr():
    settings = load_settings({"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "s3cr3t-value",
                              "MicrosoftAppTenantId": TENANT})
    assert "s3cr3t-value" not in repr(settings)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No settings from the test runner's environment or a .env file."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_m_bot_in_local_mode_listens_on_loopback_even_with_host_0_0_0_0(clean_env, monkeypatch):
    """The entry point passes settings.bind_host (not HOST) to aiohttp."""
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{clean_env / 'bot.db'}")
    served: dict[str, Any] = {}
    monkeypatch.setattr(entrypoint, "configure_logging", lambda level: None)  # keep pytest's log capture
    monkeypatch.setattr(entrypoint.web, "run_app", lambda app, **kw: served.update(kw))
    assert entrypoint.main() == 0
    assert served["host"] == "127.0.0.1"


# ---- python -m bot --------------------------------------------------------------------------------


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k.upper() not in
            {n.upper() for n in SETTING_NAMES}}
    base.update({"PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **env})
    return subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=base, capture_output=True, text=True,
                          timeout=30, check=False)


def test_python_m_bot_in_production_without_an_app_id_exits_non_zero_with_the_reason(tmp_path):
    result = _run_bot(tmp_path, BOT_ENV="production")
    assert result.returncode != 0
    assert result.returncode == 2
    assert "Rapid Review bot cannot start" in result.stderr
    assert "MicrosoftAppId is empty but BOT_ENV=production" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_m_bot_with_a_broken_partnership_file_exits_non_zero_naming_the_field(tmp_path):
    broken = tmp_path / "partnership.toml"
    broken.write_text(_without_managers(), encoding="utf-8")
    result = _run_bot(tmp_path, PARTNERSHIP_FILE=str(broken))
    assert result.returncode == 2
    assert "partnership_managers" in result.stderr
    assert "Traceback" not in result.stderr


# ---- the partnership file -------------------------------------------------------------------------

EXAMPLE = DEFAULT_PARTNERSHIP_FILE.read_text(encoding="utf-8")


def _without_managers() -> str:
    return EXAMPLE[: EXAMPLE.index("[[partnership.partnership_managers]]")]


def _replace(old: str, new: str) -> str:
    assert EXAMPLE.count(old) == 1, old
    return EXAMPLE.replace(old, new)


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "partnership.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_partnership(path)
    message = str(raised.value)
    assert str(path) in message, "the error names the file"
    return message


def test_the_example_partnership_file_loads():
    config = load_partnership(DEFAULT_PARTNERSHIP_FILE)
    assert config.partnership_managers and config.tenant_ids == [TENANT]


def test_no_partnership_manager(tmp_path):
    message = _load(tmp_path, _without_managers())
    assert "partnership_managers" in message
    assert "name at least one partnership manager" in message


def test_a_panel_member_without_aad_object_id_or_upn(tmp_path):
    text = _replace('aad_object_id = "00000000-0000-0000-0000-00000000a005"\nupn = "dan.police@example.org"\n', "")
    message = _load(tmp_path, text)
    assert "panel.police.0" in message
    assert "give aad_object_id or upn" in message


def test_a_panel_member_whose_aad_object_id_is_not_a_guid(tmp_path):
    message = _load(tmp_path, _replace('"00000000-0000-0000-0000-00000000a005"', '"dan.police"'))
    assert "panel.police.0.aad_object_id" in message
    assert "must be an Entra object id (a GUID like" in message


def test_a_tenant_id_that_is_not_a_guid(tmp_path):
    message = _load(tmp_path, _replace('tenant_ids = ["00000000-0000-0000-0000-0000000000aa"]',
                                       'tenant_ids = ["contoso.onmicrosoft.com"]'))
    assert "tenant_ids" in message
    assert "'contoso.onmicrosoft.com' is not a tenant id" in message
    assert "Directory (tenant) ID" in message  # where to find the right value


def test_invalid_toml(tmp_path):
    message = _load(tmp_path, _replace('short_name = "ESCP"', "short_name = ESCP"))
    assert "not valid TOML" in message
    assert "line 8" in message  # where
    assert "double quotes" in message  # how to fix it


def test_a_missing_partnership_file(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_partnership(tmp_path / "nope.toml")
    assert "PARTNERSHIP_FILE" in str(raised.value)
    assert "partnership.example.toml" in str(raised.value)


def test_an_unknown_key_is_named(tmp_path):
    message = _load(tmp_path, _replace('short_name = "ESCP"', 'short_name = "ESCP"\nshortname = "typo"'))
    assert "shortname" in message


def test_the_earliest_incident_date_is_configurable_and_defaults_to_1990(tmp_path):
    assert load_partnership(DEFAULT_PARTNERSHIP_FILE).earliest_incident_date == date(1990, 1, 1)
    path = tmp_path / "partnership.toml"
    path.write_text(_replace("earliest_incident_date = 1990-01-01\n", ""), encoding="utf-8")
    assert load_partnership(path).earliest_incident_date == date(1990, 1, 1)
    path.write_text(_replace("earliest_incident_date = 1990-01-01", "earliest_incident_date = 2005-04-01"),
                    encoding="utf-8")
    assert load_partnership(path).earliest_incident_date == date(2005, 4, 1)


def test_an_earliest_incident_date_before_1900_is_named(tmp_path):
    message = _load(tmp_path, _replace("earliest_incident_date = 1990-01-01", "earliest_incident_date = 1066-10-14"))
    assert "earliest_incident_date" in message


def test_the_graph_certificate_can_be_given_as_pem_text_with_its_thumbprint():
    """In Azure the certificate comes from Key Vault as an app setting (infra/main.bicep), not as a file."""
    from bot.app import _graph_credential

    env = {"GRAPH_CLIENT_ID": APP_ID, "GRAPH_TENANT_ID": TENANT, "GRAPH_ORGANISER": "rr@example.org",
           "GRAPH_CERTIFICATE": "-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----\n"}
    with pytest.raises(ConfigError, match="GRAPH_CERTIFICATE_THUMBPRINT is empty"):
        load_settings(env)
    settings = load_settings({**env, "GRAPH_CERTIFICATE_THUMBPRINT": "AB12"})
    assert _graph_credential(settings) == {"private_key": env["GRAPH_CERTIFICATE"], "thumbprint": "AB12"}
    assert "BEGIN PRIVATE KEY" not in repr(settings)
