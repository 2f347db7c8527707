"""Configuration: environment variables (and an optional `.env`), plus the partnership file.

The Bot Framework's own variable names are kept (`MicrosoftAppId` …) so the usual
deployment templates work unchanged. Bad configuration stops start-up with a message
that names the setting and the fix (`ConfigError`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.partnership import PartnershipConfig

# A DNS name with at least two labels (ALLOWED_SERVICE_HOSTS entries).
_HOST_NAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARTNERSHIP_FILE = REPO_ROOT / "config" / "partnership.example.toml"
DEFAULT_FAMILY_LETTER = REPO_ROOT / "config" / "family_letter.txt"  # the shipped family letter template


class ConfigError(Exception):
    """Configuration that cannot work; the message says which setting and how to fix it."""


class Environment(StrEnum):
    LOCAL = "local"
    PRODUCTION = "production"


class TeamsEdge(StrEnum):
    """Which SDK answers Teams (README, "The Agents SDK edge"); read only by the composition root."""

    BOTBUILDER = "botbuilder"
    AGENTS = "agents"


class AppType(StrEnum):
    SINGLE_TENANT = "SingleTenant"
    MULTI_TENANT = "MultiTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True)

    port: int = Field(default=3978, ge=1, le=65535, validation_alias=AliasChoices("PORT", "port"))
    # /readyz says "not ready" when a due outbox message has waited longer than this.
    outbox_stuck_after_seconds: int = Field(default=900, ge=30, validation_alias=AliasChoices(
        "OUTBOX_STUCK_AFTER_SECONDS", "outbox_stuck_after_seconds"))
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HOST", "host"))
    environment: Environment = Field(default=Environment.LOCAL,
                                     validation_alias=AliasChoices("BOT_ENV", "environment"))
    database_url: str = Field(default="sqlite:///./data/rapid_review.db",
                              validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    partnership_file: Path = Field(default=DEFAULT_PARTNERSHIP_FILE,
                                   validation_alias=AliasChoices("PARTNERSHIP_FILE", "partnership_file"))
    teams_edge: TeamsEdge = Field(default=TeamsEdge.BOTBUILDER, validation_alias=AliasChoices("TEAMS_EDGE", "teams_edge"))
    app_id: str = Field(default="", validation_alias=AliasChoices("MicrosoftAppId", "app_id"))
    app_password: str = Field(default="", validation_alias=AliasChoices("MicrosoftAppPassword", "app_password"),
                              repr=False)
    app_type: AppType = Field(default=AppType.SINGLE_TENANT,
                              validation_alias=AliasChoices("MicrosoftAppType", "app_type"))
    app_tenant_id: str = Field(default="", validation_alias=AliasChoices("MicrosoftAppTenantId", "app_tenant_id"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    public_base_url: str = Field(default="", validation_alias=AliasChoices("PUBLIC_BASE_URL", "public_base_url"))

    # Microsoft Graph (meetings). All empty: the offline provider books the first slot of the window.
    graph_tenant_id: str = Field(default="", validation_alias=AliasChoices("GRAPH_TENANT_ID", "graph_tenant_id"))
    graph_client_id: str = Field(default="", validation_alias=AliasChoices("GRAPH_CLIENT_ID", "graph_client_id"))
    graph_client_secret: str = Field(default="", repr=False,
                                     validation_alias=AliasChoices("GRAPH_CLIENT_SECRET", "graph_client_secret"))
    graph_certificate_path: str = Field(default="", validation_alias=AliasChoices("GRAPH_CERTIFICATE_PATH",
                                                                                  "graph_certificate_path"))
    # The certificate itself (PEM: private key, and the certificate), e.g. an App Service Key Vault reference
    # to the certificate's secret, instead of a file (GRAPH_CERTIFICATE_PATH).
    graph_certificate: str = Field(default="", repr=False, validation_alias=AliasChoices("GRAPH_CERTIFICATE",
                                                                                       "graph_certificate"))
    graph_certificate_thumbprint: str = Field(default="", validation_alias=AliasChoices(
        "GRAPH_CERTIFICATE_THUMBPRINT", "graph_certificate_thumbprint"))
    graph_organiser: str = Field(default="", validation_alias=AliasChoices("GRAPH_ORGANISER", "graph_organiser"))
    graph_base_url: str = Field(default="https://graph.microsoft.com/v1.0",
                                validation_alias=AliasChoices("GRAPH_BASE_URL", "graph_base_url"))
    graph_authority_host: str = Field(default="https://login.microsoftonline.com",
                                      validation_alias=AliasChoices("GRAPH_AUTHORITY_HOST", "graph_authority_host"))
    meeting_minutes: int = Field(default=120, ge=30, le=480, validation_alias=AliasChoices("MEETING_MINUTES",
                                                                                           "meeting_minutes"))
    working_hours: str = Field(default="09:30-16:30", validation_alias=AliasChoices("WORKING_HOURS", "working_hours"),
                               pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    meeting_default_time: str = Field(default="10:00", pattern=r"^\d{2}:\d{2}$",
                                      validation_alias=AliasChoices("MEETING_DEFAULT_TIME", "meeting_default_time"))
    chair_notes_hours_before: int = Field(default=24, ge=1, le=24 * 7, validation_alias=AliasChoices(
        "CHAIR_NOTES_HOURS_BEFORE", "chair_notes_hours_before"))
    # Install the bot's Teams app (its id in the tenant's app catalog) for a person Teams cannot
    # reach, through Graph (bot/adapters/teams_apps.py). Off by default: the managers are told instead.
    teams_app_install_for_unreachable: bool = Field(default=False, validation_alias=AliasChoices(
        "TEAMS_APP_INSTALL_FOR_UNREACHABLE", "teams_app_install_for_unreachable"))
    teams_app_id: str = Field(default="", validation_alias=AliasChoices("TEAMS_APP_ID", "teams_app_id"))
    # Service hosts the bot may send to besides the Bot Framework / Teams defaults
    # (bot/adapters/service_hosts.py): sovereign clouds, comma-separated host names or suffixes.
    allowed_service_hosts: str = Field(default="", validation_alias=AliasChoices("ALLOWED_SERVICE_HOSTS",
                                                                               "allowed_service_hosts"))
    # Where the signing keys of incoming Bot Connector tokens are published (bot/teams/signing_keys.py):
    # Microsoft's OpenID metadata documents unless a sovereign cloud or an egress rule needs others.
    openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        validation_alias=AliasChoices("OPENID_METADATA_URL", "openid_metadata_url"), pattern=r"^https://\S+$")
    emulator_openid_metadata_url: str = Field(
        default="https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
        validation_alias=AliasChoices("EMULATOR_OPENID_METADATA_URL", "emulator_openid_metadata_url"),
        pattern=r"^https://\S+$")
    # Every fetch of those keys gives up after this long (at most 5 s: Teams waits about 5 s for an answer),
    # and they are fetched again at most once per floor, whatever tokens arrive.
    openid_fetch_timeout_seconds: float = Field(default=5.0, gt=0, le=5, validation_alias=AliasChoices(
        "OPENID_FETCH_TIMEOUT_SECONDS", "openid_fetch_timeout_seconds"))
    openid_refresh_floor_seconds: float = Field(default=300.0, ge=1, le=86400, validation_alias=AliasChoices(
        "OPENID_REFRESH_FLOOR_SECONDS", "openid_refresh_floor_seconds"))
    # How long a claimed outbox message is one process's to deliver: after a crash, another
    # process (or this one, restarted) settles its sends once the lease has run out.
    outbox_lease_seconds: int = Field(default=60, ge=1, le=3600, validation_alias=AliasChoices(
        "OUTBOX_LEASE_SECONDS", "outbox_lease_seconds"))
    # A vote's card update is sent this long after the voter's own answer: the two reach the voter's
    # client by different routes, and it must end on the channel's card (bot/services/signal.py).
    card_update_after_answer_ms: int = Field(default=100, ge=0, le=5000, validation_alias=AliasChoices(
        "CARD_UPDATE_AFTER_ANSWER_MS", "card_update_after_answer_ms"))
    # Teams' per-thread rate limits (bot/teams/pacer.py): Microsoft's page defines a thread as a chat or a
    # channel, so by default all the reply chains of the panel channel (one per case) count together
    # against the channel; true paces each case's reply chain on its own.
    pace_each_reply_chain: bool = Field(default=False, validation_alias=AliasChoices(
        "PACE_EACH_REPLY_CHAIN", "pace_each_reply_chain"))
    # Identifiers at rest (docs/data-protection.md): the master key that wraps every case's data key,
    # from the environment or from Azure Key Vault; required outside local mode.
    master_key: str = Field(default="", repr=False, validation_alias=AliasChoices("MASTER_KEY", "master_key"))
    master_key_id: str = Field(default="", validation_alias=AliasChoices("MASTER_KEY_ID", "master_key_id"))
    master_key_previous: str = Field(default="", repr=False, validation_alias=AliasChoices(
        "MASTER_KEY_PREVIOUS", "master_key_previous"))
    master_key_previous_id: str = Field(default="", validation_alias=AliasChoices("MASTER_KEY_PREVIOUS_ID",
                                                                                  "master_key_previous_id"))
    key_vault_url: str = Field(default="", validation_alias=AliasChoices("KEY_VAULT_URL", "key_vault_url"))
    key_vault_secret: str = Field(default="rapid-review-master-key", validation_alias=AliasChoices(
        "KEY_VAULT_SECRET", "key_vault_secret"))
    # Off only in local mode, to measure what encryption costs (tests/bench/bench.py --compare-encryption).
    encrypt_at_rest: bool = Field(default=True, validation_alias=AliasChoices("ENCRYPT_AT_REST", "encrypt_at_rest"))
    # Training mode (`make demo`): a rehearsal on its own database, never with real cases or a real tenant.
    training_mode: bool = Field(default=False, validation_alias=AliasChoices("TRAINING_MODE", "training_mode"))
    # Every turn answers within this many seconds; if the database is not available by then the
    # person is told "The system is busy — your answer was not saved, please press again"
    # (Teams shows an error of its own after about 5 s).
    turn_budget_seconds: float = Field(default=3.5, gt=0, le=10, validation_alias=AliasChoices(
        "TURN_BUDGET_SECONDS", "turn_budget_seconds"))
    # How long background work (the outbox, the scheduler) waits for a locked SQLite database
    # before a pass gives up and is tried again.
    database_busy_seconds: float = Field(default=30.0, gt=0, le=600, validation_alias=AliasChoices(
        "DATABASE_BUSY_SECONDS", "database_busy_seconds"))

    # Telemetry (bot/adapters/telemetry.py): off unless one of these is set. Application Insights
    # through the Azure Monitor OpenTelemetry distro, or any OTLP/HTTP collector (the standard
    # OTEL_* variables then apply: headers, protocol, service name).
    applicationinsights_connection_string: str = Field(default="", repr=False, validation_alias=AliasChoices(
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "applicationinsights_connection_string"))
    otel_exporter_otlp_endpoint: str = Field(default="", validation_alias=AliasChoices(
        "OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"))
    otel_service_name: str = Field(default="rapid-review-bot", validation_alias=AliasChoices(
        "OTEL_SERVICE_NAME", "otel_service_name"))
    # The benchmark's event-loop probe (bot/adapters/loop_probe.py): where SIGUSR1 writes how long
    # callbacks held the loop. Empty (the default): no probe.
    loop_probe_file: str = Field(default="", validation_alias=AliasChoices("LOOP_PROBE_FILE", "loop_probe_file"))

    @property
    def graph_configured(self) -> bool:
        return bool(self.graph_client_id)

    @property
    def extra_service_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower().removeprefix("*.").removeprefix(".").rstrip(".")
                     for h in self.allowed_service_hosts.split(",") if h.strip())

    @field_validator("allowed_service_hosts")
    @classmethod
    def _allowed_service_hosts(cls, value: str) -> str:
        for raw in value.split(","):
            host = raw.strip().lower().removeprefix("*.").removeprefix(".").rstrip(".")
            if raw.strip() and (not _HOST_NAME.match(host) or host.replace(".", "").isdigit()):
                raise ValueError(
                    f"ALLOWED_SERVICE_HOSTS: {raw.strip()!r} is not a host name. List host names or suffixes, "
                    "comma-separated, without https:// or a path (e.g. smba.infra.gov.teams.microsoft.us).")
        return value

    @field_validator("app_type", mode="before")
    @classmethod
    def _app_type(cls, value: Any) -> Any:
        if isinstance(value, str):
            for member in AppType:
                if member.value.lower() == value.strip().lower():
                    return member
        return value

    @property
    def local_mode(self) -> bool:
        """No Bot Framework credentials: requests are not authenticated, so the bot
        listens on the loopback interface only."""
        return not self.app_id

    @property
    def bind_host(self) -> str:
        return "127.0.0.1" if self.local_mode else self.host

    def check(self) -> None:
        if self.training_mode:
            if self.app_id or self.app_password:
                raise ConfigError(
                    "TRAINING_MODE is on but MicrosoftAppId/MicrosoftAppPassword are set: training mode is a "
                    "rehearsal in Agents Playground and must never be reachable from a real Teams tenant. Unset the "
                    "Bot Framework credentials, or unset TRAINING_MODE.")
            if self.environment is Environment.PRODUCTION:
                raise ConfigError(
                    "TRAINING_MODE is on but BOT_ENV=production: a production bot never runs a rehearsal. Unset "
                    "BOT_ENV (training runs locally, e.g. `make demo`), or unset TRAINING_MODE.")
        if self.graph_configured:
            missing = [name for name, value in (("GRAPH_TENANT_ID", self.graph_tenant_id),
                                                ("GRAPH_ORGANISER", self.graph_organiser)) if not value]
            if not (self.graph_client_secret or self.graph_certificate_path or self.graph_certificate):
                missing.append("GRAPH_CLIENT_SECRET, GRAPH_CERTIFICATE_PATH or GRAPH_CERTIFICATE")
            if (self.graph_certificate_path or self.graph_certificate) and not self.graph_certificate_thumbprint:
                missing.append("GRAPH_CERTIFICATE_THUMBPRINT")
            if missing:
                raise ConfigError("GRAPH_CLIENT_ID is set, so meetings are booked through Microsoft Graph, but "
                                  + ", ".join(missing) + " is empty. Set it, or unset GRAPH_CLIENT_ID to use the "
                                  "offline provider.")
        if self.teams_app_install_for_unreachable and not self.teams_app_id:
            raise ConfigError("TEAMS_APP_INSTALL_FOR_UNREACHABLE is on but TEAMS_APP_ID is empty: set it to the "
                              "Rapid Review app's id in your tenant's app catalog, or switch the option off.")
        if self.environment is Environment.PRODUCTION and self.local_mode:
            raise ConfigError(
                "MicrosoftAppId is empty but BOT_ENV=production: without Bot Framework credentials anyone could "
                "post forged activities. Set MicrosoftAppId, MicrosoftAppPassword and MicrosoftAppTenantId "
                "(see README 'Registering in a real tenant'), or unset BOT_ENV to run locally."
            )
        if not self.local_mode and not self.encrypt_at_rest:
            raise ConfigError("ENCRYPT_AT_REST is off but MicrosoftAppId is set: identifiers are always encrypted "
                              "outside local mode. Unset ENCRYPT_AT_REST.")
        if not self.local_mode:
            if self.app_type is AppType.USER_ASSIGNED_MSI and self.app_password:
                raise ConfigError(
                    "MicrosoftAppPassword is set but MicrosoftAppType=UserAssignedMSI: the bot's token comes from its "
                    "managed identity, which has no secret. Remove MicrosoftAppPassword from the configuration (and "
                    "delete the unused secret), or set MicrosoftAppType=SingleTenant to use it.")
            if self.app_type is not AppType.USER_ASSIGNED_MSI and not self.app_password:
                raise ConfigError("MicrosoftAppPassword is empty: set the client secret of the bot's Entra app.")
            if self.app_type is not AppType.MULTI_TENANT and not self.app_tenant_id:
                raise ConfigError(
                    f"MicrosoftAppTenantId is empty but MicrosoftAppType={self.app_type.value}: set it to your "
                    "Entra tenant id."
                )


def load_settings(environ: Mapping[str, str] | None = None, *, env_file: str | None = ".env") -> Settings:
    try:
        if environ is None:
            settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
        else:
            settings = Settings.model_validate(dict(environ))
    except ValidationError as error:
        raise ConfigError(_describe(error, "environment")) from error
    settings.check()
    return settings


def load_partnership(path: Path) -> PartnershipConfig:
    if not path.exists():
        raise ConfigError(
            f"PARTNERSHIP_FILE {path} does not exist: point PARTNERSHIP_FILE at your partnership file "
            f"(start from {DEFAULT_PARTNERSHIP_FILE.relative_to(REPO_ROOT)})."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"{path}: not valid TOML: {error}. Fix the file at that line and column: text needs double quotes "
            '(short_name = "ESCP"), lists square brackets (tenant_ids = ["..."]).'
        ) from error
    try:
        return PartnershipConfig.model_validate(data.get("partnership", data))
    except ValidationError as error:
        raise ConfigError(_describe(error, str(path))) from error


def _describe(error: ValidationError, where: str) -> str:
    lines = [f"{where}: configuration is not valid:"]
    for item in error.errors(include_url=False):
        field = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  - {field}: {message}")
    return "\n".join(lines)
