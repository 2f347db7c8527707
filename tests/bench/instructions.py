"""Instructions per turn, counted by valgrind's callgrind: the code of a git ref against the
working tree (README, Performance). A benchmark, not a test: `make bench-instructions`.

Why: on a shared or virtual machine the CPU time of one turn swings by 20-40 % from one minute
to the next, so `tests/bench/bench.py` cannot tell a change of a few per cent from the noise.
The number of instructions a turn executes barely moves (two identical bots agree within 1 %),
so a change is measured here, and its effect on turns/s in `make bench`.

For each of the two codes: a copy of one seeded database (`bench.seed_database`, 10,000 cases
by default), `python -m bot` started under `valgrind --tool=callgrind --instr-atstart=no`, a
warm-up, then instruction counting switched on (`callgrind_control -i on`) for `--seconds` of
the workload at concurrency 1 and the card updates that follow it, and the counts dumped.
Needs valgrind (not a dependency of the project: `apt-get install valgrind`); the bot runs about
50 times slower under it, so a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402 - the benchmark's seeding, connector, workloads and rounds

OPEN_CASES = 720  # as `make bench` seeds them
START_TIMEOUT_S = 600.0  # a start under valgrind takes a minute or more on 2 cores
WARM_UP_S = 15.0
SETTLE_S = 4.0  # the card updates after the last vote, still counted


@dataclass
class Counted:
    name: str
    turns: int
    errors: int
    instructions: int

    @property
    def per_turn(self) -> float:
        return self.instructions / max(1, self.turns)


def callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


def callgrind_totals(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


async def start_counted(
    session: Any, service_url: str, name: str, root: Path, database: Path, workdir: Path
) -> tuple[bench.Proc, str]:
    """`python -m bot` of the code at `root` under callgrind, counting nothing yet; and its URL."""
    import aiohttp

    from tests.support import activities as A

    port = bench.free_port()
    env = {**bench.bot_env(workdir, port, f"sqlite:///{database}"), "PYTHONPATH": str(root)}
    args = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={workdir}/{name}.callgrind",
        sys.executable,
        "-m",
        "bot",
    ]
    proc = bench.spawn(name, args, workdir, env, cwd=root)
    url = f"http://127.0.0.1:{port}/api/messages"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{name} exited during start-up:\n{proc.tail()}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.post(url, json=A.message(service_url, A.PAT, "help")) as response:
                await response.read()
                if response.status in (200, 201):
                    return proc, url
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{name} did not answer within {START_TIMEOUT_S:.0f} s:\n{proc.tail()}")


async def count(
    driver: bench.Driver, workload: bench.Workload, proc: bench.Proc, url: str, seconds: float, workdir: Path
) -> Counted:
    await bench.run_round(driver, url, workload, 1, WARM_UP_S, False, proc.pid)
    await asyncio.sleep(SETTLE_S)
    callgrind("-z", str(proc.pid))
    callgrind("-i", "on", str(proc.pid))
    result = await bench.run_round(driver, url, workload, 1, seconds, False, proc.pid)
    await asyncio.sleep(SETTLE_S)
    callgrind("-d", str(proc.pid))  # written by the bot's process a moment later, as <name>.callgrind.1
    dump = workdir / f"{proc.name}.callgrind.1"
    for _ in range(600):
        with contextlib.suppress(OSError, RuntimeError):
            if (instructions := callgrind_totals(dump)) > 0:
                break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"callgrind wrote no counts to {dump}")
    return Counted(proc.name, len(result.latencies), result.errors, instructions)


async def run(base: str, workload_name: str, seconds: float, cases: int) -> int:
    import aiohttp

    workdir = Path(tempfile.mkdtemp(prefix="rr-instructions-"))
    procs: list[bench.Proc] = []
    base_root = workdir / "base"
    try:
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--force", str(base_root), base],
            cwd=bench.ROOT,
            check=True,
            capture_output=True,
        )
        connector, service_url = bench.start_connector(workdir)
        procs.append(connector)
        seeded = workdir / "seeded.db"
        now = datetime.now(UTC)
        bench.log(f"seeding {cases:,} cases ...")
        seed = await bench.seed_database(
            f"sqlite:///{seeded}",
            service_url,
            total=cases,
            open_cases=min(OPEN_CASES, cases // 10),
            now=now,
            rng=random.Random(1),
        )
        counted: list[Counted] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            driver = bench.Driver(session, service_url)
            await bench.register_people(session, service_url)
            for name, root in ((f"base ({base})", base_root), ("working tree", bench.ROOT)):
                database = workdir / f"{len(counted)}.db"
                shutil.copy(seeded, database)
                workload: bench.Workload = (
                    bench.VoteWorkload(service_url, seed.referred, [f"sqlite:///{database}"])
                    if workload_name == "vote"
                    else bench.DialogWorkload(service_url, now.astimezone(bench.LONDON).date())
                )
                bench.log(f"{name}: starting the bot under callgrind ...")
                proc, url = await start_counted(session, service_url, f"bot-{len(counted)}", root, database, workdir)
                procs.append(proc)
                result = await count(driver, workload, proc, url, seconds, workdir)
                result.name = name
                counted.append(result)
                proc.stop()
        print(f"\n{workload_name}: instructions per turn at concurrency 1 ({cases:,} cases, {seconds:g} s counted)")
        for c in counted:
            print(f"  {c.name:28} {c.per_turn / 1e6:8.3f} M  ({c.turns} turns, {c.errors} errors)")
        change = counted[1].per_turn / counted[0].per_turn - 1
        print(f"  working tree against {base}: {change:+.1%}")
        return 1 if any(c.errors or not c.turns for c in counted) else 0
    finally:
        for proc in reversed(procs):
            proc.stop()
        subprocess.run(["git", "worktree", "remove", "--force", str(base_root)], cwd=bench.ROOT, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the git ref the working tree is compared with")
    parser.add_argument("--workload", choices=("vote", "dialog"), default="vote")
    parser.add_argument("--seconds", type=float, default=30.0, help="of the workload counted")
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("needs valgrind (apt-get install valgrind): not found", file=sys.stderr)
        return 2
    return asyncio.run(run(args.base, args.workload, args.seconds, args.cases))


if __name__ == "__main__":
    sys.exit(main())
