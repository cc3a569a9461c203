"""Debian's Chromium for Playwright: where it is and the flags this machine needs.

Shared by browser tests and screenshot areas (``playwright install`` is never used; see
MACHINE-NOTES). ``CHROMIUM_ARGS`` keep the browser off the network and quiet.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_PATH = os.environ.get("TELEASSIST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # The console's alarm chime must play without a click in tests and screenshots.
    "--autoplay-policy=no-user-gesture-required",
)
MEDIA_ARGS: tuple[str, ...] = (
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
)


def chromium_available() -> bool:
    """Whether the Chromium binary is installed."""
    return os.path.exists(CHROMIUM_PATH) or shutil.which("chromium") is not None
