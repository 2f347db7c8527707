"""Offline checks of the deployment files: Dockerfile, .dockerignore, requirements.runtime.lock, compose.yaml,
infra/main.bicep with its parameters, m365agents.yml and env/.env.dev. No Bicep CLI, Azure or container registry
is reachable here (README "Deploying"): these read the files and check what the bot and the toolkit need."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|MASTER_KEY|PRIVATE|CREDENTIAL", re.I)


def _lock(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if match:
            current = match.group(1).lower()
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


# ---- the container ----------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def test_the_dockerfile_names_the_slim_python_311_base_and_builds_from_it_twice():
    instructions = _dockerfile()
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in instructions
    froms = [i for i in instructions if i.startswith("FROM ")]
    assert froms == ["FROM ${PYTHON_IMAGE} AS build", "FROM ${PYTHON_IMAGE}"]


def test_the_image_runs_as_a_non_root_user():
    instructions = _dockerfile()
    final = instructions[max(i for i, line in enumerate(instructions) if line.startswith("FROM ")):]
    users = [i.split()[1] for i in final if i.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any("useradd" in i and "10001" in i and "nologin" in i for i in final)


def test_only_the_runtime_lock_is_installed_with_hashes_and_byte_compiled():
    instructions = _dockerfile()
    [install] = [i for i in instructions if "pip install" in i]
    assert "--require-hashes" in install and "-r /tmp/requirements.runtime.lock" in install
    assert "--compile" in install and "--no-deps" in install
    assert "COPY requirements.runtime.lock /tmp/requirements.runtime.lock" in instructions
    assert not any("requirements.lock" in i.replace("requirements.runtime.lock", "") for i in instructions)
    assert any(i.startswith("RUN") and "compileall" in i for i in instructions)
    assert not any(re.match(r"COPY \.\s", i) for i in instructions)  # never the whole tree (.env, databases)


def test_the_healthcheck_asks_readyz_and_port_and_host_come_from_the_environment():
    instructions = _dockerfile()
    [health] = [i for i in instructions if i.startswith("HEALTHCHECK")]
    assert 'CMD ["python", "-m", "bot.healthcheck"]' in health
    assert "/readyz" in (ROOT / "bot" / "healthcheck.py").read_text(encoding="utf-8")
    env = " ".join(i for i in instructions if i.startswith("ENV "))
    assert "HOST=0.0.0.0" in env and "PORT=8000" in env
    assert instructions[-1] == 'CMD ["python", "-m", "bot"]'


def test_no_secret_is_baked_into_the_image():
    for instruction in _dockerfile():
        if instruction.startswith(("ENV ", "ARG ", "LABEL ")):
            assert not SECRETISH.search(instruction), instruction
    # the only secret the build sees is a CA bundle, mounted for one step and never in a layer
    assert all("--mount=type=secret" in i for i in _dockerfile() if "/run/secrets/" in i)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[ignored.index("*") if "*" in ignored else 0] == "*"  # everything not named is left out
    for pattern in (".env", "*.db", "*.pem", "*.pfx", "*.key"):
        assert pattern in ignored


def test_the_runtime_lock_is_the_full_lock_without_the_test_tools():
    full, runtime = _lock(ROOT / "requirements.lock"), _lock(ROOT / "requirements.runtime.lock")
    assert runtime and all(hashes > 0 for _version, hashes in runtime.values())
    for name, (version, _hashes) in runtime.items():
        assert full[name][0] == version, f"{name}: {version} in the runtime lock, {full[name][0]} in the lock"
    for tool in ("pytest", "mypy", "ruff", "playwright", "hypothesis", "import-linter", "pyyaml"):
        assert tool not in runtime
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        assert name in runtime, f"{name} is a runtime dependency but not in requirements.runtime.lock"


class _Ready(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"ready": self.status == 200, "checks": {"database": "ok" if self.status == 200
                                                                   else "timeout"}}).encode()
        self.send_response(self.status if self.path == "/readyz" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
def test_the_healthcheck_command_follows_readyz(status, code):
    handler = type("Handler", (_Ready,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run = subprocess.run([sys.executable, "-m", "bot.healthcheck"], capture_output=True, text=True, timeout=30,
                             env={"PORT": str(server.server_address[1]), "PATH": "/usr/bin:/bin"}, cwd=ROOT,
                             check=False)
    finally:
        server.shutdown()
    assert run.returncode == code
    assert ("timeout" in run.stdout) == (status == 503)


def test_the_healthcheck_command_fails_when_nothing_answers():
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = subprocess.run([sys.executable, "-m", "bot.healthcheck"], capture_output=True, text=True, timeout=30,
                         env={"PORT": str(port), "PATH": "/usr/bin:/bin"}, cwd=ROOT, check=False)
    assert run.returncode == 1 and "not answering" in run.stdout


def test_compose_runs_two_bot_instances_on_one_postgresql_with_no_password_written():
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    compose = yaml.safe_load(text)
    services = compose["services"]
    bots = [name for name, service in services.items() if service.get("image", "").startswith("rapid-review-bot")]
    assert len(bots) == 2
    assert services["db"]["image"].startswith("postgres:")
    for name in bots:
        service = services[name]
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://rapidreview:${POSTGRES_PASSWORD")
        assert "@db:5432/" in service["environment"]["DATABASE_URL"]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["environment"]["HOST"] == "0.0.0.0"
    assert len({services[name]["ports"][0] for name in bots}) == 2
    for line in text.splitlines():  # every password is a ${...} from .env, never a literal
        if "PASSWORD" in line and ":" in line and not line.lstrip().startswith("#"):
            assert "${POSTGRES_PASSWORD" in line, line


# ---- Azure --------------------------------------------------------------------------------------

BICEP = (ROOT / "infra" / "main.bicep").read_text(encoding="utf-8")

# What infra/main.bicep must declare, with the API versions it was written against (each one published; the
# same as Microsoft's toolkit templates and the resource reference use).
EXPECTED_RESOURCES = {
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.OperationalInsights/workspaces": "2022-10-01",
    "Microsoft.Insights/components": "2020-02-02",
    "Microsoft.KeyVault/vaults": "2023-07-01",
    "Microsoft.KeyVault/vaults/secrets": "2023-07-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.DBforPostgreSQL/flexibleServers": "2022-12-01",
    "Microsoft.DBforPostgreSQL/flexibleServers/databases": "2022-12-01",
    "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules": "2022-12-01",
    "Microsoft.Web/serverfarms": "2023-12-01",
    "Microsoft.Web/sites": "2023-12-01",
    "Microsoft.BotService/botServices": "2022-09-15",
    "Microsoft.BotService/botServices/channels": "2022-09-15",
}


def _resources() -> dict[str, tuple[str, str]]:
    """symbolic name → (type, API version)."""
    return {m.group(1): (m.group(2), m.group(3))
            for m in re.finditer(r"^resource (\w+) '([\w./]+)@([\w-]+)'", BICEP, re.M)}


def _block(symbol: str) -> str:
    """The text of one resource's body (braces balanced)."""
    start = re.search(rf"^resource {symbol} .*?= {{", BICEP, re.M)
    assert start, symbol
    depth, i = 1, start.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(BICEP[i], 0)
        i += 1
    return BICEP[start.end():i - 1]


def _params() -> dict[str, str | None]:
    """name → default (None when it has none)."""
    return {m.group(1): m.group(3) for m in re.finditer(r"^param (\w+) (\w+)(?: = (.+))?$", BICEP, re.M)}


def test_the_bicep_declares_each_resource_with_its_api_version():
    declared = {}
    for _symbol, (kind, version) in _resources().items():
        declared.setdefault(kind, set()).add(version)
    assert declared == {kind: {version} for kind, version in EXPECTED_RESOURCES.items()}


def test_uk_south_by_default_and_https_only():
    assert _params()["location"] == "'uksouth'"
    site = _block("site")
    assert "httpsOnly: true" in site and "minTlsVersion: '1.2'" in site and "ftpsState: 'Disabled'" in site
    assert "healthCheckPath: '/readyz'" in site
    assert re.search(r"endpoint: 'https://\$\{site\.properties\.defaultHostName\}/api/messages'", _block("bot"))


def test_the_bot_is_a_user_assigned_managed_identity_with_no_secret():
    bot = _block("bot")
    assert "msaAppType: 'UserAssignedMSI'" in bot
    assert "msaAppId: identity.properties.clientId" in bot and "msaAppMSIResourceId: identity.id" in bot
    assert "userAssignedIdentities: { '${identity.id}': {} }" in _block("site")
    assert not re.search(r"MicrosoftAppPassword|clientSecret|msaAppPassword|GRAPH_CLIENT_SECRET", BICEP)
    assert "'MsTeamsChannel'" in _block("teams")


def _app_settings() -> dict[str, str]:
    return dict(re.findall(r"\{ name: '(\w+)', value: (.+?) \}", BICEP))


def test_every_app_setting_is_one_the_bot_or_the_platform_reads():
    aliases = set()
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        aliases |= {c for c in choices if isinstance(c, str)}
    platform = {"AZURE_CLIENT_ID", "WEBSITES_PORT", "SCM_DO_BUILD_DURING_DEPLOYMENT",
                "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    settings = _app_settings()
    assert set(settings) - aliases - platform == set()
    assert settings["MicrosoftAppType"] == "'UserAssignedMSI'"
    assert settings["MicrosoftAppId"] == settings["AZURE_CLIENT_ID"] == "identity.properties.clientId"
    assert settings["BOT_ENV"] == "'production'" and settings["HOST"] == "'0.0.0.0'"
    assert settings["KEY_VAULT_URL"] == "vault.properties.vaultUri"
    # secrets only as Key Vault references, read with the managed identity
    assert settings["DATABASE_URL"].startswith("'${keyVaultReference}")
    assert settings["GRAPH_CERTIFICATE"].startswith("'${keyVaultReference}")
    assert "keyVaultReferenceIdentity: identity.id" in _block("site")
    assert "@secure()\n@description('PostgreSQL administrator password." in BICEP
    assert "enableRbacAuthorization: true" in _block("vault") and "enablePurgeProtection: true" in _block("vault")


def test_the_outputs_the_toolkit_and_the_manifest_need():
    outputs = dict(re.findall(r"^output (\w+) string = (.+)$", BICEP, re.M))
    assert outputs["BOT_ID"] == "identity.properties.clientId"
    assert outputs["BOT_AZURE_APP_SERVICE_RESOURCE_ID"] == "site.id"
    assert {"BOT_DOMAIN", "BOT_ENDPOINT", "KEY_VAULT_URL"} <= set(outputs)


def test_the_parameters_file_matches_the_template():
    params = _params()
    given = json.loads((ROOT / "infra" / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(params), set(given) - set(params)
    required = {name for name, default in params.items() if default is None}
    assert required <= set(given), required - set(given)
    assert given["location"]["value"] == "uksouth"
    # the password is a secret of the toolkit's environment (env/.env.<env>.user), never a value in the file
    assert given["postgresAdminPassword"]["value"] == "${{SECRET_POSTGRES_ADMIN_PASSWORD}}"


# ---- the Microsoft 365 Agents Toolkit -----------------------------------------------------------

# The toolkit's actions this project uses (its built-in drivers).
TOOLKIT_DRIVERS = {"teamsApp/create", "arm/deploy", "teamsApp/validateManifest", "teamsApp/zipAppPackage",
                   "teamsApp/validateAppPackage", "teamsApp/update", "script", "azureAppService/zipDeploy"}


def _toolkit() -> dict:
    return yaml.safe_load((ROOT / "m365agents.yml").read_text(encoding="utf-8"))


def _env_file() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / "env" / ".env.dev").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs


def test_m365agents_yml_has_the_shape_the_toolkit_reads():
    toolkit = _toolkit()
    assert re.match(r"^v1\.\d+$", toolkit["version"])
    assert (ROOT / toolkit["environmentFolderPath"]).is_dir()
    for stage in ("provision", "deploy"):
        assert toolkit[stage], stage
        for action in toolkit[stage]:
            assert action["uses"] in TOOLKIT_DRIVERS, action["uses"]
            assert isinstance(action.get("with"), dict), action["uses"]
    [arm] = [a for a in toolkit["provision"] if a["uses"] == "arm/deploy"]
    [template] = arm["with"]["templates"]
    assert (ROOT / template["path"]).resolve() == ROOT / "infra" / "main.bicep"
    assert (ROOT / template["parameters"]).resolve() == ROOT / "infra" / "main.parameters.json"
    for action in toolkit["provision"]:
        for key in ("manifestPath",):
            if key in action["with"]:
                assert (ROOT / action["with"][key]).is_file()
    [script] = [a for a in toolkit["deploy"] if a["uses"] == "script"]
    assert (ROOT / script["with"]["run"].split()[1]).is_file()


def test_every_placeholder_is_filled_by_the_environment_file_or_by_provision():
    toolkit = _toolkit()
    written = set(_env_file())
    for action in toolkit["provision"]:
        written |= set((action.get("writeToEnvironmentFile") or {}).values())
    written |= set(re.findall(r"^output (\w+) ", BICEP, re.M))
    built_in = {"AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP_NAME", "TEAMSFX_ENV"}
    texts = [(ROOT / "m365agents.yml").read_text(encoding="utf-8"),
             (ROOT / "infra" / "main.parameters.json").read_text(encoding="utf-8"),
             (ROOT / "appPackage" / "manifest.json").read_text(encoding="utf-8")]
    used = {name for text in texts for name in re.findall(r"\$\{\{(\w+)\}\}", text)}
    secrets = {name for name in used if name.startswith("SECRET_")}  # env/.env.<env>.user, never committed
    assert used - written - built_in - secrets == set()
    assert "SECRET_POSTGRES_ADMIN_PASSWORD" in secrets
    assert not any(SECRETISH.search(key) and value.strip() for key, value in _env_file().items())


def test_the_deploy_folder_holds_the_code_and_the_runtime_lock_as_requirements_txt(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("stage_deploy", ROOT / "infra" / "stage_deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    target = tmp_path / "deploy"
    module.stage(target)
    assert (target / "requirements.txt").read_bytes() == (ROOT / "requirements.runtime.lock").read_bytes()
    for name in ("bot/__main__.py", "scheduler/profiles", "config/partnership.example.toml",
                 "bot/adapters/db/migrations/env.py"):
        assert (target / name).exists(), name
    assert not list(target.rglob("__pycache__")) and not list(target.rglob(".env"))
