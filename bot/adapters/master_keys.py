"""Where the master key comes from: the environment, or Azure Key Vault — never the repository.

- `MASTER_KEY` (base64 of 32 random bytes), with an optional `MASTER_KEY_ID`; during a
  rotation the old one stays in `MASTER_KEY_PREVIOUS` (and `MASTER_KEY_PREVIOUS_ID`) until
  `python -m bot admin keys rotate` has re-wrapped every case key.
- `KEY_VAULT_URL`: the secret `KEY_VAULT_SECRET` (default `rapid-review-master-key`) read with
  `DefaultAzureCredential` (managed identity in Azure). Its newest enabled version is the
  current master key and every other enabled version still opens keys wrapped under it, so a
  rotation is: add a new version, run `admin keys rotate`, then disable the old version.

Nothing configured: None. Local mode then keeps a development key in the database itself
(bot/adapters/db/case_keys.py), which is not protection at rest; anywhere else start-up stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.adapters.envelope import MasterKey, decode_key, fingerprint

DEFAULT_KEY_VAULT_SECRET = "rapid-review-master-key"  # noqa: S105 - the secret's name, not its value


class MasterKeyError(ValueError):
    """The master key settings cannot work; the message names the setting."""


@dataclass(frozen=True)
class MasterKeys:
    """The key new data keys are wrapped under, and older ones that still unwrap."""

    current: MasterKey
    previous: tuple[MasterKey, ...] = ()
    source: str = "environment"

    def by_id(self, key_id: str) -> MasterKey | None:
        return next((k for k in (self.current, *self.previous) if k.key_id == key_id), None)


def _env_key(value: str, key_id: str, setting: str) -> MasterKey:
    try:
        secret = decode_key(value, setting)
    except ValueError as error:
        raise MasterKeyError(str(error)) from error
    return MasterKey(key_id.strip() or fingerprint(secret), secret)


def from_environment(master_key: str, master_key_id: str = "", previous: str = "",
                     previous_id: str = "") -> MasterKeys | None:
    if not master_key.strip():
        if previous.strip():
            raise MasterKeyError("MASTER_KEY_PREVIOUS is set but MASTER_KEY is empty: set MASTER_KEY to the new "
                                 "master key (the previous one only opens keys not yet rotated).")
        return None
    current = _env_key(master_key, master_key_id, "MASTER_KEY")
    older = (_env_key(previous, previous_id, "MASTER_KEY_PREVIOUS"),) if previous.strip() else ()
    if older and older[0].key_id == current.key_id:
        raise MasterKeyError("MASTER_KEY_PREVIOUS has the same id as MASTER_KEY: give the new key its own "
                             "MASTER_KEY_ID (or leave both ids empty to use the keys' fingerprints).")
    return MasterKeys(current, older)


def _secret_client(vault_url: str) -> Any:  # azure.keyvault.secrets.SecretClient, imported only when used
    from azure.identity import DefaultAzureCredential  # type: ignore[import-untyped]
    from azure.keyvault.secrets import SecretClient  # type: ignore[import-untyped]

    return SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())


def from_key_vault(vault_url: str, secret_name: str = DEFAULT_KEY_VAULT_SECRET,
                   client_factory: Callable[[str], Any] = _secret_client) -> MasterKeys:
    """Every enabled version of the secret: the newest wraps, all of them unwrap."""
    name = secret_name or DEFAULT_KEY_VAULT_SECRET
    try:
        client = client_factory(vault_url)
        versions = [p for p in client.list_properties_of_secret_versions(name) if p.enabled]
        versions.sort(key=lambda p: p.created_on)
        keys = []
        for properties in versions:
            secret = client.get_secret(name, properties.version)
            keys.append(MasterKey(f"keyvault:{name}/{properties.version}",
                                  decode_key(secret.value or "", f"the Key Vault secret {name}")))
    except ValueError as error:
        raise MasterKeyError(str(error)) from error
    except Exception as error:  # noqa: BLE001 - any Azure failure stops start-up with the setting named
        raise MasterKeyError(f"KEY_VAULT_URL {vault_url}: the secret {name} could not be read "
                             f"({type(error).__name__}). Check the URL, the secret's name (KEY_VAULT_SECRET) and "
                             "that the bot's identity may get secrets.") from error
    if not keys:
        raise MasterKeyError(f"KEY_VAULT_URL {vault_url}: the secret {name} has no enabled version. Add one holding "
                             "32 random bytes in base64.")
    return MasterKeys(keys[-1], tuple(reversed(keys[:-1])), source="Azure Key Vault")
