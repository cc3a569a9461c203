"""The relational store: migrations on both databases, column types, constraints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from hub.audit import record_audit
from hub.db import (
    KeySafeCipher,
    KeySafeCipherError,
    downgrade_to_base,
    make_engine,
    make_sessionmaker,
    migration_heads,
    upgrade_to_head,
)
from hub.db.migrate import upgrade_to
from hub.db.models import AuditEntry, Contact, Device, Home, Resident, StoredEvent

CORE_TABLES = {
    "homes",
    "residents",
    "devices",
    "contacts",
    "users",
    "refresh_tokens",
    "revoked_tokens",
    "events",
    "audit_log",
}


def test_one_migration_head() -> None:
    assert len(migration_heads()) == 1


async def test_migrations_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables >= CORE_TABLES | {"alembic_version"}
        await downgrade_to_base(empty_database_url)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not tables & CORE_TABLES
        await upgrade_to_head(empty_database_url)
        await upgrade_to_head(empty_database_url)  # idempotent
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).one()
        assert version[0] == migration_heads()[0]
    finally:
        await engine.dispose()


async def test_sqlite_has_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/sub/dir/x.sqlite")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        make_engine("mysql+aiomysql://x@localhost/db")


async def test_home_resident_device_roundtrip(database_url: str) -> None:
    cipher = KeySafeCipher(Fernet.generate_key().decode())
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    seen = datetime(2026, 11, 23, 16, 0, tzinfo=timezone(timedelta(hours=1)))
    try:
        async with sessions() as session:
            home = Home(address="Carrer Gran 1, Barcelona", abss_area="BCN-07", lat=41.4, lon=2.17)
            home.set_key_safe_code(cipher, "4321")
            resident = Resident(
                home=home,
                name="Maria Puig",
                birth_date=date(1938, 5, 2),
                language="ca",
                lives_alone=True,
                consent={"share_with_family": True},
            )
            session.add_all(
                [
                    home,
                    resident,
                    Device(id="pendant-1", home=home, type="pendant", last_seen=seen),
                    Contact(resident=resident, name="Joan", phone="+34600000000", priority=1),
                ]
            )
            await session.commit()
            home_id = home.id
        async with sessions() as session:
            stored = await session.get(Home, home_id)
            assert stored is not None
            assert stored.key_safe_code_enc is not None
            assert "4321" not in stored.key_safe_code_enc  # encrypted at rest
            assert stored.key_safe_code(cipher) == "4321"
            with pytest.raises(KeySafeCipherError):
                stored.key_safe_code(KeySafeCipher(Fernet.generate_key().decode()))
            device = await session.get(Device, "pendant-1")
            assert device is not None
            assert device.last_seen == seen
            assert device.last_seen.tzinfo is not None
            assert device.last_seen.utcoffset() == timedelta(0)
            person = (await session.scalars(select(Resident))).one()
            assert person.consent == {"share_with_family": True}
            assert person.birth_date == date(1938, 5, 2)
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            session.add(Device(id="orphan", home_id=999, type="pir"))
            with pytest.raises(IntegrityError):
                await session.commit()
    finally:
        await engine.dispose()


async def test_event_message_id_is_unique_per_device(database_url: str) -> None:
    """The same device's id twice is refused; another device may use the same id."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    try:
        async with sessions() as session:
            home = Home(address="x")
            session.add_all(
                [
                    home,
                    Device(id="d1", home=home, type="pendant"),
                    Device(id="d2", home=home, type="pendant"),
                ]
            )
            await session.commit()

        def event(device_id: str) -> StoredEvent:
            return StoredEvent(
                message_id="m1",
                device_id=device_id,
                type="panic",
                ts=now,
                received_at=now,
                seq=1,
                body={"type": "panic"},
            )

        async with sessions() as session:
            session.add_all([event("d1"), event("d2")])
            await session.commit()
        async with sessions() as session:
            session.add(event("d1"))
            with pytest.raises(IntegrityError):
                await session.commit()
    finally:
        await engine.dispose()


async def test_migration_keys_the_applied_ledger_by_device(empty_database_url: str) -> None:
    """hub_0003: rows of the alarm engine's applied-message ledger get their event's device
    (so an upgrade does not replay applied events), and ids become unique per device."""
    await upgrade_to(empty_database_url, "calls_0001")
    engine = make_engine(empty_database_url)
    at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            # Homes and devices are as the models say at that revision (Python defaults).
            home_id = (
                await conn.execute(insert(Home).values(address="x").returning(Home.id))
            ).scalar_one()
            await conn.execute(
                insert(Device),
                [{"id": d, "home_id": home_id, "type": "pendant"} for d in ("d1", "d2")],
            )
            await conn.execute(
                text(
                    "INSERT INTO events (message_id, device_id, type, ts, received_at, seq, body)"
                    " VALUES ('m1', 'd1', 'panic', :at, :at, 1, '{}')"
                ),
                {"at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO alarm_processed_events (message_id, at)"
                    " VALUES ('m1', :at), ('orphan', :at)"
                ),
                {"at": at},
            )
        await upgrade_to_head(empty_database_url)
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT device_id, message_id FROM alarm_processed_events"
                        " ORDER BY message_id"
                    )
                )
            ).all()
            assert [tuple(r) for r in rows] == [("d1", "m1"), ("", "orphan")]
            # Another device's m1 is a new event and a new ledger row.
            await conn.execute(
                text(
                    "INSERT INTO events (message_id, device_id, type, ts, received_at, seq, body)"
                    " VALUES ('m1', 'd2', 'panic', :at, :at, 1, '{}')"
                ),
                {"at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO alarm_processed_events (device_id, message_id, at)"
                    " VALUES ('d2', 'm1', :at)"
                ),
                {"at": at},
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO events (message_id, device_id, type, ts, received_at,"
                        " seq, body) VALUES ('m1', 'd1', 'panic', :at, :at, 2, '{}')"
                    ),
                    {"at": at},
                )
    finally:
        await engine.dispose()


async def test_naive_datetime_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            session.add(AuditEntry(actor="a", action="b", object="c", at=datetime(2026, 1, 1)))
            with pytest.raises(Exception, match="naive datetime"):
                await session.commit()
    finally:
        await engine.dispose()


async def test_record_audit(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await record_audit(session, "op1", "alarm.accept", "alarm:1", {"note": "ok"})
            await session.commit()
            entry = (await session.scalars(select(AuditEntry))).one()
            assert (entry.actor, entry.action, entry.object) == ("op1", "alarm.accept", "alarm:1")
            assert entry.details == {"note": "ok"}
            assert entry.at.tzinfo is not None
    finally:
        await engine.dispose()
