"""Owner-only files and folders for what the hub keeps on disk.

The data folder holds the SQLite database (medical notes, key-safe codes encrypted with a key
kept next to it), the secrets and the family network's photos, voice and video: no other
account on the machine may read them, whatever the process umask is.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; an existing folder is left as is.

    ``mkdir``'s mode applies to the last component only and is reduced by the umask, so
    each folder created here is also set explicitly.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another worker made it meanwhile
        os.chmod(folder, PRIVATE_DIR_MODE)
    return path


def touch_private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (its folder made private)."""
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` with mode 0600 (the file must not exist)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)
        handle.write(data)
