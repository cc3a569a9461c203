"""A private Xvfb display for screenshots and window tests (started and stopped by us)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator

XVFB = "Xvfb"


class DisplayError(RuntimeError):
    """Xvfb is missing or did not start."""


@contextlib.contextmanager
def virtual_display(width: int, height: int, timeout: float = 20.0) -> Iterator[str]:
    """Run Xvfb on a free display number and yield ``":N"``; stop it afterwards."""
    binary = shutil.which(XVFB)
    if binary is None:
        raise DisplayError("Xvfb is not installed (Debian package xvfb)")
    read_fd, write_fd = os.pipe()
    # -displayfd makes Xvfb pick a free display and write its number to the pipe,
    # so parallel runs never race for the same :N.
    process = subprocess.Popen(
        [
            binary,
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip().decode()
        if not number:
            raise DisplayError(f"Xvfb exited with {process.wait(timeout)} before it was ready")
        yield f":{number}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
