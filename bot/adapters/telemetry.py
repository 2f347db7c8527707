"""OpenTelemetry traces and metrics, off unless configured, and then with nothing the bot must not
tell: no card content, no names, no identifiers — kinds, verbs, outcomes, counts, durations, hosts.

Off (the default) nothing of OpenTelemetry is imported: every call below is a check of one
module variable. On, `configure(settings)` at start-up picks the exporter:

- APPLICATIONINSIGHTS_CONNECTION_STRING: the Azure Monitor OpenTelemetry distro
  (`azure-monitor-opentelemetry`), which installs the global providers itself;
- OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP/HTTP exporters (the standard OTEL_* variables apply).

What is recorded:
- a span per turn (`turn`: activity type, verb, outcome, HTTP status) with its duration, and the
  metrics `rr.turns` (count) and `rr.turn.duration`;
- a span per outgoing HTTP call to the Bot Connector, Microsoft Graph or the sign-in metadata
  (`http <target>`: method, host, status — never the path, which names conversations and people);
- a span per scheduler sweep (`scheduler.sweep`, reminders recorded);
- `rr.refusals` by kind, `rr.throttled` (429s) by target, `rr.reminders.sent` (late or not),
  `rr.outbox.depth` and `rr.outbox.oldest_age` (seconds).

Only the edge (bot/teams), the adapters and the composition root call this; the domain and the
use cases never see it (import-linter).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SERVICE_NAME = "rapid-review-bot"


@dataclass
class TurnNote:
    """What the edge learns about a turn while it runs (its outcome, its verb)."""

    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)

    def set(self, key: str, value: str | int | float | bool) -> None:
        self.attributes[key] = value


_note: contextvars.ContextVar[TurnNote | None] = contextvars.ContextVar("rr_turn_note", default=None)


class Telemetry:
    """The instruments, made from the providers given (the SDK's, or the distro's globals)."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer_provider, self.meter_provider = tracer_provider, meter_provider
        self.tracer = tracer_provider.get_tracer("rapid_review")
        meter = meter_provider.get_meter("rapid_review")
        self.turns = meter.create_counter("rr.turns", unit="{turn}", description="turns answered, by outcome")
        self.turn_seconds = meter.create_histogram("rr.turn.duration", unit="s", description="time to answer a turn")
        self.refusals = meter.create_counter("rr.refusals", unit="{refusal}", description="refusals, by kind")
        self.throttled = meter.create_counter("rr.throttled", unit="{response}",
                                              description="429 answers, by target (connector, graph)")
        self.reminders = meter.create_counter("rr.reminders.sent", unit="{reminder}",
                                              description="reminders posted, late or not")
        self.outbox_depth = 0
        self.outbox_age = 0.0
        from opentelemetry.metrics import Observation

        meter.create_observable_gauge("rr.outbox.depth", unit="{message}", description="messages waiting to be sent",
                                      callbacks=[lambda _options: [Observation(self.outbox_depth)]])
        meter.create_observable_gauge("rr.outbox.oldest_age", unit="s",
                                      description="how long the oldest due message has waited",
                                      callbacks=[lambda _options: [Observation(self.outbox_age)]])


_active: Telemetry | None = None


def active() -> Telemetry | None:
    return _active


def install(telemetry: Telemetry | None) -> None:
    """Make `telemetry` the process's (None: off). The composition root does it once; tests
    install one over the SDK's in-memory exporters and remove it after."""
    global _active
    _active = telemetry


def configure(connection_string: str, otlp_endpoint: str, service_name: str = SERVICE_NAME) -> Telemetry | None:
    """The exporter the settings name, or None (off: nothing imported, nothing made)."""
    if connection_string:
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.resources import Resource

        # The distro's own instrumentations stay off: they would record URLs and SQL statements. So
        # does its log export: its handler would send an exception's text, which can quote what
        # someone typed about a child (the JSON lines on stderr stay the log; the platform collects them).
        configure_azure_monitor(connection_string=connection_string, disable_logging=True,
                                logger_name="rapid_review.telemetry.no_log_export", resource=Resource.create(
            {"service.name": service_name}), instrumentation_options={
                name: {"enabled": False} for name in ("azure_sdk", "django", "fastapi", "flask", "httpx", "httpx2",
                                                      "psycopg2", "requests", "urllib", "urllib3")})
        telemetry = Telemetry(trace.get_tracer_provider(), metrics.get_meter_provider())
    elif otlp_endpoint:
        from opentelemetry import metrics, trace
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": service_name})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        meter_provider = MeterProvider(resource=resource,
                                       metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        telemetry = Telemetry(tracer_provider, meter_provider)
    else:
        return None
    install(telemetry)
    return telemetry


def shutdown() -> None:
    """Flush and stop the SDK's providers (at the process's end)."""
    telemetry = _active
    if telemetry is None:
        return
    for provider in (telemetry.tracer_provider, telemetry.meter_provider):
        stop = getattr(provider, "shutdown", None)
        if stop is not None:
            with contextlib.suppress(Exception):
                stop()


# ---- what the bot records ---------------------------------------------------------------------------


@contextlib.contextmanager
def turn(activity_type: str) -> Iterator[TurnNote]:
    """The span of one turn; the edge notes its verb and outcome on the note it yields."""
    note = TurnNote({"rr.activity_type": activity_type[:40]})
    token = _note.set(note)
    telemetry, started = _active, time.monotonic()
    try:
        if telemetry is None:
            yield note
            return
        # Never record_exception: an exception's text can quote what someone typed about a child.
        with telemetry.tracer.start_as_current_span("turn", record_exception=False) as span:
            try:
                yield note
            finally:
                span.set_attributes(note.attributes)
        seconds = time.monotonic() - started
        counted = {k: v for k, v in note.attributes.items() if k in ("rr.activity_type", "rr.outcome", "rr.verb")}
        telemetry.turns.add(1, counted)
        telemetry.turn_seconds.record(seconds, counted)
    finally:
        _note.reset(token)


def note(key: str, value: str | int | float | bool) -> None:
    """Say something about the running turn (its outcome, its verb); nothing outside a turn."""
    current = _note.get()
    if current is not None:
        current.set(key, value)


@contextlib.contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[dict[str, Any]]:
    """A span around some work (a scheduler sweep); the dict it yields adds attributes at its end."""
    telemetry = _active
    extra: dict[str, Any] = {}
    if telemetry is None:
        yield extra
        return
    with telemetry.tracer.start_as_current_span(name, attributes=attributes, record_exception=False) as current:
        try:
            yield extra
        finally:
            current.set_attributes(extra)


def refused(kind: str) -> None:
    if _active is not None:
        _active.refusals.add(1, {"rr.refusal": kind[:60]})


def throttled(target: str) -> None:
    if _active is not None:
        _active.throttled.add(1, {"rr.target": target})


def reminder_sent(late: bool) -> None:
    if _active is not None:
        _active.reminders.add(1, {"rr.late": late})


def outbox_state(depth: int, oldest_age_seconds: float) -> None:
    if _active is not None:
        _active.outbox_depth, _active.outbox_age = depth, oldest_age_seconds


def trace_id() -> str | None:
    """The running span's trace id (32 hex digits), for the log line; None when off or outside a span."""
    if _active is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def trace_configs(target: str) -> list[Any]:
    """aiohttp hooks that make a span of each outgoing request of a session (none when off)."""
    telemetry = _active
    if telemetry is None:
        return []
    import aiohttp
    from opentelemetry.trace import SpanKind, Status, StatusCode

    async def start(_session: Any, context: Any, params: Any) -> None:
        context.rr_span = telemetry.tracer.start_span(
            f"http {target}", kind=SpanKind.CLIENT,
            attributes={"http.request.method": params.method, "server.address": params.url.host or "",
                        "rr.target": target})

    async def end(_session: Any, context: Any, params: Any) -> None:
        status = params.response.status
        context.rr_span.set_attribute("http.response.status_code", status)
        if status == 429:
            throttled(target)
        if status >= 500:
            context.rr_span.set_status(Status(StatusCode.ERROR))
        context.rr_span.end()

    async def failed(_session: Any, context: Any, params: Any) -> None:
        context.rr_span.set_attribute("error.type", type(params.exception).__name__)
        context.rr_span.set_status(Status(StatusCode.ERROR))
        context.rr_span.end()

    config = aiohttp.TraceConfig()
    config.on_request_start.append(start)
    config.on_request_end.append(end)
    config.on_request_exception.append(failed)
    return [config]
