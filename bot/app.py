"""The composition root: the only place that knows every concrete class.

`bootstrap(settings, **overrides)` builds the pieces (tests pass fakes or a fixed
clock); `build_web_app(components)` wraps them in aiohttp. Nothing is built at import
time, and building the app starts nothing: the database is migrated, the members
seeded and the outbox started in aiohttp's start-up hook.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter

from bot.adapters import lazy_holidays, outbound_http, telemetry
from bot.adapters.channel_messages import GraphChannelMessages
from bot.adapters.clock import SystemClock, TrainingClock
from bot.adapters.db import readiness
from bot.adapters.db.case_export import SqlCaseRecords
from bot.adapters.db.case_keys import CaseKeyring
from bot.adapters.db.case_store import ReferralCache, SqlCaseStore
from bot.adapters.db.database import Database, sync_url
from bot.adapters.db.deadline_store import SqlDeadlineStore
from bot.adapters.db.file_link_store import SqlFileLinkStore
from bot.adapters.db.leader import LeaderLock
from bot.adapters.db.meeting_store import SqlMeetingStore
from bot.adapters.db.operations import LINK_SECRET
from bot.adapters.db.outbox_store import SqlOutboxStore
from bot.adapters.db.panel_store import SqlPanelStore
from bot.adapters.db.report_store import SqlReportStore
from bot.adapters.db.retention_store import SqlRetentionStore
from bot.adapters.db.review_store import SqlReviewStore
from bot.adapters.db.roster_store import RosterCache, SqlRosterStore
from bot.adapters.db.scope import Scope
from bot.adapters.db.send_store import SqlSendLedger
from bot.adapters.db.training_store import SqlTrainingStore
from bot.adapters.db.turn_store import SqlTurnStore
from bot.adapters.db.unit_of_work import SqlUnitOfWork
from bot.adapters.links import LinkSigner
from bot.adapters.master_keys import MasterKeyError, MasterKeys, from_environment, from_key_vault
from bot.adapters.meetings import GraphMeetingProvider, OfflineMeetingProvider
from bot.adapters.schema_check import migrate_if_behind
from bot.adapters.service_hosts import ServiceHostPolicy
from bot.adapters.teams_apps import GraphAppInstaller
from bot.domain.meeting import MeetingSettings
from bot.domain.partnership import PartnershipConfig
from bot.domain.pathways import check_template
from bot.domain.timeline import TimelineProfile
from bot.services import deadlines, retention
from bot.services.channels import seed_members_from_config
from bot.services.context import ServiceContext
from bot.services.outbox import OutboxDispatcher
from bot.services.ports import AppInstaller, ChannelMessageReader, Clock, MeetingProvider, Notifier
from bot.services.sends import SendGuard
from bot.services.signal import OutboxSignal
from bot.settings import DEFAULT_FAMILY_LETTER, ConfigError, Settings, TeamsEdge, load_partnership
from bot.teams.edge import MessagesEndpoint, method_not_allowed, on_turn_error
from bot.teams.exports import CaseExports
from bot.teams.file_upload import OneDriveUploader
from bot.teams.files import FilesEndpoint
from bot.teams.handler import RapidReviewBot
from bot.teams.members import BotbuilderMembers
from bot.teams.notifier import BotbuilderWire
from bot.teams.pacer import ConversationPacer
from bot.teams.sdk import bot_framework_authentication
from bot.teams.signing_keys import CHANNEL_METADATA_URL, EMULATOR_METADATA_URL, KeySourceSettings
from bot.teams.storage import SqlConversationState, SqlStorage
from bot.turns.clock_actions import ClockActions
from bot.turns.meeting_actions import MeetingActions
from bot.turns.notifier import CardNotifier, Wire
from bot.turns.panel_actions import PanelActions
from bot.turns.retention_actions import RetentionActions
from bot.turns.training import TrainingActions, TrainingEdge, TrainingNotifier
from scheduler.calendar import EnglandCalendar
from scheduler.profiles import ProfileError, load_profile
from scheduler.runtime import SchedulerRuntime

# The calendar's bank holidays come from the `holidays` library; its countries package loads only
# the United Kingdom until something asks it for another country (bot/adapters/lazy_holidays.py).
lazy_holidays.install()

log = logging.getLogger(__name__)
COMPONENTS = web.AppKey("components", object)
TRAINING = "training"  # the database stamp of training mode (bot_state key `mode`)


@dataclass(frozen=True)
class Stores:
    """The SQL stores, each unbound (one transaction per call); `uow` binds them together."""

    cases: SqlCaseStore
    roster: SqlRosterStore
    outbox: SqlOutboxStore
    turns: SqlTurnStore
    panel: SqlPanelStore
    deadlines: SqlDeadlineStore
    meetings: SqlMeetingStore
    reports: SqlReportStore
    uow: SqlUnitOfWork
    reviews: SqlReviewStore


@dataclass
class Components:
    settings: Settings
    partnership: PartnershipConfig
    db: Database
    stores: Stores
    clock: Clock
    services: ServiceContext
    adapter: CloudAdapter
    bot: RapidReviewBot
    outbox: OutboxDispatcher
    endpoint: MessagesEndpoint | Any  # or the Agents SDK edge's (bot/agents/edge.py), TEAMS_EDGE=agents
    links: LinkSigner
    extras: dict[str, Any] = field(default_factory=dict)
    training: TrainingEdge | None = None  # training mode's identity and banner, for either edge


def _sdk_config(settings: Settings) -> SimpleNamespace:
    """botbuilder's configuration object. In local mode there is no app at all: the
    SDK's anonymous path is the MultiTenant one with an empty id."""
    return SimpleNamespace(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        APP_TYPE="MultiTenant" if settings.local_mode else settings.app_type.value,
        APP_TENANTID=settings.app_tenant_id,
    )


def _signing_keys(settings: Settings) -> KeySourceSettings:
    """Where the keys of incoming tokens are fetched from (configuration only) and how often."""
    return KeySourceSettings(urls={CHANNEL_METADATA_URL: settings.openid_metadata_url,
                                   EMULATOR_METADATA_URL: settings.emulator_openid_metadata_url},
                             timeout=settings.openid_fetch_timeout_seconds,
                             refresh_floor=settings.openid_refresh_floor_seconds)


def _meeting_provider(settings: Settings) -> MeetingProvider:
    """Microsoft Graph when configured; otherwise the offline provider (first slot of the
    window, an .ics invitation for the chair)."""
    if not settings.graph_configured:
        return OfflineMeetingProvider()
    return GraphMeetingProvider(tenant_id=settings.graph_tenant_id, client_id=settings.graph_client_id,
                                client_credential=_graph_credential(settings), organiser=settings.graph_organiser,
                                base_url=settings.graph_base_url, authority_host=settings.graph_authority_host)


def _app_installer(settings: Settings, meetings: MeetingProvider) -> GraphAppInstaller | None:
    """Installing the app for people Teams cannot reach: only when switched on, through Graph."""
    if not settings.teams_app_install_for_unreachable:
        return None
    if not isinstance(meetings, GraphMeetingProvider):
        raise ConfigError("TEAMS_APP_INSTALL_FOR_UNREACHABLE is on, which installs the app through Microsoft Graph, "
                          "but Graph is not configured (GRAPH_CLIENT_ID …). Configure Graph, or switch it off.")
    return GraphAppInstaller(meetings, settings.teams_app_id, settings.graph_base_url)


def _graph_credential(settings: Settings) -> str | dict[str, str]:
    if settings.graph_certificate:  # the PEM itself (a Key Vault reference in Azure: infra/main.bicep)
        return {"private_key": settings.graph_certificate, "thumbprint": settings.graph_certificate_thumbprint}
    if settings.graph_certificate_path:
        return {"private_key": Path(settings.graph_certificate_path).read_text(encoding="utf-8"),
                "thumbprint": settings.graph_certificate_thumbprint}
    return settings.graph_client_secret


def _channel_messages(settings: Settings) -> ChannelMessageReader | None:
    """The panel channel read back through Graph, to settle a send a crash left in doubt;
    None without Graph (a send in doubt is then re-sent once, saying so)."""
    if not settings.graph_configured:
        return None
    return GraphChannelMessages(tenant_id=settings.graph_tenant_id, client_id=settings.graph_client_id,
                                client_credential=_graph_credential(settings), base_url=settings.graph_base_url,
                                authority_host=settings.graph_authority_host)


def _meeting_settings(settings: Settings) -> MeetingSettings:
    start, end = settings.working_hours.split("-")
    return MeetingSettings(length=timedelta(minutes=settings.meeting_minutes), day_start=time.fromisoformat(start),
                           day_end=time.fromisoformat(end), default_time=time.fromisoformat(settings.meeting_default_time),
                           notes_hours_before=settings.chair_notes_hours_before)


def profile_for(partnership: PartnershipConfig, partnership_file: Path) -> TimelineProfile:
    """The partnership's timeline profile; a bad one stops start-up, naming file, step and problem.
    A relative `profile_overrides` path is read next to the partnership file."""
    overrides = Path(partnership.profile_overrides) if partnership.profile_overrides else None
    if overrides is not None and not overrides.is_absolute():
        overrides = partnership_file.parent / overrides
    try:
        return load_profile(partnership.timeline_profile, overrides)
    except ProfileError as error:
        raise ConfigError(f"timeline profile: {error}") from error


def family_letter_template(partnership: PartnershipConfig, partnership_file: Path) -> str:
    """The partnership's family letter template (docs/pathways.md); a relative path is read next
    to the partnership file, none means the shipped config/family_letter.txt. Start-up refuses
    a missing file or an unknown placeholder, naming both."""
    path = Path(partnership.family_letter_template) if partnership.family_letter_template else DEFAULT_FAMILY_LETTER
    if not path.is_absolute():
        path = partnership_file.parent / path
    try:
        template = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"family_letter_template: {path} cannot be read ({type(error).__name__}).") from error
    try:
        check_template("\n".join(line for line in template.splitlines() if not line.lstrip().startswith("#")
                                 or line.lstrip().startswith("## ")))
    except ValueError as error:
        raise ConfigError(f"family_letter_template {path}: {error}") from error
    return template


def bootstrap(
    settings: Settings,
    *,
    partnership: PartnershipConfig | None = None,
    clock: Clock | None = None,
    db: Database | None = None,
    adapter: CloudAdapter | None = None,
    profile: TimelineProfile | None = None,
    meetings: MeetingProvider | None = None,
) -> Components:
    partnership = partnership or load_partnership(Path(settings.partnership_file))
    # OpenTelemetry when configured (bot/adapters/telemetry.py); off, nothing of it is even imported.
    if telemetry.active() is None:
        telemetry.configure(settings.applicationinsights_connection_string, settings.otel_exporter_otlp_endpoint,
                            settings.otel_service_name)
    clock = clock or SystemClock()
    db = db or Database(settings.database_url, busy_seconds=settings.database_busy_seconds, checkpoint_off_loop=True)
    db.keyring = keyring_for(settings)
    stores = sql_stores(db)
    training_state: SqlTrainingStore | None = None
    if settings.training_mode:  # a rehearsal: real time plus the stored offset, cards to inboxes
        training_state = SqlTrainingStore(Scope(db))
        clock = TrainingClock(clock, training_state.clock_offset, training_state.save_clock_offset)
    # Connector clients reused across turns: see bot/teams/sdk.py.
    # Only Bot Framework / Teams service hosts are sent to (loopback too, in local mode).
    hosts = ServiceHostPolicy(local_mode=settings.local_mode, extra=settings.extra_service_hosts)
    adapter = adapter or CloudAdapter(bot_framework_authentication(_sdk_config(settings), hosts=hosts,
                                                                   keys=_signing_keys(settings)))
    adapter.on_turn_error = on_turn_error
    base = settings.public_base_url or f"http://localhost:{settings.port}"
    links = LinkSigner(lambda: stores.turns.shared_secret(LINK_SECRET), base)
    tz = ZoneInfo(partnership.time_zone)
    sends = SendGuard(SqlSendLedger(Scope(db)), _channel_messages(settings), stores.cases, clock)
    extras: dict[str, Any] = {}
    wire = (agents_wire(settings, hosts, extras) if settings.teams_edge is TeamsEdge.AGENTS
            else BotbuilderWire(adapter, settings.app_id))
    notifier_parts: dict[str, Any] = dict(
        uow=stores.uow, hosts=hosts, sends=sends, marking=partnership.protective_marking,
        retention=partnership.retention, pacer=ConversationPacer(each_reply_chain=settings.pace_each_reply_chain))
    notifier = (CardNotifier(wire, settings.app_id, stores.roster, stores.deadlines, links, tz, clock, **notifier_parts)
                if training_state is None else
                TrainingNotifier(wire, settings.app_id, stores.roster, stores.deadlines, links, tz, clock,
                                 state=training_state, **notifier_parts))
    meetings = meetings or _meeting_provider(settings)
    services = build_services(stores, partnership, clock, notifier,
                              profile=profile or profile_for(partnership, Path(settings.partnership_file)),
                              meetings=meetings, meeting_settings=_meeting_settings(settings),
                              installer=_app_installer(settings, meetings),
                              card_after_answer_seconds=settings.card_update_after_answer_ms / 1000)
    retention_store = SqlRetentionStore(Scope(db), stores.cases, partnership.retention, tz)
    outbox = OutboxDispatcher(services, lease_seconds=settings.outbox_lease_seconds,
                              kinds=retention.RetentionOutbox(services, retention_store).kinds())
    conversation_state = SqlConversationState(SqlStorage(stores.turns, clock))
    training_clock = clock if isinstance(clock, TrainingClock) else None
    training = TrainingActions(services, state=training_state, clock=training_clock, outbox=outbox)
    exports = CaseExports(services, SqlFileLinkStore(Scope(db)), SqlCaseRecords(Scope(db)), base,
                          OneDriveUploader(local_mode=settings.local_mode),
                          letter_template=family_letter_template(partnership, Path(settings.partnership_file)))
    bot = RapidReviewBot(services, conversation_state, settings.app_id, PanelActions(services, notifier, BotbuilderMembers()),
                         ClockActions(services), MeetingActions(services), exports,
                         RetentionActions(services, retention_store), training)
    training_edge = (TrainingEdge(services, training_state, training_clock)
                     if training_state is not None and training_clock is not None else None)
    endpoint = MessagesEndpoint(
        adapter,
        bot,
        stores.turns,
        stores.cases,
        clock,
        allowed_tenants=frozenset(t.lower() for t in partnership.tenant_ids),
        local_mode=settings.local_mode,
        hosts=hosts,
        training=training_edge,
        turn_budget=settings.turn_budget_seconds,
    )
    components = Components(settings, partnership, db, stores, clock, services, adapter, bot, outbox, endpoint, links,
                            extras, training_edge)
    if settings.teams_edge is TeamsEdge.AGENTS:
        components.endpoint = agents_endpoint(components, hosts)
    return components


def agents_endpoint(components: Components, hosts: ServiceHostPolicy) -> Any:
    """`/api/messages` on the Microsoft 365 Agents SDK (bot/agents/). Imported here only when
    chosen: the default edge's start-up does not load the second SDK."""
    from bot.adapters.signing_keys import install
    from bot.agents.application import SharedActions, build_application
    from bot.agents.authentication import ChannelTokens
    from bot.agents.connector import agents_adapter
    from bot.agents.edge import AgentsMessagesEndpoint
    from bot.agents.storage import AgentsSqlStorage

    settings = components.settings
    factory = agents_connectors(settings, hosts, components.extras)
    bot = components.bot  # the actions holding stores, built once for either edge
    shared = SharedActions(clock=bot.clock_actions, meeting=bot.meeting_actions, files=bot.exports,
                           records=bot.exports, consent=bot.exports, retention=bot.retention, training=bot.training)
    application = build_application(components.services, shared,
                                    AgentsSqlStorage(components.stores.turns, components.clock))
    return AgentsMessagesEndpoint(
        agents_adapter(factory),
        application.on_turn,
        ChannelTokens(settings.app_id, install(_signing_keys(settings))),
        components.services,
        components.stores.turns,
        allowed_tenants=frozenset(t.lower() for t in components.partnership.tenant_ids),
        local_mode=settings.local_mode,
        hosts=hosts,
        training=components.training,
        turn_budget=settings.turn_budget_seconds,
    )


def agents_connectors(settings: Settings, hosts: ServiceHostPolicy, extras: dict[str, Any]) -> Any:
    """The Agents SDK edge's Bot Connector clients (bot/agents/connector.py), one set per process,
    shared by its turns and its proactive sends; kept in `extras` so that `stop` closes them."""
    from bot.agents.connector import KeptConnectorFactory, msal_token_source, no_token

    if "agents_connectors" not in extras:
        token = (no_token if settings.local_mode else
                 msal_token_source(settings.app_id, settings.app_password, settings.app_tenant_id))
        extras["agents_connectors"] = KeptConnectorFactory(token, hosts)
    return extras["agents_connectors"]


def agents_wire(settings: Settings, hosts: ServiceHostPolicy, extras: dict[str, Any]) -> Wire:
    """Proactive sends through the Agents SDK's connector (bot/agents/notifier.py)."""
    from bot.agents.notifier import AgentsWire

    return AgentsWire(agents_connectors(settings, hosts, extras))


def keyring_for(settings: Settings) -> CaseKeyring:
    """The master key from the settings (bot/adapters/master_keys.py). Outside local mode the
    bot does not start without one; in local mode a development key kept in the database
    stands in (and every start says so: `announce_keyring`)."""
    master: MasterKeys | None
    try:
        if settings.key_vault_url:
            master = from_key_vault(settings.key_vault_url, settings.key_vault_secret)
        else:
            master = from_environment(settings.master_key, settings.master_key_id, settings.master_key_previous,
                                      settings.master_key_previous_id)
    except MasterKeyError as error:
        raise ConfigError(str(error)) from error
    if master is None and not settings.local_mode:
        raise ConfigError(
            "MASTER_KEY is empty and KEY_VAULT_URL is not set: outside local mode the child's and family's details "
            "are encrypted under a master key kept outside the database. Set KEY_VAULT_URL (Azure Key Vault, "
            "secret KEY_VAULT_SECRET) or MASTER_KEY (32 random bytes in base64); see docs/data-protection.md.")
    return CaseKeyring(master, enabled=settings.encrypt_at_rest)


def announce_keyring(keyring: CaseKeyring) -> None:
    if not keyring.enabled:
        log.warning("ENCRYPTION AT REST IS OFF (ENCRYPT_AT_REST=false): identifiers are stored in plain text. "
                    "For measurements only; never with real case data.")
    elif keyring.development:
        log.warning("DEVELOPMENT MASTER KEY: no MASTER_KEY or KEY_VAULT_URL, so case data is encrypted under a key "
                    "kept in the database itself. This is NOT protection at rest; do not use with real case data.")
    else:
        log.info("identifiers encrypted at rest", extra={"master_key": keyring.describe()})


def build_services(stores: Stores, partnership: PartnershipConfig, clock: Clock, notifier: Notifier, *,
                   profile: TimelineProfile, meetings: MeetingProvider,
                   meeting_settings: MeetingSettings | None = None,
                   installer: AppInstaller | None = None, card_after_answer_seconds: float = 0.0) -> ServiceContext:
    """The use cases' context, every dependency given (tests build one per simulated process)."""
    return ServiceContext(
        cases=stores.cases, roster=stores.roster, outbox=stores.outbox, panel=stores.panel,
        deadlines=stores.deadlines, meeting_store=stores.meetings, reports=stores.reports, reviews=stores.reviews,
        uow=stores.uow,
        clock=clock,
        partnership=partnership, calendar=EnglandCalendar(partnership.closure_days), profile=profile,
        notifier=notifier, meetings=meetings, meeting_settings=meeting_settings or MeetingSettings(),
        signal=OutboxSignal(card_after_answer_seconds), installer=installer,
    )


def sql_stores(db: Database, rng: random.Random | None = None) -> Stores:
    """Every SQL store on one database (`rng`: the pseudonym choice, fixed in tests)."""
    scope = Scope(db)
    cases = SqlCaseStore(scope, ReferralCache(), rng)
    roster = SqlRosterStore(scope, RosterCache())
    return Stores(cases=cases, roster=roster, outbox=SqlOutboxStore(scope), turns=SqlTurnStore(scope),
                  panel=SqlPanelStore(scope), deadlines=SqlDeadlineStore(scope), meetings=SqlMeetingStore(scope),
                  reports=SqlReportStore(scope),
                  uow=SqlUnitOfWork(scope, cases, roster), reviews=SqlReviewStore(scope))


async def start(components: Components, *, run_outbox: bool = True) -> None:
    """Everything that touches the outside world at start-up. With `run_outbox` (the
    real process) the outbox dispatcher and the scheduler run; tests drive both by hand."""
    # The outgoing clients' TLS context (OpenSSL reading the CA bundle, ~35 ms with the GIL let go)
    # is built in a worker thread beside the rest of start-up, not inside the first turn's reply.
    components.extras["tls_context"] = asyncio.get_running_loop().run_in_executor(None, _warm_tls_context)
    try:
        # Alembic only when the schema is behind (start-up time: README, Performance)
        await migrate_if_behind(components.db)
        announce_keyring(components.db.keyring)
        await check_database_mode(components)
        await seed_members_from_config(components.services)
    except BaseException:  # the bot will not start (e.g. a training stamp): its connections closed
        await components.db.dispose()
        raise
    if run_outbox:
        components.outbox.start()
        components.outbox.kick()  # deliver anything left from before a restart
        runtime = SchedulerRuntime(
            sync_url(components.db.url),
            LeaderLock(components.db),
            lambda: _sweep(components),
            time_zone=components.partnership.time_zone,
            daily=lambda: retention.daily(components.services, components.bot.retention.store),
            first_attempt_after=FIRST_LEAD_AFTER_SECONDS,
        )
        runtime.start(after=components.extras.setdefault(FIRST_ANSWER, asyncio.Event()))
        components.extras["scheduler"] = runtime
    if telemetry.active() is not None:  # the outbox gauges, read every OUTBOX_GAUGE_SECONDS
        components.extras["outbox_gauge"] = asyncio.create_task(_watch_outbox(components), name="outbox-gauge")


def _warm_tls_context() -> bool:
    """Build the TLS context now; a CA bundle that cannot be read is said at start-up (every
    outgoing call will fail on it, as it would have at the first)."""
    try:
        outbound_http.ssl_context()
    except OSError as error:  # ssl.SSLError included
        log.error("the CA bundle could not be loaded: outgoing calls will fail", extra={"error": type(error).__name__})
        return False
    return True


OUTBOX_GAUGE_SECONDS = 30.0
# The scheduler tries for the lead once the first turn is answered, or this long after start-up
# at the latest (start-up time: README, Performance); a restart's missed reminders are then swept
# as before. FIRST_ANSWER: the event in Components.extras that /api/messages sets.
FIRST_LEAD_AFTER_SECONDS = 2.0
FIRST_ANSWER = "first_answer"


async def _watch_outbox(components: Components) -> None:
    """Keep the outbox depth and the oldest due message's age for telemetry's gauges."""
    while True:
        try:
            depth = await components.stores.outbox.count("pending")
            age = await readiness.oldest_due_age(components.db, components.clock.now())
            telemetry.outbox_state(depth, age.total_seconds() if age is not None else 0.0)
        except Exception as error:  # noqa: BLE001 - a gauge must never stop the bot; tried again next time
            log.warning("outbox gauge not read", extra={"error": type(error).__name__})
        await asyncio.sleep(OUTBOX_GAUGE_SECONDS)


async def _sweep(components: Components) -> int:
    with telemetry.span("scheduler.sweep") as noted:
        if isinstance(components.clock, TrainingClock):  # another process may have moved the training clock
            await components.clock.refresh()
        recorded = await deadlines.sweep(components.services)
        noted["rr.reminders_recorded"] = recorded
        return recorded


async def check_database_mode(components: Components) -> None:
    """A training bot runs only on a training database (stamped at its first start; a database
    that already holds cases without the stamp is refused), and a production bot never on one."""
    turns, now = components.stores.turns, components.clock.now()
    mode = await turns.database_mode()
    if components.settings.training_mode:
        if mode != TRAINING:
            if await turns.holds_cases():
                raise ConfigError(
                    "TRAINING_MODE is on but the database at DATABASE_URL already holds cases and is not a training "
                    "database: a rehearsal never runs on real cases. Point DATABASE_URL at a training database "
                    "(`make demo` uses sqlite:///./data/training.db), or unset TRAINING_MODE.")
            await turns.stamp_database_mode(TRAINING, now)
        assert isinstance(components.clock, TrainingClock)
        await components.clock.refresh()
    elif mode == TRAINING:
        raise ConfigError(
            "The database at DATABASE_URL is a training database (stamped by TRAINING_MODE), and this bot is not in "
            "training mode: a real bot never runs on rehearsal data. Point DATABASE_URL at the real database, or set "
            "TRAINING_MODE=true to rehearse.")


async def stop(components: Components) -> None:
    gauge = components.extras.pop("outbox_gauge", None)
    if gauge is not None:
        gauge.cancel()
    runtime = components.extras.pop("scheduler", None)
    if runtime is not None:
        await runtime.stop()
    await components.outbox.stop()
    connectors = components.extras.pop("agents_connectors", None)
    if connectors is not None:  # the Agents SDK edge's kept connector clients (bot/agents/connector.py)
        await connectors.close_all()
    close = getattr(components.adapter.bot_framework_authentication, "close", None)
    if close is not None:  # the kept connector clients' HTTP session (bot/teams/sdk.py)
        await close()
    await components.db.dispose()


def build_web_app(components: Components, *, run_outbox: bool = True) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[COMPONENTS] = components

    async def messages(request: web.Request) -> web.StreamResponse:
        # The edge is looked up per request, not bound here: tests switch a running bot's edge
        # between two turns (tests/support/harness.py, `serve_on`), as a redeployment would.
        response = await components.endpoint(request)
        first_answer = components.extras.get(FIRST_ANSWER)
        if first_answer is not None:  # the scheduler waits for it (`start`)
            first_answer.set()
        return response

    app.router.add_post("/api/messages", messages)
    app.router.add_route("*", "/api/messages", method_not_allowed)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/files/{token}", FilesEndpoint(components.services, components.links))
    app.router.add_get("/files/once/{token}", components.bot.exports.download)

    async def on_startup(_app: web.Application) -> None:
        await start(components, run_outbox=run_outbox)

    async def on_cleanup(_app: web.Application) -> None:
        await stop(components)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


READY_CHECK_SECONDS = 0.8  # each check, run side by side: /readyz answers within a second


async def _bounded(check: Awaitable[Any]) -> tuple[Any, str | None]:
    """The check's value, or why there is none ("timeout", or the error's type)."""
    try:
        return await asyncio.wait_for(check, READY_CHECK_SECONDS), None
    except TimeoutError:
        return None, "timeout"
    except Exception as error:  # noqa: BLE001 - any failure is "not ready", with its type
        return None, f"error: {type(error).__name__}"


async def _readyz(request: web.Request) -> web.Response:
    """Ready to take turns: the database answers and is at the schema head, a scheduler
    leads somewhere, and no due message has waited too long. Never authenticated; never
    slower than about a second, whatever the database does."""
    components: Components = request.app[COMPONENTS]  # type: ignore[assignment]
    db, now = components.db, components.clock.now()
    runtime = components.extras.get("scheduler")
    here = bool(runtime is not None and runtime.is_leader)
    (current, schema_error), (elsewhere, leader_error), (age, outbox_error) = await asyncio.gather(
        _bounded(readiness.schema_is_current(db)),
        _bounded(readiness.leader_elsewhere(db) if not db.is_sqlite else _value(here)),
        _bounded(readiness.oldest_due_age(db, now)))
    stuck_after = timedelta(seconds=components.settings.outbox_stuck_after_seconds)
    checks = {
        "database": schema_error or ("ok" if current else "behind the schema head: run the migrations"),
        "scheduler": leader_error or ("ok" if here or elsewhere else "no scheduler leader"),
        "outbox": outbox_error or ("ok" if age is None or age <= stuck_after else
                                   f"a message has waited {int(age.total_seconds())} s"),
    }
    ready = all(value == "ok" for value in checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


async def _value(value: Any) -> Any:
    return value


async def _healthz(request: web.Request) -> web.Response:
    components: Components = request.app[COMPONENTS]  # type: ignore[assignment]
    mode = "training" if components.settings.training_mode else "local" if components.settings.local_mode else "production"
    return web.json_response({"status": "ok", "mode": mode})
