"""The media storage port and its local-disk adapter.

Objects are addressed by an opaque key the hub chooses (random, never a user's file
name). An S3-compatible adapter implements the same four methods.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from hub.files import make_private_dir, write_private_file

_KEY = re.compile(r"^[a-z0-9]{2}/[A-Za-z0-9_-]{8,80}(\.[a-z0-9]{1,8})?$")


class MediaNotFound(KeyError):
    """No object under that key."""


class MediaStore(Protocol):
    """Where media bytes live."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (atomic: readers never see half an object)."""

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; raise :class:`MediaNotFound`."""

    async def delete(self, key: str) -> None:
        """Remove ``key`` (absent is fine)."""

    def local_path(self, key: str) -> Path | None:
        """A file path the web server can stream from, if the adapter has one."""


def new_key(suffix: str = "") -> str:
    """A fresh random object key, fanned out over 256 folders."""
    token = secrets.token_urlsafe(24)
    folder = secrets.token_hex(1)
    return f"{folder}/{token}{'.' + suffix if suffix else ''}"


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's folder."""
    if not _KEY.match(key):
        raise ValueError(f"not a media key: {key!r}")
    return key


class LocalDiskStore:
    """Media in a folder on the hub's disk (the default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, path: Path, data: bytes) -> None:
        # Photos, voice and video of private chats: owner-only (hub/files.py).
        make_private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        write_private_file(tmp, data)
        os.replace(tmp, path)

    async def put(self, key: str, data: bytes) -> None:
        """Write to a temporary file and rename it into place."""
        await asyncio.to_thread(self._write, self._path(key), data)

    async def get(self, key: str) -> bytes:
        """Read the whole object."""
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise MediaNotFound(key) from None

    async def delete(self, key: str) -> None:
        """Remove the object's file."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        """The object's file, if present."""
        path = self._path(key)
        return path if path.exists() else None
