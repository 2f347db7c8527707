"""Stage what App Service runs into one folder (m365agents.yml's deploy step, before zipDeploy):
the code, config/ and requirements.txt — a copy of requirements.runtime.lock, so App Service's build
installs exactly the locked runtime packages, each checked against its sha256 hash.

    python infra/stage_deploy.py build/deploy
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("bot", "dialogs", "cards", "scheduler", "config")
FILES = ("pyproject.toml", "README.md")


def stage(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-*", ".env")
    for name in CODE:
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in FILES:
        shutil.copy2(ROOT / name, target / name)
    shutil.copy2(ROOT / "requirements.runtime.lock", target / "requirements.txt")
    if not (target / "config" / "partnership.toml").exists():
        print("warning: config/partnership.toml does not exist; the bot will not start until PARTNERSHIP_FILE "
              "names your partnership file (start from config/partnership.example.toml)", file=sys.stderr)


if __name__ == "__main__":
    stage(Path(sys.argv[1] if len(sys.argv) > 1 else "build/deploy"))
