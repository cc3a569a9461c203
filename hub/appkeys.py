"""Typed keys of the hub's ``web.Application`` state (import these, never use strings)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.clock import Clock
from hub.db.crypto import KeySafeCipher
from hub.settings import HubSettings

SETTINGS = web.AppKey("settings", HubSettings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
KEYSAFE = web.AppKey("keysafe", KeySafeCipher)
