"""Broker security in the app: sync at start, every ``broker_sync_interval_s``, and on demand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from config import MqttSettings
from hub.appkeys import MQTT, SESSIONMAKER, SETTINGS
from hub.registry.broker import DEFAULT_ACL_TEMPLATE, BrokerSecurity, reloader
from hub.settings import HubSettings

_LOGGER = logging.getLogger(__name__)


class BrokerSync:
    """Owns the :class:`BrokerSecurity` and the task that keeps it in step."""

    def __init__(self, security: BrokerSecurity, interval_s: float) -> None:
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


BROKER_SYNC = web.AppKey("broker_sync", BrokerSync)


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


async def _broker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.mosquitto_passwd_file:
        yield
        return
    if not settings.mosquitto_hub_passwd_file:
        _LOGGER.warning(
            "hub.mosquitto_hub_passwd_file is not set: the hub's broker account shares the"
            " devices' password file, so unless the broker binds client ids to usernames a"
            " device can take another device's or the hub's client id (docs/adr/0013)"
        )
    security = await asyncio.to_thread(make_broker_security, settings, app.get(MQTT))
    sync = BrokerSync(security, settings.broker_sync_interval_s)
    app[BROKER_SYNC] = sync
    task = asyncio.create_task(sync.run(app), name="broker-sync")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    """Manage the broker's files when ``hub.mosquitto_passwd_file`` is set."""
    app.cleanup_ctx.append(_broker_ctx)
