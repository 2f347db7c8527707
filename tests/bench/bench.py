"""Performance benchmark of the Rapid Review bot (README, Performance). A benchmark, not a test: `make bench`.

What it does, in one run on one machine:

1. starts the fake Bot Connector (`python -m tests.support.fake_connector --port 0`);
2. seeds a fresh SQLite database with a realistic load (10,000 cases across every state,
   with their votes, decisions, anchors, deadlines, reminders already sent, events, outbox
   history, meetings and agency requests), through `Database.migrate()`, the project's own
   member seeding and domain functions (`compute_deadlines`, the reminder slots), and bulk
   inserts into the tables of bot/adapters/db/schema.py;
3. starts the real bot (`python -m bot`, local mode) and a minimal botbuilder echo bot (stock
   CloudAdapter, anonymous, own process) that replies through the same connector;
4. drives real Teams activity JSON over HTTP at concurrency 1 and 8, alternating rounds
   between the echo bot and the bot: the referral dialog stepped by Action.Submit messages,
   `panel.vote` Universal Actions invokes, and the `status` command;
   then votes and `status` side by side, timing the longest hold of the bot's event loop by
   each (bot/adapters/loop_probe.py, switched on by LOOP_PROBE_FILE and SIGUSR1);
5. restarts the bot with 1,000 reminders fallen due at once (as after downtime) and times their
   delivery to the owners' personal chats (digests) while the connector enforces every Teams
   limit, counts each request over one as a violation, and answers some sends with 429 + Retry-After;
6. holds the database's write lock from another connection while turns arrive, and times
   their "busy" answers (`--only locked` runs just this, with no seeding);
7. prints the figures and a PASS/FAIL line per budget.

`--postgres URL` runs the vote and dialog workloads on a fresh PostgreSQL database too, against one
bot process and then two on the same database; `--scale N` seeds a second database of N cases
and runs the start-ups, workloads, loop measurement and budgets there, printing how each grows.
`--sdk-stock` runs the bot with botbuilder's stock per-turn clients (tests/bench/stock_sdk_bot.py,
the bot started with the SDK's own clients patched back in), to show the effect of bot/teams/sdk.py.
Every run also runs the dialog and vote workloads, in the same rounds, against the bot on the
Microsoft 365 Agents SDK edge (`python -m bot` with TEAMS_EDGE=agents, on a copy of the database)
and prints it beside the botbuilder edge and the echo bot (`--no-agents-edge` skips it).
Every run (and `--quick`) also runs the dialog and vote workloads, in the same rounds, against a second bot on
a copy of the database with identifiers stored in plain text (ENCRYPT_AT_REST=false, local mode only), and
prints both side by side: what encryption at rest costs (`--no-encryption-compare` skips it; the old
`--compare-encryption` flag is still accepted). `--quick` shortens everything for a smoke run
(`make bench BENCH=--quick`).
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `tests.support` importable
    sys.path.insert(0, str(ROOT))

LONDON = ZoneInfo("Europe/London")
PROJECT_PACKAGES = ("bot", "dialogs", "cards", "scheduler")
STOCK_COMPARED = ("dialog", "vote")  # workloads also run against the bot with the SDK's stock clients
AGENTS_COMPARED = ("dialog", "vote")  # also against the bot on the Agents SDK edge
ENCRYPTION_COMPARED = ("dialog", "vote")  # and against the bot without encryption (unless --no-encryption-compare)
MIB = 1024 * 1024
# The full run also measures the workloads on 100,000 cases (a hosted service for many partnerships
# over years) and on PostgreSQL, the server CI has (BENCH_POSTGRES names another; skipped with a
# line saying so when none answers), each in fewer rounds than the main run so that all of
# `make bench` stays within 20 minutes on 2 cores.
SCALE_CASES = 100_000
DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/test"
LARGER_PHASE_ROUNDS = 2
TEAMS_PER_SECOND, TEAMS_PER_2_SECONDS, TEAMS_PER_30_SECONDS = 7, 8, 60

# ---- budgets (README, Performance) -----------------------------------------------------------

BUDGET_THROUGHPUT_X = 2.0  # vote invoke and dialog step: turns/s at least this many times the echo bot's, c=1 and 8
BUDGET_P95_X = 0.75  # and their p95 at c=8 at most this fraction of the echo bot's
BUDGET_LOOP_HOLD_MS = 5.0  # the longest the event loop is held by a `status` call, in the loop's CPU time
BUDGET_STARTUP_S = 1.0  # to the first answered turn, with 10,000 cases
BUDGET_STARTUP_LARGE_S = 2.0  # ... and with more than that (the scale run, --scale)
BUDGET_RSS_MIB = 120.0
BUDGET_LOCKED_P95_S = 4.5  # a turn while the database is locked is answered "busy" within this (Teams: ~5 s)
LOCKED_ROUNDS, LOCKED_TURNS = 3, 9  # rounds of the write lock held, turns sent at once in each


# =============================================================================================
# The echo bot: the same SDK, stock CloudAdapter, anonymous; nothing of ours.
# =============================================================================================


def echo_bot_main(port: int) -> None:
    from aiohttp import web
    from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import AdaptiveCardInvokeResponse

    class EchoBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            said = turn_context.activity.text or json.dumps(turn_context.activity.value)[:100]
            await turn_context.send_activity(MessageFactory.text(f"echo: {said}"))

        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            # ActivityHandler's own adaptiveCard/action path serialises the body twice under
            # CloudAdapter.process (a 500 in 4.17.1), so answer with the model directly.
            value = turn_context.activity.value or {}
            data = (value.get("action") or {}).get("data") or {}
            card = {"type": "AdaptiveCard", "version": "1.4",
                    "body": [{"type": "TextBlock", "text": f"echo: {data.get('verb', '')} {data.get('ref', '')}"}]}
            return InvokeResponse(status=200, body=AdaptiveCardInvokeResponse(
                status_code=200, type="application/vnd.microsoft.card.adaptive", value=card))

    auth = ConfigurationBotFrameworkAuthentication(
        SimpleNamespace(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID=""))
    adapter = CloudAdapter(auth)
    bot = EchoBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, bot)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=lambda *_: None)


# =============================================================================================
# Processes
# =============================================================================================


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) in bytes, from /proc (psutil is not a dependency)."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):  # the process has gone: nothing to report
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float
    profiled: bool = False  # py-spy writes its samples on SIGINT, sent to the whole process group

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            if self.profiled:
                os.killpg(self.popen.pid, signal.SIGINT)
            else:
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, args: list[str], workdir: Path, env: dict[str, str], *, cwd: Path,
          stdout: int | None = None) -> Proc:
    log = workdir / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=stdout if stdout is not None else handle,
                             stderr=handle, start_new_session=True)
    return Proc(name, popen, log, time.perf_counter())


CONNECTOR_RECORDS = 20_000  # the connector's memory stays bounded over a run; its counters stay exact


def start_connector(workdir: Path) -> tuple[Proc, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = spawn("connector", [sys.executable, "-m", "tests.support.fake_connector", "--port", "0",
                               "--max-records", str(CONNECTOR_RECORDS)], workdir, env,
                 cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.popen.stdout is not None
    line = proc.popen.stdout.readline().decode().strip()
    if not line.startswith("READY "):
        raise RuntimeError(f"fake connector did not start: {line!r}\n{proc.tail()}")
    return proc, line.split(" ", 1)[1]


def bot_env(workdir: Path, port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "GRAPH_", "RR_"))}
    env.update({"PORT": str(port), "DATABASE_URL": database_url, "BOT_ENV": "local", "LOG_LEVEL": "INFO",
                "MicrosoftAppId": "", "MicrosoftAppPassword": "", "PUBLIC_BASE_URL": f"http://localhost:{port}"})
    return env


# The "before" of the SDK fixes in bot/teams/: `python -m bot` with botbuilder's stock clients patched back in.
STOCK_SDK_BOT = ROOT / "tests" / "bench" / "stock_sdk_bot.py"


# =============================================================================================
# Seeding: 10,000 cases, consistent with what the bot itself would have stored
# =============================================================================================


class CachedCalendar:
    """The England calendar with its answers memoised (seeding asks the same questions
    thousands of times; the bot's own calendar is untouched)."""

    def __init__(self, calendar: Any) -> None:
        self._cal = calendar
        self._add: dict[tuple[date, int], date] = {}
        self._between: dict[tuple[date, date], int] = {}

    def add_working_days(self, start: date, n: int) -> date:
        key = (start, n)
        found = self._add.get(key)
        if found is None:
            found = self._add[key] = self._cal.add_working_days(start, n)
        return found

    def working_days_between(self, start: date, end: date) -> int:
        key = (start, end)
        found = self._between.get(key)
        if found is None:
            found = self._between[key] = self._cal.working_days_between(start, end)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cal, name)


@dataclass
class ReminderCandidate:
    deadline_id: int
    case_id: str
    key: str  # the reminder (and outbox) key of the latest slot that fell due
    slot_at: datetime
    previous_at: datetime | None


@dataclass
class SeedInfo:
    cases: int = 0
    open_cases: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    referred: list[tuple[str, str]] = field(default_factory=list)  # (reference, panel activity id)
    candidates: list[ReminderCandidate] = field(default_factory=list)
    seconds: float = 0.0
    consistency: str = ""
    db_bytes: int = 0


REFERRERS = [("00000000-0000-0000-0000-00000000a001", "Riley Referrer")] + [
    (f"00000000-0000-0000-0000-000000000b{n:02d}", f"Referrer {n:02d}") for n in range(1, 40)
]
AGENCIES = ["Education (school or college)", "NHS acute trust", "Police", "GP / primary care", "Early years",
            "Children's social care", "Housing", "Voluntary sector"]
# Open cases by state. The virtual panel decides within two working days of a referral, while a
# rapid review then runs for about fifteen more, so most open cases are past the decision.
OPEN_MIX = [("referred", 0.24), ("decided", 0.20), ("meeting_scheduled", 0.22), ("meeting_held", 0.19),
            ("report_submitted", 0.15)]
CLOSED_OUTCOMES = [("rapid_review", 0.45), ("practice_review", 0.15), ("escalation", 0.10),
                   ("no_further_action", 0.30)]
VOTERS = {  # partner -> (aad, name, organisation)
    "local_authority": ("00000000-0000-0000-0000-00000000a004", "Laura LocalAuthority",
                        "Example Council Children's Services"),
    "police": ("00000000-0000-0000-0000-00000000a005", "Dan Police", "Example Police"),
    "health": ("00000000-0000-0000-0000-00000000a006", "Nina Health", "Example Integrated Care Board"),
}
PAT_AAD, PAT_NAME = "00000000-0000-0000-0000-00000000a002", "Pat Manager"


def _weighted(rng: random.Random, table: list[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def _pseudonyms() -> list[str]:
    from bot.domain.case import _pseudonym_letters

    return [f"Child {letters}" for letters in _pseudonym_letters()]


async def seed_database(database_url: str, service_url: str, *, total: int, open_cases: int, now: datetime,
                        rng: random.Random) -> SeedInfo:
    """Write the load. Every row is what the bot's own code paths would have written for a case
    that went through these steps; deadlines come from the partnership's timeline profile."""
    from sqlalchemy import insert

    from bot.adapters.clock import FixedClock
    from bot.adapters.db import schema as t
    from bot.adapters.db.database import Database
    from bot.adapters.meetings import OfflineMeetingProvider
    from bot.app import build_services, sql_stores
    from bot.domain.case import Actor, IncidentKind, format_reference
    from bot.domain.reminders import due_now, next_after
    from bot.domain.timeline import Anchor, compute_deadlines, superseded
    from bot.domain.votes import Decision, Vote
    from bot.services.channels import seed_members_from_config
    from bot.services.deadlines import _KNOWN_AT_REFERRAL, PANEL_VOTE_STEP, _panel_vote_deadline, case_anchor_dates
    from bot.services.ports import Address
    from bot.services.referrals import PANEL_CHANNEL
    from bot.settings import DEFAULT_PARTNERSHIP_FILE, load_partnership
    from scheduler.calendar import EnglandCalendar
    from scheduler.profiles import load_profile
    from tests.support import activities as A
    from tests.support.fakes import RecordingNotifier

    started = time.perf_counter()
    info = SeedInfo()
    if open_cases > len(_pseudonyms()):
        raise SystemExit(f"at most {len(_pseudonyms())} open cases: pseudonyms are unique among open cases")
    db = Database(database_url)
    await db.migrate()
    stores = sql_stores(db)
    partnership = load_partnership(DEFAULT_PARTNERSHIP_FILE)
    tz = ZoneInfo(partnership.time_zone)
    calendar = CachedCalendar(EnglandCalendar(partnership.closure_days))
    profile = load_profile(partnership.timeline_profile, None)
    ctx = dataclasses.replace(
        build_services(stores, partnership, FixedClock(now), RecordingNotifier(), profile=profile,
                       meetings=OfflineMeetingProvider()),
        calendar=calendar)
    # The roster exactly as the bot seeds it at start-up, and the Teams ids it learns.
    await seed_members_from_config(ctx)
    for person in (A.RILEY, A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.DEE):
        await ctx.roster.remember_mri(person.aad, person.mri, now)

    today = now.astimezone(tz).date()
    horizon = now + timedelta(minutes=45)  # no reminder may fall due while the benchmark runs

    def wd(day: date, n: int) -> date:
        return calendar.add_working_days(day, n)

    def last_working_day(day: date) -> date:
        return day if calendar.is_working_day(day) else wd(day, -1)

    def local(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, dtime(hour, minute), tzinfo=tz).astimezone(UTC)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, dtime(0, 0), tzinfo=tz).astimezone(UTC)

    def not_after_now(moment: datetime) -> datetime:
        return min(moment, now - timedelta(minutes=rng.randint(2, 90)))

    # ---- plan each case: its state and the dates it went through -------------------------------
    plans: list[dict[str, Any]] = []
    open_states = [_weighted(rng, OPEN_MIX) for _ in range(open_cases)]
    for state in ["closed"] * (total - open_cases) + open_states:
        p: dict[str, Any] = {"state": state}
        if state == "closed":
            received_day = last_working_day(today - timedelta(days=100 + rng.randint(0, 1400)))
            outcome = _weighted(rng, CLOSED_OUTCOMES)
        else:
            lag = {"referred": (0, 12), "decided": (3, 18), "meeting_scheduled": (6, 14), "meeting_held": (12, 25),
                   "report_submitted": (18, 40)}[state]
            received_day = wd(last_working_day(today), -rng.randint(*lag))
            outcome = None if state == "referred" else ("rapid_review" if state != "decided" or rng.random() < 0.7
                                                        else rng.choice(["practice_review", "escalation"]))
        p["received_at"] = not_after_now(local(received_day, rng.randint(9, 16), rng.randint(0, 59)))
        received_day = p["received_at"].astimezone(tz).date()
        p["incident_date"] = received_day - timedelta(days=rng.randint(0, 6))
        p["aware_date"] = None if rng.random() < 0.2 else min(p["incident_date"] + timedelta(days=rng.randint(0, 2)),
                                                                received_day)
        p["died"] = rng.random() < 0.15
        p["outcome"] = outcome
        anchors: dict[Any, datetime] = {}
        if outcome is not None:
            decided_day = min(wd(received_day, rng.randint(1, 2)), today)
            p["decided_at"] = not_after_now(local(decided_day, rng.randint(10, 16), rng.randint(0, 59)))
            p["decided_at"] = max(p["decided_at"], p["received_at"] + timedelta(minutes=30))
            decided_day = p["decided_at"].astimezone(tz).date()
            anchors[Anchor.PANEL_DECISION] = p["decided_at"]
            if outcome == "rapid_review":
                # A busy partnership: open cases run late on the steps they record (the benchmark
                # needs at least 1,000 open steps with a reminder already due).
                lateness = 0.7 if state == "decided" else (0.45 if state != "closed" else 0.0)
                if rng.random() >= lateness:  # the agency template went out (marked done with its date)
                    anchors[Anchor.REQUESTS_SENT] = midnight(min(wd(decided_day, rng.randint(0, 2)), today))
                if rng.random() >= lateness:  # the National Panel was notified
                    aware = p["aware_date"] or received_day
                    anchors[Anchor.NATIONAL_PANEL_NOTIFIED] = midnight(min(max(wd(aware, rng.randint(1, 5)),
                                                                               decided_day), today))
                meeting_day = None
                if state in ("meeting_scheduled", "meeting_held", "report_submitted", "closed"):
                    meeting_day = wd(decided_day, rng.randint(7, 13))
                    if state == "meeting_scheduled" and meeting_day <= today:
                        meeting_day = wd(today, rng.randint(1, 3))
                    elif state != "meeting_scheduled" and meeting_day >= today:
                        meeting_day = wd(today, -1)
                    anchors[Anchor.MEETING] = local(meeting_day, 10)
                    p["meeting_day"] = meeting_day
                if state in ("meeting_held", "report_submitted", "closed") and meeting_day is not None:
                    anchors[Anchor.MEETING_HELD] = local(meeting_day, 12)
                if state in ("report_submitted", "closed") and meeting_day is not None:
                    report_day = min(max(wd(received_day, rng.randint(12, 18)), meeting_day), wd(today, -1))
                    anchors[Anchor.REPORT_SUBMITTED] = midnight(report_day)
                    p["report_day"] = report_day
            if state == "closed":
                end = p.get("report_day") or decided_day
                p["closed_at"] = not_after_now(local(end + timedelta(days=rng.randint(3, 40)), 15))
        p["anchors"] = anchors
        plans.append(p)
    plans.sort(key=lambda p: p["received_at"])

    # ---- the referral record (identifiers are synthetic) ----------------------------------------
    from bot.domain.referral import Referral
    from tests.conftest import make_referral

    template = make_referral().model_dump(mode="json")

    def referral_json(p: dict[str, Any], n: int, referrer_name: str) -> dict[str, Any]:
        data = json.loads(json.dumps(template))
        data["referrer"]["name"] = referrer_name
        data["referrer"]["agency"] = AGENCIES[n % len(AGENCIES)]
        data["incident"]["incident_date"] = p["incident_date"].isoformat()
        data["incident"]["la_aware_date"] = p["aware_date"].isoformat() if p["aware_date"] else None
        data["incident"]["outcome"] = "died" if p["died"] else "seriously_harmed"
        child = data["children"]["children"][0]
        child["name"] = f"Synthetic Child {n:05d}"
        child["date_of_birth"] = (p["incident_date"] - timedelta(days=365 * (1 + n % 15) + n % 300)).isoformat()
        return data

    # ---- rows --------------------------------------------------------------------------------------
    cases, events, votes, anchors_rows, deadlines, reminders, outbox = [], [], [], [], [], [], []
    meetings, agency_rows, processed, refs = [], [], [], []
    counters: dict[int, int] = {}
    open_names = iter(_pseudonyms())
    deadline_id = 0
    notifiable_cache: dict[tuple[bool, bool], bool] = {}
    adjusted = 0

    def event(case_id: str | None, at: datetime, kind: str, actor: tuple[str | None, str | None],
              detail: dict[str, Any]) -> None:
        events.append({"case_id": case_id, "at": at, "kind": kind, "actor_aad_id": actor[0], "actor_name": actor[1],
                       "detail": detail})

    def sent(key: str, kind: str, case_id: str | None, at: datetime, payload: dict[str, Any] | None = None) -> None:
        outbox.append({"key": key, "kind": kind, "case_id": case_id, "payload": payload or {}, "status": "sent",
                       "attempts": 1, "not_before": at, "claimed_until": None, "last_error": None, "created_at": at,
                       "sent_at": at + timedelta(seconds=1)})

    for n, p in enumerate(plans):
        case_id = str(uuid.uuid4())
        year = p["received_at"].astimezone(tz).year
        counters[year] = counters.get(year, 0) + 1
        reference = format_reference(year, counters[year])
        referrer_aad, referrer_name = REFERRERS[n % len(REFERRERS)]
        is_open = p["state"] != "closed"
        pseudonym = next(open_names) if is_open else f"Child {chr(65 + n % 26)}"
        referral = referral_json(p, n, referrer_name)
        key = (p["died"], p["aware_date"] is None)
        if key not in notifiable_cache:  # validate each shape once with the domain model
            notifiable_cache[key] = Referral.model_validate(referral).likely_notifiable
        status = p["state"] if p["state"] != "closed" else "closed"
        decision_json = None
        received_at = p["received_at"]
        panel_activity = f"seed-{n + 1:05d}"
        partners = ["local_authority", "police", "health"]
        case_votes: list[Vote] = []
        if p["outcome"] is not None:
            for partner in partners:
                aad, name, org = VOTERS[partner]
                case_votes.append(Vote(partner=partner, choice=p["outcome"],
                                       rationale=f"Seeded rationale for {reference}: the criteria are considered.",
                                       serious_harm_basis="Serious harm: hospital admission with injuries."
                                       if p["outcome"] == "rapid_review" else None,
                                       voter_aad_id=aad, voter_name=name, organisation=org,
                                       cast_at=p["decided_at"] - timedelta(minutes=10 * (3 - partners.index(partner)))))
            decision = Decision(outcome=p["outcome"], decided_at=p["decided_at"], rule=partnership.decision_rule,
                                votes=case_votes)
            decision_json = decision.model_dump(mode="json")
        elif p["state"] == "referred":
            # Some partners have voted, never unanimously (the benchmark's votes keep it so).
            choices = {"local_authority": "rapid_review", "police": "practice_review", "health": "escalation"}
            for partner in rng.sample(partners, rng.randint(0, 2)):
                aad, name, org = VOTERS[partner]
                case_votes.append(Vote(partner=partner, choice=choices[partner],
                                       rationale=f"Seeded rationale for {reference}: awaiting the others.",
                                       serious_harm_basis="Serious harm: hospital admission with injuries."
                                       if choices[partner] == "rapid_review" else None,
                                       voter_aad_id=aad, voter_name=name, organisation=org,
                                       cast_at=received_at + timedelta(minutes=20)))
            info.referred.append((reference, panel_activity))
        cases.append({
            "id": case_id, "reference": reference, "pseudonym": pseudonym, "status": status,
            "draft_id": str(uuid.uuid4()), "referrer_aad_id": referrer_aad, "referrer_name": referrer_name,
            "referring_agency": referral["referrer"]["agency"], "pathway_sought": "A",
            "incident_kind": (IncidentKind.CHILD_DEATH if p["died"] else IncidentKind.SERIOUS_HARM).value,
            "incident_date": p["incident_date"], "aware_date": p["aware_date"],
            "likely_notifiable": notifiable_cache[key], "received_at": received_at, "referral": referral,
            "panel_activity_id": panel_activity, "version": 2 + len(case_votes), "vote_round": 1,
            "decision": decision_json, "decided_at": p.get("decided_at"), "closed_at": p.get("closed_at"),
            "updated_at": p.get("closed_at") or p.get("decided_at") or received_at,
        })
        info.by_status[status] += 1
        event(case_id, received_at, "referral_submitted", (referrer_aad, referrer_name),
              {"children": 1, "pathway_sought": "A", "likely_notifiable": notifiable_cache[key]})
        event(case_id, received_at + timedelta(seconds=2), "case_posted_to_panel", (None, "Rapid Review bot"),
              {"activity_id": panel_activity})
        sent(f"panel_card:{case_id}:post", "panel_card", case_id, received_at)
        sent(f"refresh:{case_id}:submitted", "refresh_deadlines", case_id, received_at)
        for version, vote in enumerate(case_votes, start=2):
            votes.append({"case_id": case_id, "round": 1, "partner": vote.partner.value, "choice": vote.choice.value,
                          "rationale": vote.rationale, "serious_harm_basis": vote.serious_harm_basis, "question": None,
                          "voter_aad_id": vote.voter_aad_id, "voter_name": vote.voter_name,
                          "organisation": vote.organisation, "cast_at": vote.cast_at})
            event(case_id, vote.cast_at, "vote_cast", (vote.voter_aad_id, vote.voter_name),
                  {"partner": vote.partner.value, "round": 1, "before": None, "after": vote.choice.value,
                   "cast_by": vote.voter_aad_id, "replaced_vote_of": None})
            sent(f"panel_card:{case_id}:v{version}", "panel_card", case_id, vote.cast_at)
            processed.append({"key": f"{A.PANEL_CHANNEL_ID};messageid={panel_activity}|seed-{case_id}-{version}",
                              "at": vote.cast_at, "response": None})
        if p["outcome"] is not None:
            decided_at = p["decided_at"]
            event(case_id, decided_at, "panel_decided", (VOTERS["health"][0], VOTERS["health"][1]),
                  {"outcome": p["outcome"], "rule": partnership.decision_rule.value, "by_local_authority": False,
                   "deciders": [{"partner": v.partner.value, "name": v.voter_name, "organisation": v.organisation}
                                for v in case_votes]})
            sent(f"decision:{case_id}", "referrer_decision", case_id, decided_at)
            sent(f"refresh:{case_id}:decided", "refresh_deadlines", case_id, decided_at)
            if p["outcome"] == "rapid_review":
                sent(f"agency_prompt:{case_id}", "agency_prompt", case_id, decided_at)
                sent(f"book_meeting:{case_id}", "book_meeting", case_id, decided_at)
        for anchor, at in p["anchors"].items():
            anchors_rows.append({"case_id": case_id, "anchor": anchor.value, "at": at})
        if Anchor.MEETING in p["anchors"]:
            start = p["anchors"][Anchor.MEETING]
            meetings.append({"case_id": case_id, "status": "held" if Anchor.MEETING_HELD in p["anchors"] else "booked",
                             "attempt": 1, "transaction_id": str(uuid.uuid4()), "event_id": None, "join_url": None,
                             "start_at": start, "end_at": start + timedelta(hours=2), "provider": "offline",
                             "attendees": [], "options": None, "outcome": None, "last_error": None,
                             "updated_at": min(start, now)})
        if Anchor.REQUESTS_SENT in p["anchors"]:
            sent_at = p["anchors"][Anchor.REQUESTS_SENT]
            returned = p["state"] in ("meeting_held", "report_submitted", "closed")
            for agency in rng.sample(AGENCIES, 3):
                agency_rows.append({"case_id": case_id, "agency": agency, "contact": None, "sent_at": sent_at,
                                    "returned_at": sent_at + timedelta(days=5) if returned else None,
                                    "returned_by_name": PAT_NAME if returned else None})
            event(case_id, sent_at, "agency_requests_sent", (PAT_AAD, PAT_NAME), {"agencies": 3})

        # ---- deadlines: exactly what refresh_deadlines computes from these anchors ------------------
        summary = SimpleNamespace(received_at=received_at, incident_date=p["incident_date"])
        shell = SimpleNamespace(summary=summary, aware_date=p["aware_date"], id=case_id)
        all_anchors = case_anchor_dates(ctx, shell) | p["anchors"]  # type: ignore[arg-type]
        computed = [_panel_vote_deadline(ctx, shell, all_anchors)]  # type: ignore[arg-type]
        facts = {"child_death"} if p["died"] else set()
        later_steps = profile.model_copy(update={"steps": [s for s in profile.steps if s.id != PANEL_VOTE_STEP]})
        if p["outcome"] is not None:
            computed += compute_deadlines(later_steps, all_anchors, calendar, pathway=p["outcome"], facts=facts, tz=tz)
        else:  # provisional until the panel decides: the sought pathway's steps dated by the referral itself
            computed += [d for d in compute_deadlines(later_steps, all_anchors, calendar, pathway="rapid_review",
                                                      facts=facts, tz=tz) if d.anchor in _KNOWN_AT_REFERRAL]
        for position, d in enumerate(computed):
            deadline_id += 1
            row: dict[str, Any] = {
                "id": deadline_id, "case_id": case_id, "step_id": d.step_id, "label": d.label,
                "owner": d.owner.value, "anchor": d.anchor.value, "anchor_at": d.anchor_at, "due_at": d.due_at,
                "earliest_at": d.earliest_at, "is_window": d.is_window, "asks_for_date": d.asks_for_date,
                "records": d.records.value if d.records else None, "plan": d.reminders.model_dump(mode="json"),
                "source": d.source, "position": position, "status": "pending", "next_reminder_at": None,
                "last_reminder_at": None, "done_at": None, "done_on": None, "done_by_aad_id": None,
                "done_by_name": None,
            }
            done_by: tuple[str, str] | None = None
            done_day: date | None = None
            if d.step_id == PANEL_VOTE_STEP and p["outcome"] is not None:
                done_by, done_day = ("", "The panel's decision"), p["decided_at"].astimezone(tz).date()
            elif d.records is not None and d.records in p["anchors"]:
                recorded = p["anchors"][d.records]
                person = d.records in (Anchor.REQUESTS_SENT, Anchor.NATIONAL_PANEL_NOTIFIED)
                done_by = (PAT_AAD, PAT_NAME) if person else ("", "Recorded on the case")
                done_day = recorded.astimezone(tz).date()
            elif d.due_at is not None and d.due_at < now and (
                    p["state"] == "closed" and rng.random() < 0.9
                    or p["state"] in ("meeting_held", "report_submitted") and rng.random() < 0.2):
                done_by, done_day = (PAT_AAD, PAT_NAME), min(d.due_at.astimezone(tz).date(), today)
            if done_by is not None and done_day is not None:
                row.update(status="done", done_at=min(local(done_day, 11), now), done_on=done_day,
                           done_by_aad_id=done_by[0], done_by_name=done_by[1])
                if done_by[0]:
                    event(case_id, row["done_at"], "deadline_done", done_by,
                          {"step": d.step_id, "done_on": done_day.isoformat()})
            elif superseded(d, all_anchors):  # made moot by the meeting (papers, agencies' returns): never reminded
                row["status"] = "superseded"
            elif d.due_at is not None:
                row["status"] = "open" if is_open else "closed"
            due_day = d.due_at.astimezone(tz).date() if d.due_at is not None else None
            if row["status"] == "open" and due_day is not None:
                slot, next_at = due_now(due_day, d.reminders, calendar, tz, now, None)
                if slot is not None:  # the latest reminder that fell due was posted then
                    row["last_reminder_at"] = slot.at
                    rkey = f"reminder:{deadline_id}:{slot.key_part}"
                    reminders.append({"key": rkey, "case_id": case_id, "deadline_id": deadline_id,
                                      "kind": slot.kind.value, "scheduled_for": slot.at, "delayed": False,
                                      "created_at": slot.at, "sent_at": slot.at + timedelta(seconds=1)})
                    sent(rkey, "reminder", case_id, slot.at, {"deadline_id": deadline_id, "kind": slot.kind.value,
                                                              "delayed": False,
                                                              "scheduled_for": slot.at.isoformat()})
                    previous = None
                    for earlier in _slots_before(due_day, d.reminders, calendar, tz, slot.at):
                        previous = earlier
                    info.candidates.append(ReminderCandidate(deadline_id, case_id, rkey, slot.at, previous))
                if next_at is not None and next_at < horizon:
                    next_at = next_after(due_day, d.reminders, calendar, tz, horizon) or horizon
                    adjusted += 1
                row["next_reminder_at"] = next_at
            elif row["status"] in ("done", "closed") and due_day is not None and d.due_at < (p.get("closed_at") or now):
                rkey = f"reminder:{deadline_id}:due:{due_day.isoformat()}"  # history: the due-day reminder
                at = local(due_day, 9)
                reminders.append({"key": rkey, "case_id": case_id, "deadline_id": deadline_id, "kind": "due",
                                  "scheduled_for": at, "delayed": False, "created_at": at,
                                  "sent_at": at + timedelta(seconds=1)})
                sent(rkey, "reminder", case_id, at, {"deadline_id": deadline_id, "kind": "due", "delayed": False,
                                                     "scheduled_for": at.isoformat()})
                row["last_reminder_at"] = at
            deadlines.append(row)

    for aad, _name in REFERRERS:
        refs.append({"key": f"user:{aad}", "conversation_id": f"a:personal-{aad[-4:]}", "service_url": service_url,
                     "tenant_id": A.TENANT, "bot_id": A.BOT_ID, "user_id": f"29:{aad[-4:]}", "updated_at": now})
    refs.append({"key": "service", "conversation_id": A.PAT.chat, "service_url": service_url, "tenant_id": A.TENANT,
                 "bot_id": A.BOT_ID, "user_id": None, "updated_at": now})

    async with db.write() as conn:
        for table, rows in ((t.cases, cases), (t.events, events), (t.votes, votes), (t.case_anchors, anchors_rows),
                            (t.deadlines, deadlines), (t.reminders, reminders), (t.outbox, outbox),
                            (t.meetings, meetings), (t.agency_requests, agency_rows),
                            (t.processed_activities, processed), (t.conversation_refs, refs)):
            for start in range(0, len(rows), 5000):
                await conn.execute(insert(table), rows[start:start + 5000])
            info.rows[table.name] = len(rows)
        await conn.execute(insert(t.case_counters), [{"year": y, "last": last} for y, last in counters.items()])
    # The panel channel, bound as Pat's command binds it (the benchmark binds it again over HTTP).
    await stores.roster.bind_channel(PANEL_CHANNEL, Address(A.PANEL_CHANNEL_ID, service_url, A.TENANT, A.BOT_ID),
                            A.TEAM_ID, A.PANEL_CHANNEL_ID, Actor(aad_object_id=PAT_AAD, name=PAT_NAME), now)
    info.cases = len(cases)
    info.open_cases = sum(1 for c in cases if c["closed_at"] is None)
    info.consistency = await _check_consistency(db, ctx, [c["id"] for c in cases if c["closed_at"] is None], rng,
                                                adjusted)
    await db.dispose()
    info.seconds = time.perf_counter() - started
    return info


def _slots_before(due_day: date, plan: Any, calendar: Any, tz: ZoneInfo, before: datetime) -> list[datetime]:
    from bot.domain.reminders import slots

    found = []
    for slot in slots(due_day, plan, calendar, tz):
        if slot.at >= before:
            break
        found.append(slot.at)
    return found


async def _check_consistency(db: Any, ctx: Any, open_ids: list[str], rng: random.Random, adjusted: int) -> str:
    """Run the bot's own refresh_deadlines on a sample of open cases: it must leave the
    seeded deadline rows as they are."""
    from bot.services import deadlines

    sample = rng.sample(open_ids, min(40, len(open_ids)))
    columns = ("step_id", "status", "due_at", "anchor_at", "earliest_at", "position", "last_reminder_at", "done_on")
    changed = 0
    for case_id in sample:
        before = [tuple(getattr(r, c) for c in columns) for r in await ctx.deadlines.deadlines(case_id)]
        after = [tuple(getattr(r, c) for c in columns) for r in await deadlines.refresh_deadlines(ctx, case_id)]
        changed += before != after
    note = f"; {adjusted} next reminders moved past the run" if adjusted else ""
    return f"refresh_deadlines left {len(sample) - changed}/{len(sample)} sampled open cases unchanged{note}"


# =============================================================================================
# Driving the bots
# =============================================================================================


@dataclass
class RoundResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


@dataclass
class Series:
    """All rounds of one (workload, target, concurrency)."""

    rounds: list[RoundResult] = field(default_factory=list)

    @property
    def turns(self) -> int:
        return sum(len(r.latencies) for r in self.rounds)

    @property
    def wall(self) -> float:
        return sum(r.wall for r in self.rounds)

    @property
    def throughput(self) -> float:
        return self.turns / self.wall if self.wall else 0.0

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    def pct(self, q: float) -> float:
        values = sorted(x for r in self.rounds for x in r.latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] * 1000

    @property
    def cpu_ms_per_turn(self) -> float:
        return 1000 * sum(r.cpu for r in self.rounds) / self.turns if self.turns else float("nan")


async def register_people(session: Any, service_url: str) -> None:
    """Everyone the workloads act as, known to the fake connector (its member lookups)."""
    from tests.support import activities as A

    people = [A.RILEY, A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.DEE, *DialogWorkload.PEOPLE]
    async with session.post(f"{service_url}_users", json={"users": [
        {"id": p.mri, "name": p.name, "aadObjectId": p.aad, "email": f"{p.key}@example.org"}
            for p in people]}) as response:
        await response.read()


class Driver:
    def __init__(self, session: Any, connector_url: str) -> None:
        self.session = session
        self.connector = connector_url.rstrip("/")

    async def post(self, url: str, activity: dict[str, Any]) -> tuple[int, bytes, float]:
        payload = json.dumps(activity).encode()
        started = time.perf_counter()
        async with self.session.post(url, data=payload, headers={"Content-Type": "application/json"}) as response:
            body = await response.read()
            status = response.status
        return status, body, time.perf_counter() - started

    async def sent_to(self, conversation: str) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.connector}/_sent", params={"conversation": conversation}) as response:
            return await response.json()

    async def last_sent(self, conversation: str) -> tuple[int, dict[str, Any] | None]:
        """How many activities the connector accepted for one conversation, and the newest: what the
        dialog's client reads between turns, without the whole conversation's cards each time."""
        params = {"conversation": conversation, "exact": "1", "last": "1"}
        async with self.session.get(f"{self.connector}/_sent", params=params) as response:
            found = await response.json()
        return found["count"], found["last"]

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.connector}/_stats") as response:
            return await response.json()

    async def faults(self, config: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(f"{self.connector}/_faults", json=config) as response:
            return await response.json()


def _card_of(activity: dict[str, Any]) -> dict[str, Any] | None:
    attachments = activity.get("attachments") or []
    return attachments[0].get("content") if attachments else None


class Workload(abc.ABC):
    """One kind of turn; `worker(i)` returns the coroutine factory a client task loops on."""

    name = ""

    @abc.abstractmethod
    def worker(self, driver: Driver, url: str, index: int, is_echo: bool, result: RoundResult
               ) -> Callable[[], Awaitable[None]]: ...


class DialogWorkload(Workload):
    """Referral dialog steps by Action.Submit (messages with a value): `refer`, then Next
    through the five sections to the review card, then Edit/Next pairs. Each cycle is a new
    personal chat; the draft id comes from the bot's first card at the connector."""

    name = "dialog"
    EDITS = 3
    PEOPLE = [SimpleNamespace(key=f"bench-referrer-{i}", name=f"Bench Referrer {i}",
                              aad=f"00000000-0000-0000-0000-0000000c{i:04d}", mri=f"29:bench-referrer-{i}",
                              chat=f"a:personal-bench-referrer-{i}") for i in range(16)]

    def __init__(self, service_url: str, today: date) -> None:
        from tests.support import activities as A
        from tests.support.harness import SECTION_ORDER, VALID

        self.A = A
        self.service_url = service_url
        self.sections = SECTION_ORDER
        answers = json.loads(json.dumps(VALID))
        answers["incident"]["incident_date"] = (today - timedelta(days=3)).isoformat()
        answers["incident"]["la_aware_date"] = (today - timedelta(days=2)).isoformat()
        self.answers = answers
        self.people = self.PEOPLE

    def worker(self, driver: Driver, url: str, index: int, is_echo: bool, result: RoundResult
               ) -> Callable[[], Awaitable[None]]:
        A = self.A
        person = self.people[index % len(self.people)]
        plan = ([("refer", None)] + [("next", s) for s in self.sections]
                + [step for s in ("referrer", "views", "children")[: self.EDITS] for step in (("edit", s), ("next", s))])
        state: dict[str, Any] = {"step": 0, "conv": "", "ref": None, "v": 0}

        async def turn() -> None:
            if state["step"] == 0:
                state["conv"] = f"a:personal-bench-{'e' if is_echo else 'b'}-{uuid.uuid4().hex}"
            kind, section = plan[state["step"]]
            if kind == "refer":
                activity = A.message(self.service_url, person, "refer")
            else:
                data = {"verb": f"form.{kind}", "action": f"form.{kind}", "ref": state["ref"], "v": state["v"]}
                if kind == "edit":
                    data["section"] = section
                else:
                    data.update({"section": section, **self.answers[section]})
                activity = A.submit(self.service_url, person, data)
            activity["conversation"]["id"] = state["conv"]
            status, body, took = await driver.post(url, activity)
            if status not in (200, 201):
                result.error(f"{kind}: HTTP {status} {body[:200]!r}")
            else:
                result.latencies.append(took)
            state["v"] = state["v"] + 1 if state["ref"] else state["v"]
            if kind == "refer":  # untimed: read the card's data as Teams would render it
                count, last = await driver.last_sent(state["conv"])
                card = _card_of(last["activity"]) if last else None
                if is_echo:
                    state["ref"], state["v"] = "echo-draft", 2
                    if not count:
                        result.error("echo: no reply at the connector")
                elif card is None:
                    result.error("refer: no card at the connector")
                    state["ref"], state["v"] = "missing", 2
                else:
                    from tests.support.harness import find_action

                    data = find_action(card, "form.next")
                    state["ref"], state["v"] = data["ref"], data["v"]
            state["step"] += 1
            if state["step"] == len(plan):  # untimed: the cycle must end on the review card
                count, last = await driver.last_sent(state["conv"])
                if count != len(plan):
                    result.error(f"cycle: {count} replies for {len(plan)} turns")
                elif not is_echo:
                    card = (_card_of(last["activity"]) if last else None) or {}
                    if "form.submit" not in json.dumps(card):
                        from tests.support.harness import texts

                        result.error(f"cycle did not end on the review card: {texts(card)[:200]}")
                state.update(step=0, ref=None, v=0)

        return turn


def _notices(card: Any) -> str:
    """The texts of a card's notices (`cards/common.py` `notice`: an attention, warning or good
    container), which say why a vote was refused; the card's first 200 characters say nothing."""
    found: list[str] = []
    stack = [card]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "Container" and item.get("style") in ("attention", "warning", "good"):
                found += [i.get("text", "") for i in item.get("items") or [] if isinstance(i, dict)]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return " | ".join(t for t in found if t)[:300]


class VoteWorkload(Workload):
    """`panel.vote` invokes (Action.Execute) on open cases, from the voting card's thread in
    the panel channel. Each records a vote, its event and a card update through the outbox.
    The local authority always chooses a rapid review and the others never do, so no case
    is decided and every vote is a real change."""

    name = "vote"

    def __init__(self, service_url: str, referred: list[tuple[str, str]], database_urls: list[str]) -> None:
        from tests.support import activities as A

        self.A = A
        self.service_url = service_url
        self.databases = database_urls  # of the bots voted on (the echo bot keeps nothing)
        self.cases = referred
        self.voters = [(A.LAURA, ["rapid_review"]), (A.DAN, ["practice_review", "escalation"]),
                       (A.NINA, ["escalation", "no_further_action"]), (A.DEE, ["escalation", "practice_review"])]
        self.counter = 0
        self.recorded = 0
        self.nonce = uuid.uuid4().hex[:6]  # every vote differs from every earlier one, so each is recorded

    def worker(self, driver: Driver, url: str, index: int, is_echo: bool, result: RoundResult
               ) -> Callable[[], Awaitable[None]]:
        A = self.A

        async def turn() -> None:
            self.counter += 1
            n = self.counter
            reference, activity_id = self.cases[(n * 7919) % len(self.cases)]
            person, choices = self.voters[n % len(self.voters)]
            choice = choices[(n // len(self.voters)) % len(choices)]
            data = {"verb": "panel.vote", "action": "panel.vote", "ref": reference, "v": 1, "choice": choice,
                    "rationale": f"Benchmark vote {self.nonce}-{n}: the information so far points this way."}
            if choice == "rapid_review":
                data["serious_harm_basis"] = f"Serious harm criteria met (benchmark vote {n})."
            activity = A.invoke(self.service_url, person, "panel.vote", data, channel=True)
            activity["conversation"]["id"] = f"{A.PANEL_CHANNEL_ID};messageid={activity_id}"
            status, body, took = await driver.post(url, activity)
            if status != 200:
                result.error(f"vote: HTTP {status} {body[:200]!r}")
                return
            answer = json.loads(body)
            text = json.dumps(answer.get("value", ""))
            ok = answer.get("statusCode") == 200 and ("echo" in text if is_echo else "Vote recorded" in text)
            if not ok:
                result.error(f"vote refused: {_notices(answer.get('value')) or text[:200]}")
                return
            result.latencies.append(took)
            if not is_echo:
                self.recorded += 1

        return turn

    async def cards_waiting(self) -> int:
        """The case-card updates the bot's outbox has still to deliver (or to drop as overtaken:
        several votes on one case together put only the newest view on its card)."""
        from sqlalchemy import func, select

        from bot.adapters.db import schema as t
        from bot.adapters.db.database import Database

        waiting = 0
        for url in self.databases:  # opened and closed each time: a PostgreSQL database is dropped at the end
            db = Database(url)
            try:
                async with db.read() as conn:
                    waiting += (await conn.execute(select(func.count()).select_from(t.outbox).where(
                        t.outbox.c.kind == "panel_card", t.outbox.c.status.not_in(("sent", "failed"))))).scalar_one()
            finally:
                await db.dispose()
        return waiting


class StatusWorkload(Workload):
    """Pat's `status` in personal chat: the open cases, most urgent first."""

    name = "status"

    def __init__(self, service_url: str) -> None:
        from tests.support import activities as A

        self.A = A
        self.service_url = service_url

    def worker(self, driver: Driver, url: str, index: int, is_echo: bool, result: RoundResult
               ) -> Callable[[], Awaitable[None]]:
        A = self.A

        async def turn() -> None:
            activity = A.message(self.service_url, A.PAT, "status")
            status, body, took = await driver.post(url, activity)
            if status not in (200, 201):
                result.error(f"status: HTTP {status} {body[:200]!r}")
                return
            result.latencies.append(took)

        return turn


async def run_round(driver: Driver, url: str | list[str], workload: Workload, concurrency: int, seconds: float,
                    is_echo: bool, pid: int | list[int]) -> RoundResult:
    """`concurrency` clients looping on the workload's turns for `seconds`; with several bots (urls
    and pids), client i sends to bot i modulo their number and the CPU time is theirs together."""
    result = RoundResult()
    stop_at = time.perf_counter() + seconds
    urls = url if isinstance(url, list) else [url]
    pids = pid if isinstance(pid, list) else [pid]

    async def client(i: int) -> None:
        turn = workload.worker(driver, urls[i % len(urls)], i, is_echo, result)
        while time.perf_counter() < stop_at:
            try:
                await turn()
            except Exception as error:  # noqa: BLE001 - counted and reported, the round goes on
                result.error(f"{type(error).__name__}: {error}")
                await asyncio.sleep(0.05)

    cpu_before = sum(cpu_seconds(p) for p in pids)
    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    result.wall = time.perf_counter() - started
    result.cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    return result


Target = tuple[str, "str | list[str]", "int | list[int]"]  # name, url(s), pid(s); "echo…" are the echo bot


async def run_rounds(driver: Driver, workload: Workload, targets: list[Target], options: Options,
                     series: dict[tuple[str, str, int], Series], updates_base: int) -> list[float]:
    """A warm-up, then `options.rounds` rounds at concurrency 1 and 8 alternating between the
    targets (so a busy machine slows them alike); returns how long the votes' card updates took
    to drain after each round."""
    drains = []
    for target, url, pid in targets:  # warm up
        await run_round(driver, url, workload, 8, min(1.0, options.seconds / 2), target.startswith("echo"), pid)
    if isinstance(workload, VoteWorkload):
        await wait_for_updates(driver, workload, updates_base)
    for concurrency in (1, 8):
        for n in range(options.rounds):
            for target, url, pid in targets if n % 2 == 0 else targets[::-1]:
                result = await run_round(driver, url, workload, concurrency, options.seconds, target.startswith("echo"),
                                         pid)
                series.setdefault((workload.name, target, concurrency), Series()).rounds.append(result)
                if isinstance(workload, VoteWorkload) and not target.startswith("echo"):
                    # The card updates follow through the outbox: let them finish before the
                    # next round, so the echo bot never shares the CPU with them.
                    drains.append(await wait_for_updates(driver, workload, updates_base))
        log(f"{workload.name:6} c={concurrency}: " + " | ".join(
            f"{t} {series[(workload.name, t, concurrency)].throughput:7.1f}/s p95 "
            f"{series[(workload.name, t, concurrency)].pct(95):6.1f} ms err "
            f"{series[(workload.name, t, concurrency)].errors}" for t, _, _ in targets))
    return drains


# =============================================================================================
# How long `status` holds the event loop (bot/adapters/loop_probe.py in the bot)
# =============================================================================================


async def loop_figures(proc: Proc, path: Path) -> dict[str, Any]:
    """The bot's loop-probe figures since the last call (SIGUSR1 makes it write and reset them, and
    starts its timing if it was off)."""
    before = -1
    with contextlib.suppress(OSError, ValueError):
        before = json.loads(path.read_text())["dump"]
    os.kill(proc.pid, signal.SIGUSR1)
    for _ in range(500):
        await asyncio.sleep(0.01)
        with contextlib.suppress(OSError, ValueError, KeyError):
            found = json.loads(path.read_text())
            if found["dump"] > before:
                return dict(found)
    raise RuntimeError(f"the bot's loop probe wrote nothing to {path}")


async def loop_phase(driver: Driver, bot: Proc, url: str, probe: Path, votes: VoteWorkload, status: StatusWorkload,
                     seconds: float, updates_base: int) -> dict[str, Any]:
    """Votes at c=8 alone, then votes and `status` at c=8 each side by side: the longest single
    hold of the event loop by each kind of turn (the loop thread's CPU time, so other processes
    on the machine do not count). A vote comes from the panel channel, `status` from a personal chat."""
    await loop_figures(bot, probe)  # start timing
    await run_round(driver, url, votes, 8, seconds, False, bot.pid)
    await wait_for_updates(driver, votes, updates_base)
    alone = await loop_figures(bot, probe)
    beside_votes, beside_status = await asyncio.gather(run_round(driver, url, votes, 8, seconds, False, bot.pid),
                                                       run_round(driver, url, status, 8, seconds, False, bot.pid))
    await wait_for_updates(driver, votes, updates_base)
    mixed = await loop_figures(bot, probe)
    os.kill(bot.pid, signal.SIGUSR2)  # the probe's timing costs CPU: off again
    beside = {"status_p95_ms": round(Series([beside_status]).pct(95), 1),
              "vote_p95_ms": round(Series([beside_votes]).pct(95), 1),
              "errors": beside_status.errors + beside_votes.errors}
    log(f"event loop: votes alone {loop_hold_detail(alone)} | beside status {loop_hold_detail(mixed)}")
    return {"votes_alone": alone, "status_beside_votes": mixed, "beside": beside}


def loop_hold_detail(held: dict[str, Any]) -> str:
    parts = []
    for kind, label in (("personal", "status"), ("channel", "votes"), ("none", "outside turns")):
        figures = held["kinds"].get(kind)
        if figures:
            parts.append(f"{label} max {figures['max_ms']:.1f} ms CPU ({figures['max_wall_ms']:.1f} ms wall, "
                         f"{figures.get('max_without_gc_ms', 0):.1f} ms without the collector), "
                         f"{figures['above']['5']} holds over 5 ms"
                         + (f" (the longest ended at {figures['max_ended_at']})" if figures.get("max_ended_at") else ""))
    collections = held.get("collections") or {}
    if collections:
        parts.append("collections " + ", ".join(f"gen {g}: {c['count']:.0f} (longest {c['max_ms']:.1f} ms)"
                                                for g, c in sorted(collections.items())))
    return "; ".join(parts) or "no hold over 0.2 ms"


# =============================================================================================
# The run
# =============================================================================================


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def wait_healthy(session: Any, url: str, proc: Proc, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        with contextlib.suppress(Exception):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"{proc.name} did not become healthy:\n{proc.tail()}")


async def start_bot(session: Any, workdir: Path, port: int, database_url: str, service_url: str, *,
                    sdk_stock: bool, name: str, profile: bool = False,
                    extra_env: dict[str, str] | None = None) -> tuple[Proc, float]:
    """Start `python -m bot` (with `sdk_stock`, tests/bench/stock_sdk_bot.py); returns the process and
    the time to its first successful turn (a `help` message from Pat answered 201: database migrated,
    roster seeded, scheduler up)."""
    import aiohttp

    from tests.support import activities as A

    env = {**bot_env(workdir, port, database_url), **(extra_env or {})}
    args = [sys.executable, str(STOCK_SDK_BOT)] if sdk_stock else [sys.executable, "-m", "bot"]
    if profile:  # sampled with py-spy (pip install py-spy): collapsed stacks in the work directory
        spy = Path(sys.executable).with_name("py-spy")
        args = [str(spy), "record", "--format", "raw", "--rate", "250", "--gil", "--nonblocking", "-o",
                str(workdir / f"{name}.stacks"), "--", *args]
    proc = spawn(name, args, workdir, env, cwd=workdir)
    proc.profiled = profile
    url = f"http://127.0.0.1:{port}/api/messages"
    deadline = proc.started + 60
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise RuntimeError(f"the bot exited during start-up:\n{proc.tail()}")
        with contextlib.suppress(aiohttp.ClientError, OSError):  # not listening yet
            payload = json.dumps(A.message(service_url, A.PAT, "help")).encode()
            async with session.post(url, data=payload, headers={"Content-Type": "application/json"},
                                    timeout=aiohttp.ClientTimeout(total=10)) as response:
                await response.read()
                if response.status in (200, 201):
                    return proc, time.perf_counter() - proc.started
        await asyncio.sleep(0.01)
    raise RuntimeError(f"the bot did not answer within 60 s:\n{proc.tail()}")


async def wait_for_updates(driver: Driver, votes: VoteWorkload, base: int, timeout: float = 120.0) -> float:
    """Wait until the votes' card updates have gone out: a PUT for every recorded vote, or the
    bot's outbox holding no card update still to deliver (votes on one case that land together
    put only the newest view on the card: fewer PUTs than votes, none missing). Returns how long."""
    started = time.perf_counter()
    expected = base + votes.recorded
    last_check = started
    while True:
        if (await driver.stats()).get("updates", 0) >= expected:
            return time.perf_counter() - started
        if time.perf_counter() - last_check >= 0.5:
            last_check = time.perf_counter()
            if await votes.cards_waiting() == 0:
                return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"card updates: {(await driver.stats()).get('updates')} of {expected} after "
                               f"{timeout:.0f} s, {await votes.cards_waiting()} still in the bot's outbox")
        await asyncio.sleep(0.05)


@dataclass
class Options:
    cases: int
    open_cases: int
    rounds: int
    seconds: float
    reminders: int
    sdk_stock: bool
    keep: bool
    json_path: str | None
    seed: int
    strict: bool
    startups: int
    only: frozenset[str] = frozenset()
    profile: bool = False
    compare_stock: bool = True
    compare_encryption: bool = True
    postgres: str = ""  # a PostgreSQL server's URL (any database on it): also run vote and dialog there
    scale: int = 0  # cases of a second, larger database the workloads run on too (0: none)
    agents_edge: bool = True  # dialog and vote also against a bot on the Agents SDK edge


async def run(options: Options) -> int:
    import aiohttp

    from tests.support import activities as A

    workdir = Path(tempfile.mkdtemp(prefix="rr-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    procs: list[Proc] = []
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": _machine(),
                              "options": vars(options), "sdk": "stock" if options.sdk_stock else "reused clients"}
    rng = random.Random(options.seed)
    failures: list[str] = []
    try:
        log(f"work dir {workdir}")
        # Byte-compile the project as a deployment would (`make install` does too): where
        # PYTHONDONTWRITEBYTECODE is set, every start would otherwise compile ~70 modules.
        subprocess.run([sys.executable, "-m", "compileall", "-q", *PROJECT_PACKAGES], cwd=ROOT, check=True)
        connector, service_url = start_connector(workdir)
        procs.append(connector)
        now = datetime.now(UTC)
        log(f"seeding {options.cases:,} cases ({options.open_cases} open) ...")
        seed = await seed_database(database_url, service_url, total=options.cases, open_cases=options.open_cases,
                                   now=now, rng=rng)
        seed.db_bytes = (workdir / "bench.db").stat().st_size
        stock_database_url = plain_database_url = ""
        if options.compare_stock and not options.sdk_stock:
            stock_database_url = copy_database(workdir, "stock")
        if options.compare_encryption:
            plain_database_url = copy_database(workdir, "plain")
        agents_database_url = copy_database(workdir, "agents") if options.agents_edge else ""
        # The copies (~190 MiB each) on disk before any start is timed, so the kernel's writeback
        # of them does not run during one.
        os.sync()
        log(f"seeded in {seed.seconds:.1f} s: {dict(seed.by_status)}; {seed.consistency}; "
            f"{len(seed.candidates)} reminder candidates")
        report["seed"] = {"seconds": round(seed.seconds, 1), "by_status": dict(seed.by_status),
                          "rows": dict(seed.rows), "db_mib": round(seed.db_bytes / MIB, 1),
                          "consistency": seed.consistency, "reminder_candidates": len(seed.candidates)}

        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout,
                                         connector=aiohttp.TCPConnector(limit=64, force_close=False)) as session:
            driver = Driver(session, service_url)
            await register_people(session, service_url)

            echo_port = free_port()
            echo = spawn("echo", [sys.executable, str(Path(__file__).resolve()), "--echo-bot", str(echo_port)],
                         workdir, {**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
            procs.append(echo)
            await wait_healthy(session, f"http://127.0.0.1:{echo_port}/healthz", echo)

            bot_port = free_port()
            probe_path = workdir / "loop-probe.json"
            startups, startup_cpus = [], []
            for attempt in range(options.startups):  # the last start stays up for the workloads
                log("starting the bot with the seeded database ...")
                bot, startup = await start_bot(session, workdir, bot_port, database_url, service_url,
                                               sdk_stock=options.sdk_stock, name=f"bot-{attempt + 1}",
                                               profile=options.profile and attempt == options.startups - 1,
                                               extra_env={"LOOP_PROBE_FILE": str(probe_path)})
                procs.append(bot)
                startups.append(startup)
                startup_cpus.append(cpu_seconds(bot.pid))  # what the start cost, whatever else the machine runs
                log(f"first successful turn {startup:.2f} s after start ({startup_cpus[-1]:.2f} s of CPU)")
                if attempt < options.startups - 1:
                    bot.stop()
            report.setdefault("rss_after_mib", {})["start"] = _rss_now_and_peak(bot.pid)
            report["startup_s"] = round(statistics.median(startups), 3)
            report["startups_s"] = [round(x, 3) for x in startups]
            report["startup_cpu_s"] = round(statistics.median(startup_cpus), 3)

            bot_url = f"http://127.0.0.1:{bot_port}/api/messages"
            echo_url = f"http://127.0.0.1:{echo_port}/api/messages"
            stock: Proc | None = None
            stock_url = ""
            if stock_database_url:  # the "before" of the SDK fixes in bot/teams/ (stock_sdk_bot.py)
                stock_port = free_port()
                stock, _ = await start_bot(session, workdir, stock_port, stock_database_url, service_url,
                                           sdk_stock=True, name="bot-stock-sdk")
                procs.append(stock)
                stock_url = f"http://127.0.0.1:{stock_port}/api/messages"
            plain: Proc | None = None
            plain_url = ""
            if plain_database_url:  # the same bot with identifiers stored in plain text
                plain_port = free_port()
                plain, _ = await start_bot(session, workdir, plain_port, plain_database_url, service_url,
                                           sdk_stock=options.sdk_stock, name="bot-plain",
                                           extra_env={"ENCRYPT_AT_REST": "false"})
                procs.append(plain)
                plain_url = f"http://127.0.0.1:{plain_port}/api/messages"
            agents: Proc | None = None
            agents_url = ""
            if agents_database_url:  # the same bot on the Microsoft 365 Agents SDK edge
                agents_port = free_port()
                agents, _ = await start_bot(session, workdir, agents_port, agents_database_url, service_url,
                                            sdk_stock=False, name="bot-agents-edge",
                                            extra_env={"TEAMS_EDGE": "agents"})
                procs.append(agents)
                agents_url = f"http://127.0.0.1:{agents_port}/api/messages"
            for url in [u for u in (bot_url, stock_url, plain_url, agents_url) if u]:
                status, body, _ = await driver.post(url, A.channel_message(service_url, A.PAT,
                                                                           "use this channel for the panel"))
                if status not in (200, 201):
                    raise RuntimeError(f"binding the panel channel failed: {status} {body[:200]!r}")

            voted_databases = [u for u in (database_url, stock_database_url, plain_database_url, agents_database_url) if u]
            workloads: list[Workload] = [DialogWorkload(service_url, now.astimezone(LONDON).date()),
                                         VoteWorkload(service_url, seed.referred, voted_databases),
                                         StatusWorkload(service_url)]
            if options.only:
                workloads = [w for w in workloads if w.name in options.only]
            series: dict[tuple[str, str, int], Series] = {}
            drains: list[float] = []
            updates_base = 0
            for workload in workloads:
                if isinstance(workload, VoteWorkload):
                    updates_base = (await driver.stats()).get("updates", 0)
                targets: list[Target] = [("echo", echo_url, echo.pid), ("bot", bot_url, bot.pid)]
                if stock is not None and workload.name in STOCK_COMPARED:
                    targets.append(("stock", stock_url, stock.pid))
                if plain is not None and workload.name in ENCRYPTION_COMPARED:
                    targets.append(("plain", plain_url, plain.pid))
                if agents is not None and workload.name in AGENTS_COMPARED:
                    targets.append(("agents", agents_url, agents.pid))
                drains += await run_rounds(driver, workload, targets, options, series, updates_base)
                report.setdefault("rss_after_mib", {})[workload.name] = _rss_now_and_peak(bot.pid)
            vote_wl = next((w for w in workloads if isinstance(w, VoteWorkload)), None)
            status_wl = next((w for w in workloads if isinstance(w, StatusWorkload)), None)
            if vote_wl is not None and status_wl is not None and not options.profile:  # py-spy's pid, not the bot's
                report["loop"] = await loop_phase(driver, bot, bot_url, probe_path, vote_wl, status_wl,
                                                  options.seconds, updates_base)
                report.setdefault("rss_after_mib", {})["loop"] = _rss_now_and_peak(bot.pid)
            if vote_wl is not None:
                updates_done = (await driver.stats()).get("updates", 0) - updates_base
                report["card_updates"] = {"votes_recorded": vote_wl.recorded, "updates_delivered": updates_done,
                                          "max_drain_s": round(max(drains, default=0.0), 2)}
            mem = proc_status(bot.pid)
            report["rss_mib"] = {"bot_peak": round(mem.get("VmHWM", 0) / MIB, 1),
                                 "bot_now": round(mem.get("VmRSS", 0) / MIB, 1),
                                 "echo_peak": round(proc_status(echo.pid).get("VmHWM", 0) / MIB, 1)}
            report["series"] = {f"{w}/{t}/c{c}": _series_json(s) for (w, t, c), s in series.items()}
            for extra in (stock, plain, agents):
                if extra is not None:
                    extra.stop()
            for proc in (bot, echo):
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} died (exit status {proc.popen.returncode}):\n{proc.tail(40)}")
            bot.stop()
            larger = dataclasses.replace(options, rounds=min(options.rounds, LARGER_PHASE_ROUNDS))
            unreachable = postgres_unreachable(options.postgres) if options.postgres else None
            if unreachable:
                report["postgres_skipped"] = unreachable
                log(f"PostgreSQL skipped: {unreachable}")
            elif options.postgres:  # the vote and dialog workloads on PostgreSQL, one process then two
                report["postgres"] = await postgres_phase(larger, session, driver, workdir, service_url,
                                                          ("echo-pg", echo_url, echo.pid), now, procs, series)
            if options.scale:  # the same workloads on a larger database: how each figure grows
                report["scale"] = await scale_phase(larger, session, driver, workdir, service_url,
                                                    ("echo-scale", echo_url, echo.pid), now, procs, series)
            report["series"] = {f"{w}/{t}/c{c}": _series_json(s) for (w, t, c), s in series.items()}
            echo.stop()

            # ---- turns while the database is locked ---------------------------------------------------
            if not options.only or "locked" in options.only:
                report["locked"] = await locked_phase(session, driver, workdir, service_url, procs)

            # ---- 1,000 reminders fall due at once ---------------------------------------------------
            if options.reminders:
                report["reminders"] = await reminder_phase(options, session, driver, workdir, database_url,
                                                           service_url, seed, procs)
                failures += report["reminders"].pop("_failures", [])

        verdicts = budgets(report, series)
        report["budgets"] = verdicts
        print_report(report, series, seed)
        if options.json_path:
            Path(options.json_path).write_text(json.dumps(report, indent=2, default=str))
        errors = sum(s.errors for s in series.values())
        if errors:
            failures.append(f"{errors} turns failed")
        for line in failures:
            print(f"BENCHMARK ERROR: {line}")
        failed_budgets = [v for v in verdicts if not v["pass"]]
        if failures or (options.strict and failed_budgets):
            return 1
        return 0
    finally:
        for proc in reversed(procs):
            proc.stop()
        if options.keep:
            print(f"(kept {workdir})")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


async def scale_phase(options: Options, session: Any, driver: Driver, workdir: Path, service_url: str,
                      echo: Target, now: datetime, procs: list[Proc],
                      series: dict[tuple[str, str, int], Series]) -> dict[str, Any]:
    """The start-ups, the workloads and the event loop's holds again on a database of `options.scale`
    cases (the same open cases; the rest closed, as years of a hosted service pile up), in rounds
    alternating with the echo bot's (kept apart as "echo-scale")."""
    from tests.support import activities as A

    database_url = f"sqlite:///{workdir / 'scale.db'}"
    log(f"scale: seeding {options.scale:,} cases ({options.open_cases} open) ...")
    seed = await seed_database(database_url, service_url, total=options.scale, open_cases=options.open_cases,
                               now=now, rng=random.Random(options.seed))
    synced = time.perf_counter()
    os.sync()  # the ~2 GiB just written, on disk before anything is timed (as after the first seeding)
    log(f"scale: seeded in {seed.seconds:.1f} s, on disk {time.perf_counter() - synced:.1f} s later")
    port = free_port()
    probe = workdir / "loop-probe-scale.json"
    startups = []
    for attempt in range(options.startups):
        bot, startup = await start_bot(session, workdir, port, database_url, service_url, sdk_stock=False,
                                       name=f"bot-scale-{attempt + 1}", extra_env={"LOOP_PROBE_FILE": str(probe)})
        procs.append(bot)
        startups.append(round(startup, 3))
        log(f"scale: first successful turn {startup:.2f} s after start")
        if attempt < options.startups - 1:
            bot.stop()
    try:
        url = f"http://127.0.0.1:{port}/api/messages"
        status, body, _ = await driver.post(url, A.channel_message(service_url, A.PAT, "use this channel for the panel"))
        if status not in (200, 201):
            raise RuntimeError(f"binding the panel channel failed: {status} {body[:200]!r}")
        targets: list[Target] = [echo, ("scale", url, bot.pid)]
        votes = VoteWorkload(service_url, seed.referred, [database_url])
        status_wl = StatusWorkload(service_url)
        updates_base = (await driver.stats()).get("updates", 0)
        for workload in (DialogWorkload(service_url, now.astimezone(LONDON).date()), votes, status_wl):
            if not options.only or workload.name in options.only:
                await run_rounds(driver, workload, targets, options, series, updates_base)
        loop = None
        if not options.only or {"vote", "status"} <= options.only:
            loop = await loop_phase(driver, bot, url, probe, votes, status_wl, options.seconds, updates_base)
        return {"cases": options.scale, "seed_s": round(seed.seconds, 1),
                "db_mib": round((workdir / "scale.db").stat().st_size / MIB, 1),
                "startup_s": round(statistics.median(startups), 3), "startups_s": startups,
                "rss_peak_mib": round(proc_status(bot.pid).get("VmHWM", 0) / MIB, 1), "loop": loop}
    finally:
        bot.stop()


def print_scale_comparison(report: dict[str, Any], series: dict[tuple[str, str, int], Series]) -> None:
    """How each figure grows from the main run's cases to the scale run's."""
    sc = report["scale"]
    cases = sum(report["seed"]["by_status"].values())
    rows: list[tuple[str, float, float]] = [
        ("database, MiB", report["seed"]["db_mib"], sc["db_mib"]),
        ("start-up to the first turn, s", report["startup_s"], sc["startup_s"]),
        ("peak RSS, MiB", report["rss_mib"]["bot_peak"], sc["rss_peak_mib"]),
    ]
    for w in ("dialog", "vote", "status"):
        for c in (1, 8):
            if (w, "bot", c) in series and (w, "scale", c) in series:
                small, large = series[(w, "bot", c)], series[(w, "scale", c)]
                echo_small, echo_large = series[(w, "echo", c)], series[(w, "echo-scale", c)]
                rows.append((f"{w} c={c} turns/s", small.throughput, large.throughput))
                rows.append((f"{w} c={c} ratio to echo", small.throughput / echo_small.throughput,
                             large.throughput / echo_large.throughput))
                rows.append((f"{w} c={c} p95, ms", small.pct(95), large.pct(95)))
                rows.append((f"{w} c={c} CPU per turn, ms", small.cpu_ms_per_turn, large.cpu_ms_per_turn))
    for label, loop in (("status's longest loop hold, ms CPU", report.get("loop")), ):
        if loop and sc.get("loop"):
            rows.append((label, loop["status_beside_votes"]["kinds"].get("personal", {}).get("max_ms", 0.0),
                         sc["loop"]["status_beside_votes"]["kinds"].get("personal", {}).get("max_ms", 0.0)))
    print()
    print(f"Scale: {cases:,} -> {sc['cases']:,} cases (seeded in {sc['seed_s']} s), same run:")
    for label, small, large in rows:
        growth = f"x{large / small:.2f}" if small else "-"
        print(f"  {label:<34} {small:9.2f} -> {large:9.2f}  {growth}")


def postgres_unreachable(url: str) -> str | None:
    """Why the PostgreSQL rounds cannot run (no server answers at `url`), or None."""
    import psycopg

    try:
        psycopg.connect(url, autocommit=True, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"no PostgreSQL server answered at {url} ({type(error).__name__}); give one with --postgres URL"
    return None


async def postgres_phase(options: Options, session: Any, driver: Driver, workdir: Path, service_url: str,
                         echo: Target, now: datetime, procs: list[Proc],
                         series: dict[tuple[str, str, int], Series]) -> dict[str, Any]:
    """The vote and dialog workloads on a fresh PostgreSQL database seeded like the SQLite one:
    against one bot process, then against two on the same database with the clients spread
    across both, in rounds alternating with the echo bot's (kept apart from the SQLite rounds'
    as "echo-pg", so the SQLite budgets keep their own)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.support import activities as A

    admin = psycopg.connect(options.postgres, autocommit=True, connect_timeout=5)
    name = f"rr_bench_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(options.postgres).set(database=name).render_as_string(hide_password=False)
    started: list[Proc] = []
    try:
        log(f"seeding {options.cases:,} cases on PostgreSQL ({name}) ...")
        seed = await seed_database(url, service_url, total=options.cases, open_cases=options.open_cases, now=now,
                                   rng=random.Random(options.seed))
        log(f"seeded PostgreSQL in {seed.seconds:.1f} s")
        urls, pids, startups = [], [], []
        for n in (1, 2):
            port = free_port()
            proc, startup = await start_bot(session, workdir, port, url, service_url, sdk_stock=False,
                                            name=f"bot-pg-{n}")
            procs.append(proc)
            started.append(proc)
            startups.append(round(startup, 3))
            urls.append(f"http://127.0.0.1:{port}/api/messages")
            pids.append(proc.pid)
        status, body, _ = await driver.post(urls[0], A.channel_message(service_url, A.PAT,
                                                                       "use this channel for the panel"))
        if status not in (200, 201):
            raise RuntimeError(f"binding the panel channel failed on PostgreSQL: {status} {body[:200]!r}")
        targets: list[Target] = [echo, ("pg", urls[0], pids[0]), ("pg2", urls, pids)]
        workloads: list[Workload] = [DialogWorkload(service_url, now.astimezone(LONDON).date()),
                                     VoteWorkload(service_url, seed.referred, [url])]
        for workload in workloads:
            if options.only and workload.name not in options.only:
                continue
            await run_rounds(driver, workload, targets, options, series, (await driver.stats()).get("updates", 0))
        return {"seed_s": round(seed.seconds, 1), "startups_s": startups,
                "rss_peak_mib": [round(proc_status(p).get("VmHWM", 0) / MIB, 1) for p in pids]}
    finally:
        for proc in started:
            proc.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def print_postgres_comparison(report: dict[str, Any], series: dict[tuple[str, str, int], Series]) -> None:
    """SQLite and PostgreSQL side by side: turns/s, p95 and the bots' CPU per turn (for two
    processes, their CPU together)."""
    rows = [(w, c) for w in ("dialog", "vote") for c in (1, 8) if (w, "pg", c) in series and (w, "bot", c) in series]
    if not rows:
        return
    pg = report["postgres"]
    print()
    print(f"PostgreSQL (seeded in {pg['seed_s']} s; start-ups {pg['startups_s']} s; peak RSS {pg['rss_peak_mib']} MiB), "
          "beside SQLite, same run:")
    header = (f"  {'workload':<8} {'c':>2} | {'sqlite/s':>8} {'p95':>6} {'cpu':>6} | {'pg 1/s':>7} {'p95':>6} "
              f"{'cpu':>6} | {'pg 2/s':>7} {'p95':>6} {'cpu':>6} | {'echo/s':>7}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for w, c in rows:
        cells = []
        for target in ("bot", "pg", "pg2"):
            x = series[(w, target, c)]
            cells.append(f"{x.throughput:{8 if target == 'bot' else 7}.1f} {x.pct(95):6.1f} {x.cpu_ms_per_turn:6.2f}")
        print(f"  {w:<8} {c:>2} | " + " | ".join(cells) + f" | {series[(w, 'echo-pg', c)].throughput:7.1f}")
    print("  (p95 and CPU per turn in ms; pg 2 = two bot processes on one database, clients spread across both, "
          "CPU of both per turn)")


async def locked_phase(session: Any, driver: Driver, workdir: Path, service_url: str,
                       procs: list[Proc]) -> dict[str, Any]:
    """Turns while another connection holds the SQLite write lock for longer than a turn may
    take (a backup, a long migration, another program): each should be answered "busy" within
    the turn budget — the invoke response for Action.Execute, a message for typed commands and
    Action.Submit — and, once the lock goes, a turn should be answered as usual. Its own bot
    process on a fresh database (the lock does not depend on the data)."""
    import sqlite3

    from bot.adapters.db.database import Database
    from tests.support import activities as A

    path = workdir / "locked.db"
    database_url = f"sqlite:///{path}"
    db = Database(database_url)
    await db.migrate()
    await db.dispose()
    port = free_port()
    bot, _ = await start_bot(session, workdir, port, database_url, service_url, sdk_stock=False, name="bot-locked")
    procs.append(bot)
    url = f"http://127.0.0.1:{port}/api/messages"
    kinds = [
        ("invoke", lambda: A.invoke(service_url, A.RILEY, "chat.refer", {"verb": "chat.refer"})),
        ("typed", lambda: A.message(service_url, A.RILEY, "refer")),
        ("submit", lambda: A.submit(service_url, A.RILEY, {"verb": "form.resume", "action": "form.resume"})),
    ]
    took: list[float] = []
    statuses: Counter[str] = Counter()
    for _ in range(LOCKED_ROUNDS):
        locker = sqlite3.connect(path, timeout=5, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            answers = await asyncio.gather(*(driver.post(url, kinds[i % len(kinds)][1]())
                                             for i in range(LOCKED_TURNS)))
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        for i, (status, body, seconds) in enumerate(answers):
            kind = kinds[i % len(kinds)][0]
            took.append(seconds)
            busy = status == 200 and (kind != "invoke" or b"The system is busy" in body)
            statuses[f"{kind} busy" if busy else f"{kind} {status}"] += 1
    # the typed commands and Action.Submit presses were told in a message each
    told = [a for a in await driver.sent_to(A.RILEY.chat)
            if str(a.get("activity", {}).get("text", "")).startswith("The system is busy")]
    statuses["busy messages sent"] = len(told)
    status, body, after = await driver.post(url, A.invoke(service_url, A.RILEY, "chat.refer", {"verb": "chat.refer"}))
    bot.stop()
    ordered = sorted(took)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    result = {"turns": len(took), "p95_s": round(p95, 2), "max_s": round(ordered[-1], 2), "answers": dict(statuses),
              "after_release_ok": status == 200 and b"The system is busy" not in body,
              "after_release_s": round(after, 3)}
    log(f"locked database: {result}")
    return result


BUDGET_REMINDERS_S = 30.0  # 1,000 reminders due at once, all delivered to their owners, from the bot's start
# The escalations among them are posts in case threads of the one panel channel, which Teams paces as one
# thread (60 per 30 s): they are judged against the soonest that pace allows, with this much to spare
# for the injected 429s' Retry-After and the pacer's rounding.
ESCALATION_SLACK_S = 5.0


def reminders_in(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(case reference, step) of each reminder a card carries, alone or as a digest's section
    (tests/support/reminders.py): the step is its Mark done button's deadline id, or its headline
    for a step recorded on another card."""
    from tests.support.harness import texts, walk
    from tests.support.reminders import cards_of

    found = []
    for one in cards_of(card):
        lines = texts(one).splitlines()
        steps = [str(e["data"]["step"]) for e in walk(one) if e.get("type") == "Action.Execute"
                 and e.get("verb") == "deadline.done" and "step" in e.get("data", {})]
        found.append((lines[0].split(" · ")[1], steps[0] if steps else lines[1].split(":")[0]))
    return found


def is_escalation(card: dict[str, Any]) -> bool:
    """The post in a case's thread that records a step became overdue (cards/clock_cards.py)."""
    from tests.support.harness import texts

    return texts(card).startswith("Escalated · ")


def _headline(activity: dict[str, Any]) -> str:
    """A post's first words (its card's first text, else its text): what kind of post it was."""
    from tests.support.harness import texts

    card = _card_of(activity)
    return (texts(card) if card else activity.get("text") or "")[:60]


def soonest_last_post(posts: int, limits: tuple[tuple[float, int], ...]) -> float:
    """Seconds from a thread's first post to its last when `posts` go as fast as Teams' per-thread
    limits allow (each (window seconds, most posts) pair): the floor under a burst of escalations
    in one channel, which no pacing can beat (64 posts under 8 per 2 s and 60 per 30 s: 30 s)."""
    times: list[float] = []
    for i in range(posts):
        at = times[-1] if times else 0.0
        for window, most in limits:
            if i >= most:
                at = max(at, times[i - most] + window)
        times.append(at)
    return times[-1] if times else 0.0


def posts_by_place(posts: list[dict[str, Any]], started: float) -> dict[str, dict[str, float]]:
    """How many posts went to the panel channel (escalations, in the cases' threads) and to personal
    chats, and when the last of each arrived (seconds from the bot's start): which one set the time."""
    places: dict[str, dict[str, float]] = {}
    for post in posts:
        if post["kind"] not in ("send", "reply", "create"):
            continue
        place = places.setdefault("channel" if "@thread" in post["conversation_id"] else "personal",
                                  {"posts": 0, "last_s": 0.0})
        place["posts"] += 1
        place["last_s"] = round(max(place["last_s"], post["at"] - started), 1)
    return places


def swept_at(log: Path, started_wall: float) -> float | None:
    """When the bot's sweep had recorded the due reminders (its log line), in seconds from its start."""
    for line in log.read_text(errors="replace").splitlines():
        if '"reminders recorded"' in line:
            with contextlib.suppress(ValueError, KeyError):
                return round(datetime.fromisoformat(json.loads(line)["at"]).timestamp() - started_wall, 1)
    return None


async def reminder_phase(options: Options, session: Any, driver: Driver, workdir: Path, database_url: str,
                         service_url: str, seed: SeedInfo, procs: list[Proc]) -> dict[str, Any]:
    """The bot was down when `n` reminders fell due: rewind them to "due, not yet posted",
    start the bot, and time their delivery, each to its owners' personal chats (several due for
    one person at once as one digest), while the connector enforces every Teams limit (per
    thread 7/1 s, 8/2 s, 60/30 s, 1,800/h; per tenant 50/s), counts each request over one as a
    violation, and refuses some sends with 429 + Retry-After besides."""
    from sqlalchemy import delete, func, select, update

    from bot.adapters.db import schema as t
    from bot.adapters.db.database import Database
    from tests.support.fake_connector import TEAMS_THREAD_LIMITS

    n = min(options.reminders, len(seed.candidates))
    out: dict[str, Any] = {"requested": options.reminders, "due": n, "_failures": []}
    if n < options.reminders:
        out["_failures"].append(f"only {n} reminders could fall due (seed more open cases)")
    chosen = random.Random(options.seed + 1).sample(seed.candidates, n)
    keys = [c.key for c in chosen]
    db = Database(database_url)
    async with db.write() as conn:
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            await conn.execute(delete(t.reminders).where(t.reminders.c.key.in_(part)))
            await conn.execute(delete(t.outbox).where(t.outbox.c.key.in_(part)))
        for c in chosen:
            await conn.execute(update(t.deadlines).where(t.deadlines.c.id == c.deadline_id)
                               .values(last_reminder_at=c.previous_at, next_reminder_at=c.slot_at))

    async def remaining() -> tuple[int, int]:
        """(chosen reminders not yet recorded as sent, reminder rows still to deliver)."""
        unsent = 0
        async with db.read() as conn:
            for start in range(0, len(keys), 500):
                unsent += (await conn.execute(select(func.count()).select_from(t.reminders).where(
                    t.reminders.c.key.in_(keys[start:start + 500]), t.reminders.c.sent_at.is_not(None)))).scalar_one()
            waiting = (await conn.execute(select(func.count()).select_from(t.outbox).where(
                t.outbox.c.kind == "reminder", t.outbox.c.status.not_in(("sent", "failed"))))).scalar_one()
        return n - unsent, waiting

    async with session.post(f"{service_url}_clear") as response:
        await response.read()
    await driver.faults({"reset": True})
    await driver.faults({"teams_limits": True, "reply_chains_together": True})
    injected = 5
    await driver.faults({"fail_next": 5, "status": 429, "retry_after": 1, "route_kind": "send"})

    port = free_port()
    phase_started = datetime.now(UTC) - timedelta(seconds=1)
    log(f"restarting the bot with {n} reminders due (Teams: per thread {TEAMS_PER_SECOND}/s, "
        f"{TEAMS_PER_2_SECONDS} per 2 s, {TEAMS_PER_30_SECONDS} per 30 s; per tenant 50/s) ...")
    bot, startup = await start_bot(session, workdir, port, database_url, service_url, sdk_stock=options.sdk_stock,
                                   name="bot-reminders", profile=options.profile)
    procs.append(bot)
    started = bot.started
    started_wall = time.time() - (time.perf_counter() - started)
    last_fault = time.perf_counter()
    while True:
        unsent, waiting = await remaining()
        if not unsent and not waiting:
            break
        if not bot.alive():
            raise RuntimeError(f"the bot died while sending reminders (exit status {bot.popen.returncode}):\n"
                               f"{bot.tail(40)}")
        if time.perf_counter() - started > max(120, n * 0.5):
            out["_failures"].append(f"{unsent}/{n} reminders not delivered in time ({waiting} rows waiting)")
            break
        if time.perf_counter() - last_fault > 5 and injected < 11:  # a few more refusals along the way (twice)
            await driver.faults({"fail_next": 3, "status": 429, "retry_after": 2, "route_kind": "send"})
            injected += 3
            last_fault = time.perf_counter()
        await asyncio.sleep(0.2)
    took = time.perf_counter() - started
    await asyncio.sleep(3)  # anything sent twice would arrive now
    stats = await driver.stats()
    seen: Counter[tuple[str, str, str]] = Counter()  # (reference, headline, conversation)
    messages, times, escalated = 0, [], []
    posts = await driver.sent_to("")
    for post in posts:
        card = _card_of(post["activity"]) if post["kind"] in ("send", "reply", "create") else None
        found = reminders_in(card) if card else []
        if card is not None and is_escalation(card):
            escalated.append(post["at"])
        if found:
            messages += 1
            times.append(post["at"])
        for reference, headline in found:
            seen[(reference, headline, post["conversation_id"])] += 1
    doubled = sum(1 for v in seen.values() if v > 1)
    distinct = len({(r, h) for r, h, _ in seen})
    out["posts_by_place"] = posts_by_place(posts, started)
    (workdir / "reminder-posts.json").write_text(json.dumps(  # when they went, where (kept with --keep)
        [{"at_s": round(p["at"] - started, 2), "kind": p["kind"], "conversation": p["conversation_id"][-12:],
          "headline": _headline(p["activity"])} for p in posts]))
    out["swept_s"] = swept_at(bot.log, started_wall)
    statuses: Counter[str] = Counter()
    async with db.read() as conn:
        statuses.update(dict((await conn.execute(select(t.outbox.c.status, func.count()).where(
            t.outbox.c.kind == "reminder", t.outbox.c.created_at >= phase_started).group_by(t.outbox.c.status))).all()))
    unsent_rows, _ = await remaining()
    await db.dispose()
    times.sort()
    escalated.sort()
    out["owners_last_s"] = round(times[-1] - started, 1) if times else None
    out["escalations"] = {"posts": len(escalated)}
    if escalated:
        first = escalated[0] - started
        out["escalations"].update({
            "first_s": round(first, 1), "last_s": round(escalated[-1] - started, 1),
            "soonest_last_s": round(first + soonest_last_post(len(escalated), TEAMS_THREAD_LIMITS), 1)})
    times += escalated
    times.sort()
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    mem = proc_status(bot.pid)
    bot.stop()
    conversations = {c for _, _, c in seen}
    out.update({
        "startup_s": round(startup, 3), "seconds_from_start": round(took, 1), "dispatch_span_s": round(span, 1),
        "messages": messages, "deliveries": sum(seen.values()), "conversations": len(conversations),
        "distinct": distinct, "doubled": doubled, "reminder_rows_unsent": unsent_rows,
        "faults_injected": injected, "faulted": stats.get("faulted", 0), "throttled": stats.get("throttled", 0),
        "violations": stats.get("violations", 0), "violations_by_limit": stats.get("violations_by_limit", {}),
        "outbox_status": dict(statuses), "rss_peak_mib": round(mem.get("VmHWM", 0) / MIB, 1),
    })
    if doubled or distinct != n or unsent_rows:
        out["_failures"].append(f"reminders: {distinct} of {n} delivered, {doubled} to someone twice, "
                                f"{unsent_rows} not recorded as sent")
    return out


def _series_json(s: Series) -> dict[str, Any]:
    return {"turns": s.turns, "per_s": round(s.throughput, 1), "p50_ms": round(s.pct(50), 1),
            "p95_ms": round(s.pct(95), 1), "p99_ms": round(s.pct(99), 1), "errors": s.errors,
            "cpu_ms_per_turn": round(s.cpu_ms_per_turn, 2),
            "error_samples": [e for r in s.rounds for e in r.error_samples][:3]}


def _machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores {model}; Python {platform.python_version()}; {platform.system()}"


Verdict = Callable[[str, bool, str], None]


def budgets(report: dict[str, Any], series: dict[tuple[str, str, int], Series]) -> list[dict[str, Any]]:
    verdicts = []

    def verdict(name: str, ok: bool, detail: str) -> None:
        verdicts.append({"budget": name, "pass": bool(ok), "detail": detail})

    turn_verdicts(verdict, series, report.get("loop"), "bot", "echo", "")
    if "locked" in report:
        locked_verdict(report, verdict)
    if "seed" not in report:  # `--only locked`
        return verdicts
    cases = sum(report["seed"]["by_status"].values())
    rss = max(report["rss_mib"]["bot_peak"], report.get("reminders", {}).get("rss_peak_mib", 0))
    process_verdicts(verdict, cases, report["startup_s"], report["startups_s"], rss)
    scale = report.get("scale")
    if scale:
        at = f" with {scale['cases']:,} cases"
        turn_verdicts(verdict, series, scale.get("loop"), "scale", "echo-scale", at)
        process_verdicts(verdict, scale["cases"], scale["startup_s"], scale["startups_s"], scale["rss_peak_mib"])
    if "reminders" not in report:
        return verdicts
    r = report["reminders"]
    exact = r["distinct"] == r["due"] and not r["doubled"] and not r["reminder_rows_unsent"]
    owners_s = r["owners_last_s"] if r["owners_last_s"] is not None else math.inf
    verdict(f"{r['due']:,} reminders due at once: each delivered to its owners exactly once through 429s in <= "
            f"{BUDGET_REMINDERS_S:.0f} s, no Teams limit exceeded",
            exact and owners_s <= BUDGET_REMINDERS_S and not r["violations"],
            f"{r['distinct']} delivered ({r['doubled']} twice), the last to its owners {owners_s} s from the bot's "
            f"start, as {r['messages']} messages to {r['conversations']} chats ({r['deliveries']} reminder "
            f"deliveries); {r['violations']} requests over a Teams limit {r['violations_by_limit'] or ''}; "
            f"{r['faulted']} refused with 429 by fault, all retried")
    e = r["escalations"]
    if e["posts"]:
        verdict(f"their escalations in the case threads: each posted once, as soon as Teams' pace for one channel "
                f"allows (+{ESCALATION_SLACK_S:.0f} s)",
                exact and e["last_s"] <= e["soonest_last_s"] + ESCALATION_SLACK_S and not r["violations"],
                f"{e['posts']} posts in the panel channel from {e['first_s']} s to {e['last_s']} s; Teams' 8 per 2 s "
                f"and 60 per 30 s for the channel allow the last no sooner than {e['soonest_last_s']} s; all "
                f"delivered {r['seconds_from_start']} s from the bot's start")
    return verdicts


def turn_verdicts(verdict: Verdict, series: dict[tuple[str, str, int], Series], loop: dict[str, Any] | None,
                  bot: str, echo: str, at: str) -> None:
    """The budgets of the workloads, for the bot's series against the echo bot's of the same rounds."""
    def s(w: str, t: str, c: int) -> Series:
        return series[(w, t, c)]

    def have(w: str) -> bool:
        return all((w, t, c) in series for t in (bot, echo) for c in (1, 8))

    def throughput_verdict(workload: str, name: str) -> None:
        ratio = min(s(workload, bot, c).throughput / s(workload, echo, c).throughput for c in (1, 8))
        verdict(f"{name} throughput >= {BUDGET_THROUGHPUT_X:.1f}x echo (c=1 and c=8){at}", ratio >= BUDGET_THROUGHPUT_X,
                ", ".join(f"{s(workload, bot, c).throughput:.0f}/s vs {s(workload, echo, c).throughput:.0f}/s "
                          f"at c={c}" for c in (1, 8)) + f" (worst {ratio:.2f}x)")
        p95_bot, p95_echo = s(workload, bot, 8).pct(95), s(workload, echo, 8).pct(95)
        verdict(f"{name} p95 at c=8 <= {BUDGET_P95_X:.2f}x echo's{at}", p95_bot <= BUDGET_P95_X * p95_echo,
                f"{p95_bot:.1f} ms vs {p95_echo:.1f} ms ({p95_bot / p95_echo:.2f}x)")

    if have("vote"):
        throughput_verdict("vote", "vote invoke")
    if have("dialog"):
        throughput_verdict("dialog", "referral dialog step (vs echo message)")
    if have("status"):
        p95_bot, p95_echo = s("status", bot, 8).pct(95), s("status", echo, 8).pct(95)
        verdict(f"status p95 at c=8 <= echo's plain message p95{at}", p95_bot <= p95_echo,
                f"{p95_bot:.1f} ms vs {p95_echo:.1f} ms")
    held = (loop or {}).get("status_beside_votes")
    if held:
        status_hold = held["kinds"].get("personal", {}).get("max_ms", 0.0)
        verdict(f"status holds the event loop <= {BUDGET_LOOP_HOLD_MS:.0f} ms (status and votes at c=8){at}",
                status_hold <= BUDGET_LOOP_HOLD_MS, loop_hold_detail(held))


def _rss_now_and_peak(pid: int) -> list[float]:
    """The bot's resident set now and at its peak, in MiB: where in the run its memory grew."""
    mem = proc_status(pid)
    return [round(mem.get("VmRSS", 0) / MIB, 1), round(mem.get("VmHWM", 0) / MIB, 1)]


def process_verdicts(verdict: Verdict, cases: int, startup: float, startups: list[float], rss: float) -> None:
    startup_budget = BUDGET_STARTUP_S if cases <= 10_000 else BUDGET_STARTUP_LARGE_S
    verdict(f"start-up <= {startup_budget:.1f} s with {cases:,} cases", startup <= startup_budget,
            f"median {startup:.2f} s to the first successful turn (runs: {startups})")
    verdict(f"peak RSS <= {BUDGET_RSS_MIB:.0f} MiB with {cases:,} cases", rss <= BUDGET_RSS_MIB,
            f"{rss:.1f} MiB (VmHWM of the bot)")


def locked_verdict(report: dict[str, Any], verdict: Callable[[str, bool, str], None]) -> None:
    lk = report["locked"]
    answers = lk["answers"]
    all_busy = (sum(n for k, n in answers.items() if k.endswith(" busy")) == lk["turns"]
                and answers.get("busy messages sent", 0) == answers.get("typed busy", 0) + answers.get("submit busy", 0))
    verdict(f"turns while the database is locked: answered busy, p95 <= {BUDGET_LOCKED_P95_S} s",
            lk["p95_s"] <= BUDGET_LOCKED_P95_S and all_busy and lk["after_release_ok"],
            f"p95 {lk['p95_s']:.2f} s, max {lk['max_s']:.2f} s over {lk['turns']} turns {lk['answers']}; after the "
            f"lock {'answered' if lk['after_release_ok'] else 'NOT answered'} in {lk['after_release_s']:.2f} s")


async def run_locked_only(options: Options) -> int:
    """`--only locked`: just the locked-database measurement, with no seeding."""
    import aiohttp

    from tests.support import activities as A

    workdir = Path(tempfile.mkdtemp(prefix="rr-bench-"))
    procs: list[Proc] = []
    try:
        subprocess.run([sys.executable, "-m", "compileall", "-q", *PROJECT_PACKAGES], cwd=ROOT, check=True)
        connector, service_url = start_connector(workdir)
        procs.append(connector)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            driver = Driver(session, service_url)
            async with session.post(f"{service_url}_users", json={"users": [
                    {"id": p.mri, "name": p.name, "aadObjectId": p.aad} for p in (A.RILEY, A.PAT)]}) as response:
                await response.read()
            report = {"locked": await locked_phase(session, driver, workdir, service_url, procs)}
        report["budgets"] = budgets(report, {})
        print_verdicts(report)
        failed = [v for v in report["budgets"] if not v["pass"]]
        return 1 if options.strict and failed else 0
    finally:
        for proc in reversed(procs):
            proc.stop()
        if not options.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def print_report(report: dict[str, Any], series: dict[tuple[str, str, int], Series], seed: SeedInfo) -> None:
    print()
    print(f"Rapid Review bot benchmark — {report['date']} — {report['machine']}")
    print(f"SDK connector clients: {report['sdk']}")
    sd = report["seed"]
    print(f"Data: {sum(sd['by_status'].values()):,} cases {sd['by_status']}; rows {sd['rows']}; "
          f"database {sd['db_mib']} MiB; {sd['consistency']}")
    print()
    header = (f"{'workload':<8} {'c':>2} | {'bot/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'err':>4} {'cpu/turn':>8}"
              f" | {'echo/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'err':>4} {'cpu/turn':>8} | {'ratio':>5}")
    print(header)
    print("-" * len(header))
    for workload in ("dialog", "vote", "status"):
        for c in (1, 8):
            b, e = series.get((workload, "bot", c)), series.get((workload, "echo", c))
            if b is None or e is None:
                continue
            print(f"{workload:<8} {c:>2} | {b.throughput:7.1f} {b.pct(50):6.1f} {b.pct(95):6.1f} {b.pct(99):6.1f} "
                  f"{b.errors:4d} {b.cpu_ms_per_turn:6.2f}ms | {e.throughput:7.1f} {e.pct(50):6.1f} {e.pct(95):6.1f} "
                  f"{e.pct(99):6.1f} {e.errors:4d} {e.cpu_ms_per_turn:6.2f}ms | {b.throughput / e.throughput:5.2f}")
    print("(latencies in ms; turns/s over all rounds; cpu/turn = CPU time of that process per turn; "
          "echo for status = a plain message)")
    print_stock_comparison(series)
    print_encryption_comparison(series)
    print_agents_comparison(series)
    if "postgres" in report:
        print_postgres_comparison(report, series)
    if "postgres_skipped" in report:
        print(f"\nPostgreSQL: skipped: {report['postgres_skipped']}")
    if "scale" in report:
        print_scale_comparison(report, series)
    for (w, t, c), s in sorted(series.items()):
        samples = [x for r in s.rounds for x in r.error_samples]
        if samples:
            print(f"  errors {w}/{t}/c{c}: {samples[:3]}")
    lp = report.get("loop")
    if lp:
        print(f"Event loop held (longest single callback, loop thread CPU): votes at c=8 alone: "
              f"{loop_hold_detail(lp['votes_alone'])}")
        print(f"  votes and status at c=8 side by side: {loop_hold_detail(lp['status_beside_votes'])}; p95 status "
              f"{lp['beside']['status_p95_ms']} ms, vote {lp['beside']['vote_p95_ms']} ms, errors {lp['beside']['errors']}")
    cu = report.get("card_updates")
    if cu:
        print(f"Vote card updates through the outbox: {cu['updates_delivered']} of {cu['votes_recorded']} votes; "
              f"drained at most {cu['max_drain_s']} s after a round")
    r = report.get("reminders", {})
    print(f"Start-up to the first successful turn: median {report['startup_s']:.2f} s of {report['startups_s']} "
          f"({report.get('startup_cpu_s')} s of the bot's CPU) "
          f"(restart with the reminders due: {r.get('startup_s')} s)")
    print(f"Peak RSS: bot {report['rss_mib']['bot_peak']} MiB (reminder run {r.get('rss_peak_mib')}"
          f" MiB), echo bot {report['rss_mib']['echo_peak']} MiB")
    if report.get("rss_after_mib"):
        print("  bot RSS after each workload, now / peak MiB: "
              + ", ".join(f"{name} {now} / {peak}" for name, (now, peak) in report["rss_after_mib"].items()))
    if not r:
        print_verdicts(report)
        return
    print(f"Reminders: {r['due']} due at once -> {r['distinct']} delivered in {r['seconds_from_start']} s from the "
          f"bot's start, as {r['messages']} messages (one digest per person at a time) to {r['conversations']} "
          f"personal chats and case threads over {r['dispatch_span_s']} s; Teams limits exceeded "
          f"{r['violations']} times {r['violations_by_limit'] or ''}; 429s: {r['faulted']} injected; outbox rows "
          f"{r['outbox_status']}, reminders not recorded as sent {r['reminder_rows_unsent']}")
    places = "; ".join(f"{place}: {p['posts']} posts, the last {p['last_s']} s from the start"
                       for place, p in sorted(r.get("posts_by_place", {}).items()))
    print(f"Reminder posts by place: {places}; the sweep recorded them {r.get('swept_s')} s from the start; "
          f"the last to its owners {r.get('owners_last_s')} s; escalations {r.get('escalations')}")
    print_verdicts(report)


def print_stock_comparison(series: dict[tuple[str, str, int], Series]) -> None:
    """Before/after of the SDK fixes in bot/teams/ (sdk.py, notifier.py), measured in the same
    rounds: the same bot and database started by stock_sdk_bot.py, i.e. botbuilder's own per-activity
    connector and token clients, requests in threads, msrest's serialisation, continuation turns."""
    rows = [(w, c, series[(w, "stock", c)], series[(w, "bot", c)]) for w in STOCK_COMPARED for c in (1, 8)
            if (w, "stock", c) in series and (w, "bot", c) in series]
    if not rows:
        return
    print()
    print("SDK overhead fixed in bot/teams/ — before (stock_sdk_bot.py, same run) and after:")
    for w, c, before, after in rows:
        print(f"  {w:<6} c={c}: {before.throughput:6.1f} -> {after.throughput:6.1f} turns/s, p95 "
              f"{before.pct(95):6.1f} -> {after.pct(95):6.1f} ms, CPU/turn {before.cpu_ms_per_turn:5.2f} -> "
              f"{after.cpu_ms_per_turn:5.2f} ms, errors {before.errors}/{after.errors}")


def print_encryption_comparison(series: dict[tuple[str, str, int], Series]) -> None:
    """What encryption at rest costs, measured in the same rounds: the same bot on a copy of the
    database with ENCRYPT_AT_REST=false (identifiers in plain text) and as it runs (sealed under
    the case's data key; the seeded cases were stored in plain text, so the figures count sealing
    what each turn writes and opening what the run itself wrote)."""
    rows = [(w, c, series[(w, "plain", c)], series[(w, "bot", c)]) for w in ENCRYPTION_COMPARED for c in (1, 8)
            if (w, "plain", c) in series and (w, "bot", c) in series]
    if not rows:
        return
    print_heading("Encryption at rest: the same bot, same rounds, without (ENCRYPT_AT_REST=false, identifiers in "
                  "plain text) and with (as it runs):",
                  f"  {'workload':<8} {'c':>2} | {'plain/s':>7} {'sealed/s':>8} {'change':>7} | {'p95 plain':>9} "
                  f"{'p95 sealed':>10} | {'cpu plain':>9} {'cpu sealed':>10} | {'errors':>6}")
    for w, c, without, with_ in rows:
        print(f"  {w:<8} {c:>2} | {without.throughput:7.1f} {with_.throughput:8.1f} "
              f"{(with_.throughput / without.throughput - 1) * 100:+6.1f}% | {without.pct(95):7.1f}ms "
              f"{with_.pct(95):8.1f}ms | {without.cpu_ms_per_turn:7.2f}ms {with_.cpu_ms_per_turn:8.2f}ms | "
              f"{without.errors:>2}/{with_.errors:<3}")
    print("  (turns/s over all rounds; cpu = CPU time of that bot process per turn. Rounds alternate between the "
          "bots, so a busy machine slows both alike, but short runs are noisy: read the CPU per turn first.)")


def print_heading(title: str, header: str) -> None:
    """A side-by-side table's title, column header and rule."""
    print()
    print(title)
    print(header)
    print("  " + "-" * (len(header) - 2))


def print_agents_comparison(series: dict[tuple[str, str, int], Series]) -> None:
    """The two Teams edges side by side, measured in the same rounds: the same
    bot on a copy of the database answering on botbuilder (bot/teams/) and on the Microsoft 365
    Agents SDK (bot/agents/), with the echo bot (stock botbuilder) for scale."""
    rows = [(w, c, series[(w, "bot", c)], series[(w, "agents", c)], series[(w, "echo", c)])
            for w in AGENTS_COMPARED for c in (1, 8)
            if (w, "bot", c) in series and (w, "agents", c) in series and (w, "echo", c) in series]
    if not rows:
        return
    print_heading("The two Teams edges, same rounds: botbuilder (bot/teams/), the Agents SDK (bot/agents/, "
                  "TEAMS_EDGE=agents), and the echo bot:",
                  f"  {'workload':<8} {'c':>2} | {'bb/s':>6} {'agents/s':>8} {'echo/s':>6} | {'p95 bb':>8} "
                  f"{'p95 agents':>10} | {'cpu bb':>8} {'cpu agents':>10} | {'errors':>6}")
    for w, c, botbuilder, agents, echo in rows:
        print(f"  {w:<8} {c:>2} | {botbuilder.throughput:6.1f} {agents.throughput:8.1f} {echo.throughput:6.1f} | "
              f"{botbuilder.pct(95):6.1f}ms {agents.pct(95):8.1f}ms | {botbuilder.cpu_ms_per_turn:6.2f}ms "
              f"{agents.cpu_ms_per_turn:8.2f}ms | {botbuilder.errors:>2}/{agents.errors:<3}")


def copy_database(workdir: Path, name: str) -> str:
    """A copy of the seeded database (with its WAL) for a second bot compared in the same rounds."""
    import shutil

    for suffix in ("", "-wal", "-shm"):
        if (workdir / f"bench.db{suffix}").exists():
            shutil.copy(workdir / f"bench.db{suffix}", workdir / f"{name}.db{suffix}")
    return f"sqlite:///{workdir / f'{name}.db'}"


def print_verdicts(report: dict[str, Any]) -> None:
    print()
    for v in report["budgets"]:
        print(f"{'PASS' if v['pass'] else 'FAIL'}  {v['budget']}: {v['detail']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--echo-bot", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--open-cases", type=int, default=720, help="open cases among them (at most 936)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating echo/bot rounds per workload and concurrency")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one round")
    parser.add_argument("--reminders", type=int, default=1000, help="reminders falling due at once")
    parser.add_argument("--sdk-stock", action="store_true",
                        help="run the bot with botbuilder's stock per-turn clients (tests/bench/stock_sdk_bot.py): "
                             "the 'before'")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 2 s, 120 reminders, neither 100,000 cases nor PostgreSQL")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget fails")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, logs)")
    parser.add_argument("--json", dest="json_path", help="also write the figures as JSON here")
    parser.add_argument("--startups", type=int, default=3, help="start-ups timed (the median is the figure)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--only", default="", help="comma-separated workloads to run (dialog, vote, status, locked); "
                             "`--only locked` alone measures turns while the database is locked, nothing else")
    parser.add_argument("--no-stock-compare", dest="compare_stock", action="store_false",
                        help="skip the extra rounds against the bot with the SDK's stock clients (the 'before')")
    parser.add_argument("--compare-encryption", dest="compare_encryption", action="store_true",
                        help="(the default) also run the dialog and vote rounds against the bot with "
                             "ENCRYPT_AT_REST=false on a copy of the database, and print both side by side")
    parser.add_argument("--no-encryption-compare", dest="compare_encryption", action="store_false",
                        help="skip the rounds against the bot without encryption at rest")
    parser.set_defaults(compare_encryption=True)
    parser.add_argument("--profile", action="store_true",
                        help="sample the workload bot with py-spy (not a dependency) into <workdir>/bot-N.stacks;"
                             " its figures are then not comparable")
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="the PostgreSQL server the vote and dialog workloads also run on (a fresh database "
                             "created there and dropped after), one bot process then two; default $BENCH_POSTGRES or "
                             f"{DEFAULT_POSTGRES}, skipped with a line saying so when none answers; '' for none")
    parser.add_argument("--scale", type=int, default=None, metavar="CASES",
                        help="the cases of a second database the start-ups, workloads and budgets also run on, "
                             f"printing how each figure grows (default {SCALE_CASES:,}; 0 for none)")
    parser.add_argument("--no-agents-edge", dest="agents_edge", action="store_false",
                        help="skip the dialog and vote rounds against the bot on the Microsoft 365 Agents SDK edge "
                             "(TEAMS_EDGE=agents, on a copy of the database), which every run includes otherwise")
    args = parser.parse_args(argv)
    if args.echo_bot:
        echo_bot_main(args.echo_bot)
        return 0
    if args.quick:
        args.rounds, args.seconds, args.reminders, args.startups = 1, 2.0, min(args.reminders, 120), 1
    if args.postgres is None:  # a smoke run measures neither the larger database nor PostgreSQL unless asked
        args.postgres = "" if args.quick else os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES)
    if args.scale is None:
        args.scale = 0 if args.quick else SCALE_CASES
    options = Options(args.cases, args.open_cases, args.rounds, args.seconds, args.reminders, args.sdk_stock,
                      args.keep, args.json_path, args.seed, args.strict, args.startups,
                      frozenset(w for w in args.only.split(",") if w), args.profile, args.compare_stock,
                      args.compare_encryption, args.postgres, args.scale, args.agents_edge)
    if options.only == {"locked"}:
        return asyncio.run(run_locked_only(options))
    return asyncio.run(run(options))


if __name__ == "__main__":
    sys.exit(main())
