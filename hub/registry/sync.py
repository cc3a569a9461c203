"""Keeping the broker in step with the devices table: :class:`BrokerSync` and its app key.

The registry's wiring (:mod:`hub.registry.app`) starts it; provisioning, pairing and the
service context ask it for a sync after a change (:func:`request_broker_sync`,
:func:`broker_knows`). It sits below the wiring so that handlers can import it without a
cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from config import MqttSettings
from hub.appkeys import SESSIONMAKER
from hub.registry.broker import DEFAULT_ACL_TEMPLATE, BrokerSecurity, reloader
from hub.settings import HubSettings

_LOGGER = logging.getLogger(__name__)


class SecurityBackend(Protocol):
    """What :class:`BrokerSync` drives: Mosquitto's files or a RabbitMQ cluster's bindings."""

    async def sync(self, session: AsyncSession) -> bool:
        """Bring the broker in step with the devices table; True if anything changed."""

    async def kick(self, client_id: str, broker: MqttSettings) -> bool:
        """End a device's live session(s) now."""


class BrokerSync:
    """Owns the :class:`SecurityBackend` and the task that keeps it in step."""

    def __init__(self, security: SecurityBackend, interval_s: float) -> None:
        self.security = security
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self.done = asyncio.Event()
        # Requests are numbered; a sync that started after request n covers it. (A sync
        # already running when a change commits may not see it: ``done`` alone can be set
        # by that one.)
        self._requested = 0
        self._completed = 0
        self._synced = asyncio.Condition()

    def request(self) -> int:
        """Sync soon (after a provisioning change); the request's number for :meth:`wait`."""
        self._requested += 1
        self.done.clear()
        self._wake.set()
        return self._requested

    async def wait(self, request: int) -> None:
        """Return once a sync that started after ``request`` has finished."""
        async with self._synced:
            await self._synced.wait_for(lambda: self._completed >= request)

    async def run(self, app: web.Application) -> None:
        """Sync now and then whenever asked or every ``interval_s``."""
        while True:
            self._wake.clear()
            covers = self._requested
            try:
                async with app[SESSIONMAKER]() as session:
                    await self.security.sync(session)
            except Exception:
                _LOGGER.exception("broker security sync failed; retrying")
            else:
                async with self._synced:
                    self._completed = covers
                    self._synced.notify_all()
            self.done.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()


# Present only when the hub manages the broker (Mosquitto's files or a RabbitMQ cluster).
BROKER_SYNC = web.AppKey("broker_sync", BrokerSync)


def request_broker_sync(app: web.Application) -> int | None:
    """Re-render the broker's password file and ACL soon (after a provisioning change);
    the request's number (``None`` when the hub does not manage the broker's files)."""
    sync = app.get(BROKER_SYNC)
    return None if sync is None else sync.request()


async def broker_knows(app: web.Application, wait_s: float = 5.0) -> None:
    """Ask for a broker sync and wait up to ``wait_s`` for it, so that a new device's first
    connect works."""
    number = request_broker_sync(app)
    sync = app.get(BROKER_SYNC)
    if sync is None or number is None:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait_s):
            await sync.wait(number)


def make_broker_security(settings: HubSettings, hub_account: MqttSettings | None) -> BrokerSecurity:
    """The :class:`BrokerSecurity` described by ``settings`` (reads the ACL template file)."""
    template = DEFAULT_ACL_TEMPLATE
    if settings.mosquitto_acl_template:
        template = Path(settings.mosquitto_acl_template).read_text(encoding="utf-8")
    return BrokerSecurity(
        passwd_file=Path(settings.mosquitto_passwd_file),
        acl_file=Path(settings.mosquitto_acl_file) if settings.mosquitto_acl_file else None,
        acl_template=template,
        hub_account=hub_account,
        hub_passwd_file=(
            Path(settings.mosquitto_hub_passwd_file) if settings.mosquitto_hub_passwd_file else None
        ),
        reload=reloader(settings.mosquitto_pid_file, settings.mosquitto_reload_command),
        file_mode=settings.mosquitto_file_mode,
    )
