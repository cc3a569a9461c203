"""What the hub keeps on disk is owner-only whatever the umask: the data folder, its SQLite
databases (with their WAL files), its secrets and the family network's media."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.db import make_engine
from hub.files import make_private_dir, touch_private_file, write_private_file
from hub.media import LocalDiskStore, new_key
from hub.settings import HubSettings, with_secrets
from hub.timeseries.sqlite import SqliteTimeSeries


@pytest.fixture(autouse=True)
def _open_umask() -> Iterator[None]:
    # The laxest umask a service could run with: nothing may rely on it.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_and_files_are_owner_only(tmp_path: Path) -> None:
    folder = make_private_dir(tmp_path / "a" / "b")
    assert _mode(tmp_path / "a") == _mode(folder) == 0o700
    file = touch_private_file(tmp_path / "c" / "f")
    assert (_mode(tmp_path / "c"), _mode(file)) == (0o700, 0o600)
    write_private_file(tmp_path / "g", b"x")
    assert _mode(tmp_path / "g") == 0o600
    with pytest.raises(FileExistsError):
        write_private_file(tmp_path / "g", b"y")  # never reuses a file another made


def test_an_existing_folder_and_file_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "f").write_bytes(b"kept")
    make_private_dir(shared)
    touch_private_file(shared / "f")
    assert (shared / "f").read_bytes() == b"kept"
    assert _mode(shared) == 0o755


def test_the_data_folder_and_secrets(tmp_path: Path) -> None:
    data = tmp_path / "var" / "hub"
    with_secrets(HubSettings(data_dir=str(data)))
    assert _mode(tmp_path / "var") == _mode(data) == 0o700
    assert _mode(data / "jwt_secret") == _mode(data / "keysafe_key") == 0o600


async def test_the_sqlite_database_and_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "hub" / "hub.sqlite"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(path.parent.iterdir())
        assert {f.name for f in files} >= {"hub.sqlite", "hub.sqlite-wal"}
        assert _mode(path.parent) == 0o700
        for file in files:
            assert _mode(file) == 0o600, file
    finally:
        await engine.dispose()


async def test_the_timeseries_database(tmp_path: Path) -> None:
    store = SqliteTimeSeries(tmp_path / "ts" / "timeseries.sqlite")
    await store.start()
    try:
        files = list((tmp_path / "ts").iterdir())
        assert files
        for file in files:
            assert _mode(file) == 0o600, file
        assert _mode(tmp_path / "ts") == 0o700
    finally:
        await store.close()


async def test_media_files(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path / "media")
    key = new_key("jpg")
    await store.put(key, b"a photo")
    path = store.local_path(key)
    assert path is not None
    assert _mode(path) == 0o600
    assert _mode(path.parent) == _mode(tmp_path / "media") == 0o700
