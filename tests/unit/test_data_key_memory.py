"""The keyring keeps up to KEYS_KEPT unwrapped keys (bot/adapters/db/case_keys.py); each must cost
its secret's bytes, not a cipher object holding OpenSSL's context (2.7 KiB each, 11 MiB full)."""

from __future__ import annotations

import subprocess
import sys

from bot.adapters.db.case_keys import KEYS_KEPT

KEPT_FULL = f"""
import os, uuid
from bot.adapters.envelope import DataKey

def rss_kib():
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS")))

DataKey("warm", os.urandom(32)).seal("warm", "o", "f")
keys, before = [], rss_kib()
for _ in range({KEYS_KEPT}):
    key = DataKey(str(uuid.uuid4()), os.urandom(32))
    assert key.open(key.seal("text", "owner", "field"), "owner", "field") == "text"
    keys.append(key)
print(rss_kib() - before)
"""


def test_a_full_keyring_costs_its_secrets_not_a_cipher_per_key() -> None:
    grew_kib = int(subprocess.run([sys.executable, "-c", KEPT_FULL], check=True, capture_output=True, text=True).stdout)
    assert grew_kib < 3 * 1024, f"{KEYS_KEPT} kept keys took {grew_kib} KiB"
