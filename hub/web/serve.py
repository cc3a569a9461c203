"""Serve an aiohttp application on a free local port for a while (tests, screenshots)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from config.ports import free_port


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Run ``app`` until the block ends; yields its base URL (no trailing slash)."""
    chosen = port or free_port()
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, chosen).start()
        yield f"http://{host}:{chosen}"
    finally:
        await runner.cleanup()
