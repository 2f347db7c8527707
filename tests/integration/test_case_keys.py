"""Data keys per case, wrapped by the master key (bot/adapters/db/case_keys.py), on SQLite and
PostgreSQL: crypto-shredding, values bound to their case and field, resumable rotation of the
master key (`python -m bot admin keys rotate`), the development key in local mode, the master
key's settings and Azure Key Vault, and SQLite's secure_delete."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text, update

from bot.adapters.db import schema as t
from bot.adapters.db.case_export import ERASED, SqlCaseRecords
from bot.adapters.db.case_keys import DEVELOPMENT_KEY_ROW, CaseKeyring, KeyDestroyed
from bot.adapters.db.database import Database
from bot.adapters.db.scope import Scope
from bot.adapters.envelope import MasterKey, SealBroken, is_sealed, sealed_json_token
from bot.adapters.master_keys import MasterKeyError, MasterKeys, from_key_vault
from bot.admin import main as admin
from bot.app import announce_keyring, keyring_for, sql_stores
from bot.domain.partnership import Partner
from bot.domain.votes import Vote, VoteChoice
from bot.services.ports import MeetingRecord
from bot.settings import ConfigError, Settings
from tests.integration.test_store import new_case

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY_A, KEY_B = os.urandom(32), os.urandom(32)
OLD, NEW = MasterKey("old", KEY_A), MasterKey("new", KEY_B)
CHILD = "Qxkvjz Keychild"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def open_db(url: str, master: MasterKeys | None) -> Database:
    db = Database(url, keyring=CaseKeyring(master))
    await db.migrate()
    return db


async def make_case(db: Database, referral_factory: Any, child: str = CHILD) -> str:
    new, event = new_case(referral_factory(child_name=child))
    stores = sql_stores(db, rng=random.Random())
    await stores.cases.create_case(new, event, [])
    async with stores.uow.begin() as tx:
        await tx.panel.save_vote(new.id, 1, Vote(partner=Partner.POLICE, choice=VoteChoice.RAPID_REVIEW,
                                                 rationale=f"{child} was hurt", voter_aad_id="a005",
                                                 voter_name="Dan Police", cast_at=NOW), replace=False)
        query_id = await tx.panel.add_query(new.id, 1, Vote(
            partner=Partner.HEALTH, choice=VoteChoice.QUERIES, rationale="-", question=f"Is {child} at home?",
            voter_aad_id="a006", voter_name="Nina Health", cast_at=NOW), NOW)
        await tx.panel.close_query(query_id, "answered", NOW, answer=f"{child} is in hospital")
    await stores.meetings.save(MeetingRecord(case_id=new.id, status="held", attempt=1, transaction_id="x",
                                             provider="offline", outcome={"rationale": f"About {child}"}), NOW)
    return new.id


async def read_case(db: Database, case_id: str) -> Any:
    stores = sql_stores(db)  # a fresh ReferralCache: read from the database
    summary = await stores.cases.get_summary_by_id(case_id)
    assert summary is not None
    return await stores.cases.get_case(summary.reference)


async def test_case_identifiers_are_sealed_and_open_again(database_url: str, referral_factory: Any) -> None:
    db = await open_db(database_url, MasterKeys(NEW))
    try:
        case_id = await make_case(db, referral_factory)
        async with db.read() as conn:
            raw = (await conn.execute(select(t.cases.c.referral, t.cases.c.id))).one()
            vote = (await conn.execute(select(t.votes.c.rationale))).scalar_one()
            query = (await conn.execute(select(t.queries.c.question, t.queries.c.answer))).one()
            outcome = (await conn.execute(select(t.meetings.c.outcome))).scalar_one()
            key = (await conn.execute(select(t.case_keys).where(t.case_keys.c.owner == case_id))).one()
        assert sealed_json_token(raw.referral) and sealed_json_token(outcome)
        assert is_sealed(vote) and is_sealed(query.question) and is_sealed(query.answer)
        assert CHILD not in repr([raw, vote, query, outcome, key])
        assert key.master_key_id == "new" and key.wrapped and key.destroyed_at is None

        db2 = await open_db(database_url, MasterKeys(NEW))  # another process, nothing in memory
        try:
            case = await read_case(db2, case_id)
            assert case.referral.children.children[0].name == CHILD
            state = await sql_stores(db2).panel.panel_state(case_id)
            assert state.votes[Partner.POLICE].rationale == f"{CHILD} was hurt"
            assert state.queries[0].question == f"Is {CHILD} at home?"
            assert state.queries[0].answer == f"{CHILD} is in hospital"
            assert (await sql_stores(db2).meetings.get(case_id)).outcome == {"rationale": f"About {CHILD}"}
            records = await SqlCaseRecords(Scope(db2)).rows_of(case_id)  # the DPO export: plain JSON
            assert records["cases"][0]["referral"]["children"]["children"][0]["name"] == CHILD
            assert records["votes"][0]["rationale"] == f"{CHILD} was hurt"
        finally:
            await db2.dispose()
    finally:
        await db.dispose()


async def test_a_destroyed_case_key_leaves_the_identifiers_unreadable(database_url: str,
                                                                      referral_factory: Any) -> None:
    db = await open_db(database_url, MasterKeys(NEW))
    try:
        case_id = await make_case(db, referral_factory)
        other = await make_case(db, referral_factory, "Qxzzzv Otherchild")
        stores = sql_stores(db)
        assert await stores.cases.destroy_case_key(case_id) is True
        assert await stores.cases.destroy_case_key(case_id) is False  # twice: nothing more to do
        for reader in (db, await open_db(database_url, MasterKeys(NEW))):  # this process and a fresh one
            with pytest.raises(KeyDestroyed):
                await read_case(reader, case_id)
            with pytest.raises(KeyDestroyed):
                await sql_stores(reader).panel.panel_state(case_id)
            with pytest.raises(KeyDestroyed):
                await sql_stores(reader).meetings.get(case_id)
            records = await SqlCaseRecords(Scope(reader)).rows_of(case_id)
            assert records["cases"][0]["referral"] == ERASED and records["votes"][0]["rationale"] == ERASED
            assert (await read_case(reader, other)).referral.children.children[0].name == "Qxzzzv Otherchild"
        async with db.read() as conn:
            key = (await conn.execute(select(t.case_keys).where(t.case_keys.c.owner == case_id))).one()
        assert key.wrapped is None and key.destroyed_at is not None
        with pytest.raises(KeyDestroyed):  # nothing is sealed for an erased case again
            async with sql_stores(db).uow.begin() as tx:
                await tx.panel.save_vote(case_id, 1, Vote(partner=Partner.HEALTH, choice=VoteChoice.RAPID_REVIEW,
                                                          rationale="late", voter_aad_id="a006",
                                                          voter_name="Nina Health", cast_at=NOW), replace=False)
    finally:
        await db.dispose()


async def test_a_sealed_value_moved_to_another_case_does_not_open(database_url: str, referral_factory: Any) -> None:
    db = await open_db(database_url, MasterKeys(NEW))
    try:
        first = await make_case(db, referral_factory)
        second = await make_case(db, referral_factory, "Qxjjjk Second")
        async with db.write() as conn:
            moved = (await conn.execute(select(t.cases.c.referral).where(t.cases.c.id == first))).scalar_one()
            await conn.execute(update(t.cases).where(t.cases.c.id == second).values(referral=moved))
            rationale = (await conn.execute(select(t.votes.c.rationale).where(t.votes.c.case_id == first))).scalar_one()
            await conn.execute(update(t.queries).where(t.queries.c.case_id == first).values(question=rationale))
        with pytest.raises(SealBroken):
            await read_case(db, second)
        with pytest.raises(SealBroken):  # same case, another field
            await sql_stores(db).panel.panel_state(first)
    finally:
        await db.dispose()


@dataclass(frozen=True)
class CrashingKey(MasterKey):
    """The new master key, in a process that dies after re-wrapping one data key."""

    def wrap(self, data_key: bytes) -> str:
        if CrashingKey.calls:
            raise RuntimeError("the process died")
        CrashingKey.calls.append(1)
        return super().wrap(data_key)


CrashingKey.calls = []  # type: ignore[attr-defined]


async def test_rotation_rewraps_every_key_and_carries_on_after_a_crash(database_url: str, referral_factory: Any,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    db = await open_db(database_url, MasterKeys(OLD))
    cases = [await make_case(db, referral_factory, f"Qxkk{n} Rotated") for n in "abc"]
    await db.dispose()

    CrashingKey.calls.clear()  # type: ignore[attr-defined]
    crashing = CaseKeyring(MasterKeys(CrashingKey("new", KEY_B), (OLD,)))
    db = Database(database_url, keyring=crashing)
    with pytest.raises(RuntimeError):
        await crashing.rotate(db)
    async with db.read() as conn:
        under = sorted((await conn.execute(select(t.case_keys.c.master_key_id))).scalars())
    await db.dispose()
    assert under == ["new", "old", "old"]  # the first re-wrap committed, the rest untouched

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MASTER_KEY", b64(KEY_B))
    monkeypatch.setenv("MASTER_KEY_ID", "new")
    monkeypatch.setenv("MASTER_KEY_PREVIOUS", b64(KEY_A))
    monkeypatch.setenv("MASTER_KEY_PREVIOUS_ID", "old")
    assert await asyncio.to_thread(admin, ["keys", "rotate"]) == 0
    assert "2 re-wrapped now, 1 already" in capsys.readouterr().out
    assert await asyncio.to_thread(admin, ["keys", "rotate"]) == 0  # again: nothing left to do
    assert "0 re-wrapped now, 3 already" in capsys.readouterr().out

    db = await open_db(database_url, MasterKeys(NEW))  # the old key can now be retired
    try:
        for n, case_id in zip("abc", cases, strict=True):
            assert (await read_case(db, case_id)).referral.children.children[0].name == f"Qxkk{n} Rotated"
    finally:
        await db.dispose()
    db = await open_db(database_url, MasterKeys(OLD))
    try:
        with pytest.raises(SealBroken):  # and the old one opens nothing any more
            await read_case(db, cases[0])
    finally:
        await db.dispose()


async def test_local_mode_keeps_a_development_key_in_the_database(database_url: str, referral_factory: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    keyring = keyring_for(Settings.model_validate({"database_url": database_url}))
    assert keyring.development
    with caplog.at_level(logging.WARNING):
        announce_keyring(keyring)
    assert "NOT protection at rest" in caplog.text
    db = Database(database_url, keyring=keyring)
    await db.migrate()
    case_id = await make_case(db, referral_factory)
    await db.dispose()
    looker = Database(database_url)
    try:
        async with looker.read() as conn:
            assert (await conn.execute(select(t.bot_state.c.key).where(
                t.bot_state.c.key == DEVELOPMENT_KEY_ROW))).first()
    finally:
        await looker.dispose()
    for _process in range(2):  # a restart, another process: the same key, from the database
        other = Database(database_url, keyring=keyring_for(Settings.model_validate({"database_url": database_url})))
        try:
            assert (await read_case(other, case_id)).referral.children.children[0].name == CHILD
        finally:
            await other.dispose()


def test_outside_local_mode_the_bot_does_not_start_without_a_master_key() -> None:
    production = {"app_id": "11111111-1111-1111-1111-111111111111", "app_password": "x", "app_tenant_id": "t"}
    with pytest.raises(ConfigError, match="MASTER_KEY is empty and KEY_VAULT_URL is not set"):
        keyring_for(Settings.model_validate(production))
    with pytest.raises(ConfigError, match="MASTER_KEY must be 32 random bytes"):
        keyring_for(Settings.model_validate({**production, "MASTER_KEY": "too-short"}))
    with pytest.raises(ConfigError, match="MASTER_KEY_PREVIOUS must be"):
        keyring_for(Settings.model_validate({**production, "MASTER_KEY": b64(KEY_A), "MASTER_KEY_PREVIOUS": "x"}))
    keyring = keyring_for(Settings.model_validate({**production, "MASTER_KEY": b64(KEY_A)}))
    assert keyring.master is not None and not keyring.development
    assert keyring.master.current.key_id.startswith("sha256:")  # a fingerprint when no id is given
    with pytest.raises(ConfigError, match="ENCRYPT_AT_REST"):
        Settings.model_validate({**production, "MASTER_KEY": b64(KEY_A), "ENCRYPT_AT_REST": "false"}).check()


@dataclass
class _Properties:
    version: str
    enabled: bool
    created_on: datetime


@dataclass
class _Secret:
    value: str


class FakeSecretClient:
    """Azure Key Vault's SecretClient, as bot/adapters/master_keys.py uses it."""

    def __init__(self, versions: dict[str, tuple[bytes, bool, int]]) -> None:
        self.versions = versions
        self.asked: list[tuple[str, str]] = []

    def list_properties_of_secret_versions(self, name: str) -> list[_Properties]:
        return [_Properties(v, enabled, datetime(2026, 1, day, tzinfo=UTC))
                for v, (_, enabled, day) in self.versions.items()]

    def get_secret(self, name: str, version: str) -> _Secret:
        self.asked.append((name, version))
        return _Secret(b64(self.versions[version][0]))


def test_key_vault_newest_enabled_version_wraps_and_older_ones_unwrap() -> None:
    client = FakeSecretClient({"v1": (KEY_A, True, 1), "v3": (os.urandom(32), False, 3), "v2": (KEY_B, True, 2)})
    keys = from_key_vault("https://vault.example", "rr-master", lambda url: client)
    assert keys.current == MasterKey("keyvault:rr-master/v2", KEY_B)
    assert keys.previous == (MasterKey("keyvault:rr-master/v1", KEY_A),)
    assert ("rr-master", "v3") not in client.asked  # a disabled version is never read

    def unreachable(url: str) -> Any:
        raise PermissionError("forbidden")

    with pytest.raises(MasterKeyError, match="KEY_VAULT_URL https://vault.example"):
        from_key_vault("https://vault.example", "rr-master", unreachable)
    with pytest.raises(MasterKeyError, match="no enabled version"):
        from_key_vault("https://vault.example", "rr-master", lambda url: FakeSecretClient({}))


async def test_sqlite_zeroes_deleted_content(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path / 'rr.db'}")
    try:
        for engine in (db.engine, db._write_engine):
            async with engine.connect() as conn:
                assert (await conn.execute(text("PRAGMA secure_delete"))).scalar_one() == 1
    finally:
        await db.dispose()


def test_bootstrap_refuses_production_without_a_master_key(tmp_path: Any) -> None:
    from bot.app import bootstrap

    settings = Settings.model_validate({"app_id": "11111111-1111-1111-1111-111111111111", "app_password": "x",
                                        "app_tenant_id": "t", "database_url": f"sqlite:///{tmp_path / 'rr.db'}"})
    with pytest.raises(ConfigError, match="MASTER_KEY is empty and KEY_VAULT_URL is not set"):
        bootstrap(settings)
    components = bootstrap(settings.model_copy(update={"master_key": b64(KEY_A), "master_key_id": "prod"}))
    assert components.db.keyring.master is not None and components.db.keyring.master.current.key_id == "prod"
