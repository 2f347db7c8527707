"""Envelope encryption of identifiers at rest: the cipher, with nothing of the database.

Every identifying value is sealed with AES-256-GCM under a data key of its own case (a
random 96-bit nonce per value; the associated data names the case and the field, so a
sealed value copied to another case or column no longer opens). Data keys are stored only
wrapped (AES key wrap, RFC 3394) by a master key that is never in the database: with the
master key out of reach a copy of the database, its WAL or a dump holds no identifier;
with a case's data key destroyed, that case's identifiers are gone for good
(crypto-shredding). docs/data-protection.md says this for a data protection officer.

A sealed text reads `rr1.<data key id>.<base64 of nonce and ciphertext>`; a sealed JSON
value is `{"sealed": "rr1.…"}`. Anything else is a value written before encryption (or by
a development run with it switched off) and is read as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from bot.domain.json_text import MeasuredJson

PREFIX = "rr1."
SEALED_JSON = "sealed"
NONCE_BYTES = 12
KEY_BYTES = 32


class SealBroken(Exception):
    """A sealed value did not open: wrong key, or the value was altered or moved."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def decode_key(text: str, setting: str) -> bytes:
    """A 256-bit key given as base64 (standard or URL-safe) in a setting; ValueError naming
    the setting when it is anything else."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/") + "=" * (-len(cleaned) % 4),
                               validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{setting} must be 32 random bytes in base64 (44 characters), e.g. the output of "
                         "`python -c \"import os, base64; print(base64.b64encode(os.urandom(32)).decode())\"`.")
    return raw


def fingerprint(secret: bytes) -> str:
    """A master key's default id: a one-way fingerprint, so rotating to a new key gives it a
    new id without anyone having to name it (it reveals nothing usable about the key)."""
    return "sha256:" + hashlib.sha256(b"rapid-review master key id\x00" + secret).hexdigest()[:16]


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    secret: bytes = field(repr=False)

    def wrap(self, data_key: bytes) -> str:
        return _b64(aes_key_wrap(self.secret, data_key))

    def unwrap(self, wrapped: str) -> bytes:
        try:
            return aes_key_unwrap(self.secret, _unb64(wrapped))
        except (InvalidUnwrap, ValueError, binascii.Error) as error:
            raise SealBroken(f"a data key did not unwrap under master key {self.key_id}") from error


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def context(owner: str, field_name: str) -> bytes:
    """The associated data of one value: whose it is and which field it fills."""
    return f"{owner}\x1f{field_name}".encode()


class DataKey:
    """One case's (or one draft's) key, unwrapped, in memory only.

    The cipher is built at each use, not kept: an AESGCM object holds OpenSSL's cipher context
    from the moment it is made, about 2.7 KiB, and the keyring keeps up to KEYS_KEPT keys
    (bot/adapters/db/case_keys.py), one more for every new draft and personal chat: 11 MiB when
    full, in a process that runs for months. Building one costs about 1 µs."""

    __slots__ = ("key_id", "_secret")

    def __init__(self, key_id: str, secret: bytes) -> None:
        self.key_id = key_id
        self._secret = secret

    def seal(self, plaintext: str, owner: str, field_name: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._secret).encrypt(nonce, plaintext.encode("utf-8"), context(owner, field_name))
        return f"{PREFIX}{self.key_id}.{_b64(nonce + sealed)}"

    def open(self, token: str, owner: str, field_name: str) -> str:
        raw = _unb64(token.rsplit(".", 1)[1])
        try:
            return AESGCM(self._secret).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context(owner, field_name)).decode("utf-8")
        except InvalidTag as error:
            raise SealBroken(f"{field_name} of {owner} did not open: altered, or moved from elsewhere") from error

    def seal_json(self, value: Any, owner: str, field_name: str) -> dict[str, str]:
        # A body already written once (the answer to a button, bot/domain/json_text.py) is sealed as that text.
        text = value.text if isinstance(value, MeasuredJson) else json.dumps(value, separators=(",", ":"))
        return {SEALED_JSON: self.seal(text, owner, field_name)}


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX) and value.count(".") >= 2


def sealed_json_token(value: Any) -> str | None:
    """The token inside a sealed JSON value, or None for a plain one."""
    if isinstance(value, dict) and len(value) == 1 and is_sealed(value.get(SEALED_JSON)):
        return str(value[SEALED_JSON])
    return None


def key_id_of(token: str) -> str:
    return token[len(PREFIX):].split(".", 1)[0]
