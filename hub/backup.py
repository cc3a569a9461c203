"""``teleassist hub backup DIR`` / ``restore DIR``: a site's data in one folder, and back.

A backup folder holds:

- ``database.pgdump`` (``pg_dump -Fc``; PostgreSQL) or ``database.sqlite`` (SQLite's online
  backup): residents, homes, devices, alarms and their history, messages, the outbox...;
- ``timeseries.jsonl`` (VictoriaMetrics ``/api/v1/export``, every series) or
  ``timeseries.sqlite``; the InfluxDB adapter is not backed up here (``influx backup``);
- ``files.tar.gz``: the hub's ``data_dir`` (family media, generated secrets, VAPID keys...)
  without the database files above and without the backup folder itself, plus the media
  folder when it lives elsewhere (``media.tar.gz``);
- ``environment.env``: every ``TELEASSIST_*`` variable the hub ran with, secrets included (the
  key-safe key decrypts key-safe codes, the JWT secret signs sign-ins): the folder is secret
  material, written owner-only;
- ``manifest.json``: schema revision, what was backed up, counts and a SHA-256 per file.

Restore checks every checksum, refuses a database that already has tables and a key-safe key
other than the backup's, then loads the database, the series and the files. The hub started
afterwards finds everything (docs/deployment.md, "Backups").
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import sqlite3
import subprocess
import tarfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import URL, make_url

from hub.alarms.models import AlarmHistoryRow, AlarmRow
from hub.db import make_engine, make_sessionmaker
from hub.db.migrate import current_revisions
from hub.db.models import Resident
from hub.family.models import MediaObject, Message
from hub.files import make_private_dir, write_private_file
from hub.settings import HubSettings

MANIFEST = "manifest.json"
ENVIRONMENT = "environment.env"
FORMAT = 1
# Everything in VictoriaMetrics (the hub writes only its own series there).
ALL_SERIES = '{__name__!=""}'


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class Counts:
    """What a backup holds, for the manifest and for checking a restore."""

    residents: int
    alarms: int
    alarm_history: int
    messages: int
    media: int

    def as_dict(self) -> dict[str, int]:
        """The counts by name (the manifest's ``counts``)."""
        return dataclasses.asdict(self)


async def _counts(url: str) -> Counts:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:

            async def count(model: Any) -> int:
                return int(await session.scalar(select(func.count()).select_from(model)) or 0)

            return Counts(
                residents=await count(Resident),
                alarms=await count(AlarmRow),
                alarm_history=await count(AlarmHistoryRow),
                messages=await count(Message),
                media=await count(MediaObject),
            )
    finally:
        await engine.dispose()


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/pg_restore, the password in the environment (never on
    the command line, where ``ps`` shows it)."""
    args = ["--dbname", url.database or "", "--username", url.username or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    env = {"PGPASSWORD": url.password} if url.password else {}
    return args, {**os.environ, **env, "PGCONNECT_TIMEOUT": "10"}


def _run(argv: list[str], env: Mapping[str, str]) -> None:
    result = subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)
    if result.returncode:
        raise BackupError(f"{argv[0]} failed: {result.stderr.strip()[-500:]}")


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its online backup API)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    target.chmod(0o600)


def _sqlite_path(url: URL) -> Path:
    return Path(url.database or "")


def _timeseries_sqlite(settings: HubSettings) -> Path:
    if settings.timeseries_url:
        return Path(settings.timeseries_url.removeprefix("sqlite:///"))
    return settings.data_path / "timeseries.sqlite"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tar(target: Path, folder: Path, skip: set[Path]) -> None:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        path = folder / info.name
        if any(path == s or s in path.parents for s in skip):
            return None
        return info

    with tarfile.open(target, "w:gz") as archive:
        if folder.is_dir():
            archive.add(folder, arcname=".", filter=keep)
    target.chmod(0o600)


def _database_files(settings: HubSettings) -> set[Path]:
    """The SQLite files under ``data_dir`` (backed up on their own, consistently)."""
    found: set[Path] = set()
    for name in ("hub.sqlite", "timeseries.sqlite"):
        for suffix in ("", "-wal", "-shm", "-journal"):
            found.add((settings.data_path / f"{name}{suffix}").resolve())
    return found


async def backup(
    settings: HubSettings,
    out: Path,
    environ: Mapping[str, str],
    now: datetime,
    media_dir: Path,
) -> dict[str, Any]:
    """Write a backup of the site into ``out`` (new or empty); return its manifest."""
    await asyncio.to_thread(_new_folder, out)
    url_text = settings.resolved_database_url()
    url = make_url(url_text)
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": now.isoformat(), "files": {}}
    manifest["schema"] = list(await current_revisions(url_text))
    manifest["counts"] = (await _counts(url_text)).as_dict()
    if url.get_backend_name() == "postgresql":
        args, env = _libpq(url)
        dump = ["pg_dump", "--format=custom", "--file", str(out / "database.pgdump"), *args]
        await asyncio.to_thread(_run, dump, env)
        manifest["database"] = "postgresql"
    else:
        await asyncio.to_thread(_sqlite_copy, _sqlite_path(url), out / "database.sqlite")
        manifest["database"] = "sqlite"
    manifest["timeseries"] = await _backup_timeseries(settings, out)
    await asyncio.to_thread(_files_and_manifest, settings, out, media_dir, environ, manifest)
    return manifest


def _new_folder(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty")
    make_private_dir(out)


def _files_and_manifest(
    settings: HubSettings,
    out: Path,
    media_dir: Path,
    environ: Mapping[str, str],
    manifest: dict[str, Any],
) -> None:
    data = settings.data_path.resolve()
    skip = _database_files(settings) | {out.resolve()}
    _tar(out / "files.tar.gz", data, skip)
    media = media_dir.resolve()
    if not media.is_relative_to(data):
        _tar(out / "media.tar.gz", media, skip)
    lines = sorted(f"{k}={v}" for k, v in environ.items() if k.startswith("TELEASSIST_"))
    write_private_file(out / ENVIRONMENT, ("\n".join(lines) + "\n").encode())
    for path in sorted(out.iterdir()):
        path.chmod(0o600)
        manifest["files"][path.name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    write_private_file(out / MANIFEST, json.dumps(manifest, indent=2).encode())


async def _backup_timeseries(settings: HubSettings, out: Path) -> str:
    backend = settings.timeseries_backend
    if backend == "victoriametrics":
        target = out / "timeseries.jsonl"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        url = f"{settings.timeseries_url.rstrip('/')}/api/v1/export"
        async with aiohttp.ClientSession() as http:
            # Written points become exportable after VictoriaMetrics' ~1 s buffer: flush it.
            async with http.get(f"{settings.timeseries_url.rstrip('/')}/internal/force_flush"):
                pass
            async with http.post(url, data={"match[]": ALL_SERIES}) as response:
                if response.status != 200:
                    os.close(fd)
                    raise BackupError(f"VictoriaMetrics export failed: HTTP {response.status}")
                with os.fdopen(fd, "wb") as handle:
                    async for chunk in response.content.iter_chunked(1 << 16):
                        handle.write(chunk)
        return backend
    if backend == "sqlite":
        path = _timeseries_sqlite(settings)
        if path.exists():
            await asyncio.to_thread(_sqlite_copy, path, out / "timeseries.sqlite")
        return backend
    return "not backed up (influxdb: use influx backup)"


async def restore(
    settings: HubSettings, source: Path, environ: Mapping[str, str], media_dir: Path
) -> Counts:
    """Load the backup in ``source`` into this (fresh) site; return what the database holds."""
    manifest = _checked_manifest(source)
    saved = _environment(source / ENVIRONMENT)
    key = "TELEASSIST_HUB__KEYSAFE_KEY"
    if saved.get(key, "") != environ.get(key, ""):
        raise BackupError(
            f"{key} differs from the backup's ({ENVIRONMENT}): key-safe codes would be"
            " unreadable; restore the site's secrets first"
        )
    url_text = settings.resolved_database_url()
    url = make_url(url_text)
    await _refuse_non_empty(url_text)
    if manifest["database"] == "postgresql":
        if url.get_backend_name() != "postgresql":
            raise BackupError("the backup is of a PostgreSQL database; this hub uses SQLite")
        args, env = _libpq(url)
        argv = [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            *args,
            str(source / "database.pgdump"),
        ]
        await asyncio.to_thread(_run, argv, env)
    else:
        if url.get_backend_name() != "sqlite":
            raise BackupError("the backup is of a SQLite database; this hub uses PostgreSQL")
        await asyncio.to_thread(_sqlite_copy, source / "database.sqlite", _sqlite_path(url))
    await _restore_timeseries(settings, source, manifest["timeseries"])
    await asyncio.to_thread(_untar, source / "files.tar.gz", settings.data_path)
    if "media.tar.gz" in manifest["files"]:
        await asyncio.to_thread(_untar, source / "media.tar.gz", media_dir)
    return await _counts(url_text)


def _checked_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BackupError(f"{source}: no readable {MANIFEST} ({err})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: backup format {manifest.get('format')!r} is not {FORMAT}")
    present = {p.name for p in source.iterdir()} - {MANIFEST}
    if present != set(manifest["files"]):
        raise BackupError(
            f"{source}: files differ from the manifest: {sorted(present ^ set(manifest['files']))}"
        )
    for name, entry in manifest["files"].items():
        if _sha256(source / name) != entry["sha256"]:
            raise BackupError(f"{source / name} is damaged (SHA-256 differs from the manifest)")
    return manifest


def _environment(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8").splitlines())
    return {k: v for k, _, v in pairs if k}


async def _refuse_non_empty(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    if tables:
        raise BackupError(
            f"the database already has {len(tables)} tables: restore only into a fresh one"
            " (start the database alone, restore, then start the hub)"
        )


async def _restore_timeseries(settings: HubSettings, source: Path, kind: str) -> None:
    if kind == "victoriametrics":
        if settings.timeseries_backend != "victoriametrics":
            raise BackupError(
                "the backup's telemetry is VictoriaMetrics; this hub uses another store"
            )
        url = f"{settings.timeseries_url.rstrip('/')}/api/v1/import"
        data = await asyncio.to_thread((source / "timeseries.jsonl").read_bytes)
        async with aiohttp.ClientSession() as http, http.post(url, data=data) as response:
            if response.status >= 300:
                raise BackupError(f"VictoriaMetrics import failed: HTTP {response.status}")
            async with http.get(f"{settings.timeseries_url.rstrip('/')}/internal/force_flush"):
                pass
    elif kind == "sqlite" and (source / "timeseries.sqlite").exists():
        path = _timeseries_sqlite(settings)
        if path.exists():
            raise BackupError(f"{path} exists: restore only into a fresh site")
        await asyncio.to_thread(_sqlite_copy, source / "timeseries.sqlite", path)


def _untar(archive: Path, folder: Path) -> None:
    make_private_dir(folder)
    with tarfile.open(archive, "r:gz") as tar:
        # The "data" filter refuses absolute paths, '..', devices and links leaving the folder.
        tar.extractall(folder, filter="data")
