"""The alarm engine → the family circle, and "I'm on my way" → the alarm's history.

When the hub runs the alarm engine (``hub.alarms``), a task owned by the family app
listens to its live events: a care alarm raised (or resolved) for a resident becomes an
:class:`~hub.family.models.AlarmNotice` pushed to the circle members whose consent
includes ``alarms``. A member's "I'm on my way" is added to the alarm's own history as a
note by a contact, so the operator sees it on the alarm itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from alerts.alarm import Alarm
from alerts.model import Category
from hub.alarms.engine import AlarmEngine
from hub.alarms.routes import ALARM_ENGINE
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.alarms import notify_family
from hub.family.live import LIVE_HUB

_LOGGER = logging.getLogger(__name__)

ENGINE_WAIT_S = 0.5


async def _forward(app: web.Application, message: dict[str, Any]) -> None:
    alarm = message.get("alarm")
    if not isinstance(alarm, Alarm) or alarm.category is not Category.CARE:
        return
    kind = message.get("type")
    if kind not in ("alarm.raised", "alarm.resolved"):
        return
    if not alarm.resident_id.isdigit():
        return
    async with app[SESSIONMAKER]() as session:
        await notify_family(
            session,
            app[LIVE_HUB],
            int(alarm.resident_id),
            alarm.id,
            alarm.rule.value,
            "open" if kind == "alarm.raised" else "closed",
            app[CLOCK](),
        )


async def _listen(app: web.Application) -> None:
    # The engine starts after the family app (module order): wait for it.
    while True:
        engine: AlarmEngine | None = app.get(ALARM_ENGINE)
        if engine is not None:
            break
        await asyncio.sleep(ENGINE_WAIT_S)
    while True:
        subscription = engine.live.subscribe()
        try:
            while not subscription.overflowed.is_set():
                message = await subscription.queue.get()
                try:
                    await _forward(app, message)
                except Exception:  # one bad notice must not stop the next ones
                    _LOGGER.exception("alarm notice for the family failed")
        finally:
            engine.live.unsubscribe(subscription)
        _LOGGER.warning("family alarm bridge fell behind; resubscribing")


async def bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the listening task for the app's lifetime."""
    task = asyncio.create_task(_listen(app))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
