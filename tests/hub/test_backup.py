"""``hub/backup.py`` on both databases (SQLite time series and files), and every refusal. The
compose site's round trip (PostgreSQL + VictoriaMetrics) is tests/deploy/test_backup_native.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from cryptography.fernet import Fernet

from hub.backup import BackupError, backup, restore
from hub.db import make_engine, make_sessionmaker
from hub.db.crypto import KeySafeCipher
from hub.db.models import Resident
from hub.registry.service import create_home
from hub.settings import HubSettings
from hub.timeseries import HOUR, Point, SqliteTimeSeries
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url
from tests.instants import DEFAULT_START

NOW = DEFAULT_START


def _environ(settings: HubSettings) -> dict[str, str]:
    return {
        "TELEASSIST_HUB__KEYSAFE_KEY": settings.keysafe_key,
        "TELEASSIST_HUB__JWT_SECRET": settings.jwt_secret,
        "HOME": "/root",  # not the hub's: left out of the backup
    }


async def _seed(settings: HubSettings) -> None:
    engine = make_engine(settings.resolved_database_url())
    try:
        async with make_sessionmaker(engine)() as session:
            cipher = KeySafeCipher(settings.keysafe_key)
            home = await create_home(
                session, address="Carrer Nou 5", cipher=cipher, actor="t", key_safe_code="1234"
            )
            session.add(Resident(home_id=home.id, name="Pere Soler"))
            await session.commit()
    finally:
        await engine.dispose()
    series = SqliteTimeSeries(settings.data_path / "timeseries.sqlite")
    await series.start()
    await series.write([Point("d1", "temperature", NOW, 21.0, 1, "Cel")])
    await series.close()
    media = settings.data_path / "media" / "0f"
    media.mkdir(parents=True)
    (media / "voice.ogg").write_bytes(b"OggS voice")


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'hub.sqlite'}"
        return
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


async def test_round_trip(hub_settings: HubSettings, fresh_url: str, tmp_path: Path) -> None:
    await _seed(hub_settings)
    folder = tmp_path / "backup"
    manifest = await backup(
        hub_settings, folder, _environ(hub_settings), NOW, hub_settings.data_path / "media"
    )
    assert manifest["counts"]["residents"] == 1
    assert manifest["schema"]
    environment = (folder / "environment.env").read_text()
    assert "HOME=" not in environment
    assert f"TELEASSIST_HUB__KEYSAFE_KEY={hub_settings.keysafe_key}" in environment

    target = msgspec.structs.replace(
        hub_settings, data_dir=str(tmp_path / "restored"), database_url=fresh_url
    )
    counts = await restore(target, folder, _environ(hub_settings), target.data_path / "media")
    assert counts.residents == 1
    assert (target.data_path / "media" / "0f" / "voice.ogg").read_bytes() == b"OggS voice"
    series = SqliteTimeSeries(target.data_path / "timeseries.sqlite")
    await series.start()
    try:
        assert [s.value for s in await series.query("d1", "temperature", NOW, NOW + HOUR)] == [21.0]
    finally:
        await series.close()
    engine = make_engine(fresh_url)
    try:
        async with make_sessionmaker(engine)() as session:
            resident = await session.get(Resident, 1)
            assert resident is not None
            assert resident.name == "Pere Soler"
    finally:
        await engine.dispose()
    # Into the same database again: it has tables now.
    with pytest.raises(BackupError, match="restore only into a fresh one"):
        await restore(target, folder, _environ(hub_settings), target.data_path / "media")


@pytest.fixture
async def saved(hub_settings: HubSettings, tmp_path: Path) -> Path:
    await _seed(hub_settings)
    folder = tmp_path / "backup"
    await backup(hub_settings, folder, _environ(hub_settings), NOW, hub_settings.data_path)
    return folder


@pytest.fixture
def fresh(hub_settings: HubSettings, tmp_path: Path) -> HubSettings:
    """A fresh SQLite site (the refusals come before the database is touched)."""
    return msgspec.structs.replace(
        hub_settings,
        data_dir=str(tmp_path / "fresh"),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite'}",
    )


async def test_backup_refuses_a_folder_that_is_not_empty(
    hub_settings: HubSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "used"
    folder.mkdir()
    (folder / "something").write_text("x")
    with pytest.raises(BackupError, match="is not empty"):
        await backup(hub_settings, folder, {}, NOW, hub_settings.data_path)


async def test_a_damaged_file_is_refused(saved: Path, fresh: HubSettings) -> None:
    dump = saved / "files.tar.gz"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    dump.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="damaged"):
        await restore(fresh, saved, _environ(fresh), fresh.data_path)


@pytest.mark.parametrize("change", ["missing", "extra"])
async def test_files_other_than_the_manifests_are_refused(
    saved: Path, fresh: HubSettings, change: str
) -> None:
    if change == "missing":
        (saved / "environment.env").unlink()
    else:
        (saved / "notes.txt").write_text("?")
    with pytest.raises(BackupError, match="files differ from the manifest"):
        await restore(fresh, saved, _environ(fresh), fresh.data_path)


@pytest.mark.parametrize("manifest", ["", "{}", '{"format": 99}'])
async def test_an_unreadable_or_unknown_manifest_is_refused(
    saved: Path, fresh: HubSettings, manifest: str
) -> None:
    (saved / "manifest.json").write_text(manifest)
    with pytest.raises(BackupError, match=r"manifest|format"):
        await restore(fresh, saved, _environ(fresh), fresh.data_path)


async def test_another_key_safe_key_is_refused(saved: Path, fresh: HubSettings) -> None:
    other = {**_environ(fresh), "TELEASSIST_HUB__KEYSAFE_KEY": Fernet.generate_key().decode()}
    with pytest.raises(BackupError, match="key-safe codes would be unreadable"):
        await restore(fresh, saved, other, fresh.data_path)


async def test_a_backup_of_the_other_database_kind_is_refused(
    saved: Path, fresh: HubSettings, tmp_path: Path
) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    if manifest["database"] == "sqlite":
        name = await asyncio.to_thread(create_pg_database)
        try:
            target = msgspec.structs.replace(fresh, database_url=pg_url(name))
            with pytest.raises(BackupError, match="backup is of a SQLite database"):
                await restore(target, saved, _environ(fresh), fresh.data_path)
        finally:
            await asyncio.to_thread(drop_pg_database, name)
    else:
        with pytest.raises(BackupError, match="backup is of a PostgreSQL database"):
            await restore(fresh, saved, _environ(fresh), fresh.data_path)
