#!/usr/bin/env python3
"""Known vulnerabilities in the locked dependencies, with no false "clean" (`make audit-deps`).

pip-audit asks a vulnerability database about every package of the lock. When it cannot reach
that database (no network, a proxy that blocks it), it does not fail: it *skips* each package
("Dependency not found on PyPI and could not be audited") and still prints "No known
vulnerabilities found" with exit code 0. This wrapper reads pip-audit's JSON report instead and
passes only when every locked package was actually checked:

- exit 0: every package audited, no known vulnerability;
- exit 1: known vulnerabilities (each listed with its fix versions);
- exit 2: NOT AUDITED: pip-audit failed, wrote no report, or skipped any package (usually the
  database was unreachable) — never read this as clean; run it where the database can be reached.

Usage: audit_deps.py LOCKFILE [pip-audit executable] [extra pip-audit arguments...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PASSED, VULNERABLE, NOT_AUDITED = 0, 1, 2


@dataclass
class Verdict:
    code: int
    lines: list[str] = field(default_factory=list)


def judge(returncode: int, report_text: str | None, stderr: str = "") -> Verdict:
    """What a pip-audit run means: its exit code, its JSON report (None if it wrote none) and
    what it printed on stderr."""
    if not report_text:
        return Verdict(NOT_AUDITED, [
            f"NOT AUDITED: pip-audit exited {returncode} without a report. What it said:",
            *(f"  {line}" for line in stderr.strip().splitlines()[-15:])])
    try:
        report = json.loads(report_text)
        dependencies = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        return Verdict(NOT_AUDITED, [f"NOT AUDITED: pip-audit's report is not the JSON expected (exit {returncode})."])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = [d for d in dependencies if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    lines: list[str] = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            lines.append(f"VULNERABLE: {dep['name']} {dep.get('version', '?')}: {vuln.get('id', '?')}"
                         + (f" ({aliases})" if aliases else "") + f"; fixed in: {fixes}")
    if skipped:
        lines.append(f"NOT AUDITED: {len(skipped)} of {len(dependencies)} locked packages could not be checked, "
                     "so this is NOT a clean result.")
        reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
        lines += [f"  pip-audit's reason: {reason}" for reason in reasons]
        lines += [f"  e.g. {d['name']}" for d in skipped[:5]]
        if len(skipped) == len(dependencies):
            lines.append("  Every package was skipped: the vulnerability database was almost certainly unreachable "
                         "(no network, or a proxy blocking it). Run `make audit-deps` where it can be reached "
                         "(HTTPS_PROXY is honoured).")
        return Verdict(NOT_AUDITED, lines)
    if vulnerable:
        lines.append(f"{len(vulnerable)} of {len(audited)} locked packages have known vulnerabilities.")
        return Verdict(VULNERABLE, lines)
    if returncode != 0:
        return Verdict(NOT_AUDITED, [f"NOT AUDITED: pip-audit exited {returncode} although its report lists no "
                                     "vulnerability and no skipped package.",
                                     *(f"  {line}" for line in stderr.strip().splitlines()[-15:])])
    if not dependencies:
        return Verdict(NOT_AUDITED, ["NOT AUDITED: pip-audit's report lists no package at all."])
    return Verdict(PASSED, [f"Audited all {len(audited)} locked packages: no known vulnerabilities."])


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return NOT_AUDITED
    lock, executable, extra = argv[1], (argv[2] if len(argv) > 2 else "pip-audit"), argv[3:]
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [executable, "--requirement", lock, "--require-hashes", "--disable-pip", "--format", "json",
                   "--progress-spinner", "off", "--output", str(report), *extra]
        try:
            run = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own argv
        except OSError as error:
            verdict = Verdict(NOT_AUDITED, [f"NOT AUDITED: could not run {executable}: {type(error).__name__}"])
        else:
            text = report.read_text(encoding="utf-8") if report.exists() else None
            verdict = judge(run.returncode, text, run.stderr)
    print("\n".join(verdict.lines), file=sys.stderr if verdict.code else sys.stdout)
    return verdict.code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
