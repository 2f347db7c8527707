"""`make audit-deps` (.ci/audit_deps.py): pip-audit's report judged so that an unreachable
vulnerability database is never read as a clean result. pip-audit is faked: no network."""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps", ROOT / ".ci" / "audit_deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


audit = _load()

UNREACHABLE = {"dependencies": [
    {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} (1.0)"}
    for name in ("aiohttp", "alembic", "sqlalchemy")], "fixes": []}
CLEAN = {"dependencies": [{"name": name, "version": "1.0", "vulns": []} for name in ("aiohttp", "alembic")],
         "fixes": []}
VULNERABLE = {"dependencies": [
    {"name": "aiohttp", "version": "3.14.5", "vulns": [
        {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["3.14.6"], "aliases": ["CVE-2026-0001"],
         "description": "..."}]},
    {"name": "alembic", "version": "1.0", "vulns": []}], "fixes": []}


def test_every_package_skipped_is_not_audited_even_though_pip_audit_exits_0():
    """What pip-audit did on this machine: 99 of 99 skipped, "No known vulnerabilities found", exit 0."""
    verdict = audit.judge(0, json.dumps(UNREACHABLE), "")
    assert verdict.code == audit.NOT_AUDITED == 2
    text = "\n".join(verdict.lines)
    assert "NOT AUDITED: 3 of 3" in text and "NOT a clean result" in text and "unreachable" in text


def test_one_skipped_package_is_enough_to_refuse_a_clean_result():
    report = {"dependencies": CLEAN["dependencies"] + UNREACHABLE["dependencies"][:1], "fixes": []}
    verdict = audit.judge(0, json.dumps(report))
    assert verdict.code == audit.NOT_AUDITED
    assert "1 of 3" in verdict.lines[0]


def test_every_package_audited_and_none_vulnerable_passes():
    verdict = audit.judge(0, json.dumps(CLEAN))
    assert verdict.code == audit.PASSED == 0
    assert verdict.lines == ["Audited all 2 locked packages: no known vulnerabilities."]


def test_a_vulnerability_fails_with_its_id_and_fix():
    verdict = audit.judge(1, json.dumps(VULNERABLE))
    assert verdict.code == audit.VULNERABLE == 1
    assert "VULNERABLE: aiohttp 3.14.5: GHSA-xxxx-yyyy-zzzz (CVE-2026-0001); fixed in: 3.14.6" in verdict.lines


@pytest.mark.parametrize("report", [None, "", "not json", json.dumps({"no": "dependencies"}),
                                    json.dumps({"dependencies": []})])
def test_no_report_or_a_strange_one_is_not_audited(report):
    assert audit.judge(1 if report is None else 0, report, "ConnectionError: boom").code == audit.NOT_AUDITED


def test_a_failing_exit_with_a_clean_looking_report_is_not_audited():
    assert audit.judge(1, json.dumps(CLEAN), "something broke").code == audit.NOT_AUDITED


def _fake_pip_audit(tmp_path: Path, report: dict | None, code: int) -> Path:
    """A stand-in pip-audit: writes `report` where --output says, prints the false clean line."""
    script = tmp_path / "pip-audit"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nargs = sys.argv[1:]\n"
        f"assert '--require-hashes' in args and '--disable-pip' in args and args[args.index('--format') + 1] == 'json'\n"
        f"report = {json.dumps(json.dumps(report)) if report is not None else 'None'}\n"
        "if report is not None:\n    open(args[args.index('--output') + 1], 'w').write(report)\n"
        f"print('No known vulnerabilities found')\nsys.exit({code})\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.parametrize(("report", "pip_code", "expected"), [
    (UNREACHABLE, 0, 2), (CLEAN, 0, 0), (VULNERABLE, 1, 1), (None, 1, 2)])
def test_main_runs_pip_audit_on_the_lock_and_exits_with_the_verdict(tmp_path, capsys, report, pip_code, expected):
    fake = _fake_pip_audit(tmp_path, report, pip_code)
    assert audit.main(["audit_deps.py", str(ROOT / "requirements.lock"), str(fake)]) == expected
    out = capsys.readouterr()
    if expected:
        assert out.err and "No known vulnerabilities found" not in out.out


def test_a_missing_pip_audit_is_not_audited(tmp_path, capsys):
    assert audit.main(["audit_deps.py", "requirements.lock", str(tmp_path / "absent")]) == audit.NOT_AUDITED
    assert "could not run" in capsys.readouterr().err
