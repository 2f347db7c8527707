"""Telemetry (bot/adapters/telemetry.py) through the real HTTP path, read back with the
OpenTelemetry SDK's in-memory exporters: a turn makes a span with its type, verb, outcome and
duration and none of the card's text or anyone's name; outgoing connector calls make spans
(host, never the path) and a 429 is counted; refusals are counted by kind; a scheduler sweep
makes a span; log lines carry the trace id. Off by default: no provider, nothing imported."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.__main__ import JsonFormatter
from bot.adapters import telemetry
from bot.app import _sweep
from bot.settings import REPO_ROOT
from tests.integration.test_panel_http import BASIS, LA_WHY, VOTE, ballot, refer, vote
from tests.support import activities as A
from tests.support.harness import CANARY_ADDRESS, CANARY_CHILD, BotHarness


class Recorded:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.telemetry = telemetry.Telemetry(tracer_provider, MeterProvider(metric_readers=[self.metrics]))
        self._collected: dict[str, list[tuple[dict[str, Any], float]]] | None = None

    def named(self, name: str) -> list[Any]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], float]]:
        """The metric's data points as last collected (collected once per test: a reader may
        report deltas, so a second collection would miss what the first one took)."""
        if self._collected is None:
            data = self.metrics.get_metrics_data()
            self._collected = {}
            for resource in data.resource_metrics if data else []:
                for scope in resource.scope_metrics:
                    for item in scope.metrics:
                        self._collected.setdefault(item.name, []).extend(
                            (dict(point.attributes), getattr(point, "value", getattr(point, "count", 0)))
                            for point in item.data.data_points)
        return self._collected.get(metric, [])


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    made = Recorded()
    telemetry.install(made.telemetry)
    try:
        yield made
    finally:
        telemetry.install(None)


def _all_text(span: Any) -> str:
    return json.dumps({"name": span.name, "attributes": dict(span.attributes or {}),
                       "events": [dict(e.attributes or {}) for e in span.events]}, default=str)


async def test_a_vote_through_http_makes_a_turn_span_with_its_verb_and_outcome_and_no_card_text(
        tmp_path: Path, recorded: Recorded) -> None:
    async with BotHarness(tmp_path) as h:
        await refer(h)
        recorded.spans.clear()
        body = await vote(h, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
        assert body["statusCode"] == 200
    turns = recorded.named("turn")
    voted = [s for s in turns if s.attributes.get("rr.verb") == VOTE]
    assert len(voted) == 1, [dict(s.attributes) for s in turns]
    attributes = dict(voted[0].attributes)
    assert attributes == {"rr.activity_type": "invoke", "rr.verb": VOTE, "rr.outcome": "ok",
                          "http.response.status_code": 200}
    assert voted[0].end_time > voted[0].start_time  # its duration
    for span in recorded.spans.get_finished_spans():
        text = _all_text(span)
        for secret in (LA_WHY, BASIS, CANARY_CHILD, CANARY_ADDRESS, A.LAURA.name, A.LAURA.aad, A.RILEY.name):
            assert secret not in text, (secret, text)
    counted = recorded.points("rr.turns")
    assert ({"rr.activity_type": "invoke", "rr.outcome": "ok", "rr.verb": VOTE}, 1) in counted
    assert any(attrs.get("rr.verb") == VOTE for attrs, _ in recorded.points("rr.turn.duration"))


async def test_connector_calls_make_spans_with_the_host_only_and_a_429_counts(
        tmp_path: Path, recorded: Recorded) -> None:
    async with BotHarness(tmp_path) as h:
        h.connector.fail_next(1, status=429, retry_after=1)
        reply = await h.say(A.RILEY, "hello")  # the reply is throttled once, then sent
        assert reply
    calls = recorded.named("http connector")
    assert calls, [s.name for s in recorded.spans.get_finished_spans()]
    statuses = sorted(s.attributes["http.response.status_code"] for s in calls)
    assert 429 in statuses and any(200 <= code < 300 for code in statuses)
    for span in calls:
        assert set(span.attributes) <= {"http.request.method", "server.address", "rr.target",
                                        "http.response.status_code", "error.type"}
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["rr.target"] == "connector"
    assert ({"rr.target": "connector"}, 1) in recorded.points("rr.throttled")


async def test_refusals_are_counted_by_kind(tmp_path: Path, recorded: Recorded) -> None:
    async with BotHarness(tmp_path) as h:
        await refer(h)
        body = await h.press(A.PAT, "panel.close", {"verb": "panel.close", "action": "panel.close",
                                                    "ref": "RR-2026-0001", "v": 1})
        assert body["statusCode"] == 400
        status, _ = await h.post(A.message(h.url, A.RILEY, "hello", tenant="another-tenant"))
        assert status == 403
    refusals = {attrs["rr.refusal"]: value for attrs, value in recorded.points("rr.refusals")}
    assert refusals.get("unknown_verb") == 1 and refusals.get("foreign_tenant") == 1
    outcomes = [dict(s.attributes).get("rr.outcome") for s in recorded.named("turn")]
    assert outcomes.count("refused") >= 2


async def test_a_scheduler_sweep_makes_a_span_and_log_lines_carry_the_trace_id(
        tmp_path: Path, recorded: Recorded) -> None:
    async with BotHarness(tmp_path) as h:
        await _sweep(h.c)
    sweeps = recorded.named("scheduler.sweep")
    assert len(sweeps) == 1 and sweeps[0].attributes["rr.reminders_recorded"] == 0

    with telemetry.span("anything"):
        line = JsonFormatter().format(logging.LogRecord("bot", logging.INFO, __file__, 1, "inside", (), None))
    span = recorded.named("anything")[0]
    assert json.loads(line)["trace_id"] == f"{span.context.trace_id:032x}"
    outside = JsonFormatter().format(logging.LogRecord("bot", logging.INFO, __file__, 1, "outside", (), None))
    assert "trace_id" not in json.loads(outside)


def test_telemetry_is_off_by_default_no_provider_and_nothing_imported(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import json, os, sys
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
            os.environ.pop(name, None)
        os.environ["DATABASE_URL"] = "sqlite:///{tmp_path / 'rr.db'}"
        from bot.settings import load_settings
        from bot.app import bootstrap, build_web_app
        from bot.adapters import telemetry
        components = bootstrap(load_settings(env_file=None))
        build_web_app(components)
        loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor")))
        print(json.dumps({{"active": telemetry.active() is not None, "loaded": loaded}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"active": False, "loaded": []}


def test_an_otlp_endpoint_switches_it_on_with_the_sdk_providers(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import json
        from bot.adapters import telemetry
        made = telemetry.configure("", "http://127.0.0.1:9/", "rr-test")
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.metrics import MeterProvider
        print(json.dumps({"active": telemetry.active() is made,
                          "sdk": isinstance(made.tracer_provider, TracerProvider)
                                 and isinstance(made.meter_provider, MeterProvider),
                          "service": made.tracer_provider.resource.attributes["service.name"]}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"active": True, "sdk": True, "service": "rr-test"}


def test_an_application_insights_connection_string_switches_on_the_distro_without_its_log_export(
        tmp_path: Path) -> None:
    """The Azure Monitor distro (its ingestion endpoint here is a closed port on 127.0.0.1): the
    providers are the distro's, and no handler is added to the root logger — its log export would
    send exception text."""
    code = textwrap.dedent("""
        import json, logging
        from bot.adapters import telemetry
        made = telemetry.configure("InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                                   "IngestionEndpoint=http://127.0.0.1:9/", "", "rr-test")
        with telemetry.span("probe"):
            pass
        print(json.dumps({"active": telemetry.active() is made,
                          "root_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
                          "tracer_provider": type(made.tracer_provider).__module__.split(".")[0]}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"active": True, "root_handlers": [],
                                                                 "tracer_provider": "opentelemetry"}
