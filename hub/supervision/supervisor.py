"""Device supervision: online/offline from status, Last Will and silence.

A device is *online* while it is heard at least once per supervision interval (by type,
``hub/ingest/devicetypes.py``, overridable with ``hub.supervision_intervals``). Going offline
(Last Will, a ``shutdown`` status or silence) and coming back each produce one event
(:class:`DeviceOffline`, :class:`DeviceOnline`) through the ingester's sink queue, stored in
``events`` like device events, and the device's ``state`` in the database. A status with a
battery at or below ``hub.low_battery_percent`` produces one ``low_battery`` event until the
battery recovers. At start-up the map is rebuilt from ``devices`` (state and ``last_seen``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.clock import Clock
from hub.db.models import Device
from hub.ingest.devicetypes import DEFAULT_SUPERVISION, SUPERVISION_BY_TYPE
from hub.ingest.events import IngestedEvent
from hub.ingest.ingester import Ingester
from hub.ingest.registry import DeviceInfo
from hub.supervision.events import DeviceOffline, DeviceOnline
from hub.tasks import cancel_and_wait
from protocol import Channel, DeviceFault, EventBody, LowBattery, Status, Tamper

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Watch:
    """What supervision knows about one device."""

    device: DeviceInfo
    interval: timedelta
    last_seen: datetime
    online: bool
    low_battery: bool = False


class Supervisor:
    """Tracks every device's presence; a companion of the ingester (hub.supervision.app)."""

    def __init__(
        self,
        ingester: Ingester,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        intervals: Mapping[str, float] | None = None,
        check_every_s: float = 5.0,
        low_battery_percent: int = 15,
    ) -> None:
        self.ingester = ingester
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.overrides = dict(intervals or {})
        self.check_every_s = check_every_s
        self.low_battery_percent = low_battery_percent
        self.watches: dict[str, Watch] = {}
        # One owner per home (docs/adr/0147): only the homes this worker owns are judged
        # silent here (None: every home).
        self.watching: Callable[[int], bool] | None = None
        # Units that agreed their own poll interval (DC-09 accounts) override their type's.
        self.device_intervals: dict[str, timedelta] = {}
        self._pending: list[tuple[DeviceInfo, EventBody, datetime, str | None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def interval_for(self, device_type: str) -> timedelta:
        """How long a device of ``device_type`` may be silent."""
        if device_type in self.overrides:
            return timedelta(seconds=self.overrides[device_type])
        return SUPERVISION_BY_TYPE.get(device_type, DEFAULT_SUPERVISION)

    def set_interval(self, device: DeviceInfo, interval: timedelta, now: datetime) -> None:
        """Supervise ``device`` at its own ``interval`` (watched from ``now`` if it is new)."""
        self.device_intervals[device.device_id] = interval
        watch = self.watches.get(device.device_id)
        if watch is None:
            self.watches[device.device_id] = Watch(device, interval, now, True)
        else:
            watch.interval = interval

    async def load(self) -> int:
        """Rebuild the map from the database (start-up)."""
        now = self.clock()
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        Device.id, Device.type, Device.state, Device.last_seen, Device.battery
                    ).where(Device.state != "revoked")
                )
            ).all()
        self.watches = {}
        for device_id, kind, state, last_seen, battery in rows:
            info = self.ingester.registry.get(device_id)
            if info is None:
                continue
            self.watches[device_id] = Watch(
                info,
                self.device_intervals.get(device_id) or self.interval_for(kind),
                # Never heard: the interval runs from now (installation grace).
                last_seen or now,
                state != "offline",
                battery is not None and battery <= self.low_battery_percent,
            )
        return len(self.watches)

    # ---------------------------------------------------------------- from ingestion

    def observe(self, device: DeviceInfo, channel: Channel, body: Any, now: datetime) -> None:
        """Called by the ingester for every accepted message (synchronous, cheap)."""
        watch = self.watches.get(device.device_id)
        if watch is None:
            interval = self.device_intervals.get(device.device_id)
            watch = Watch(device, interval or self.interval_for(device.type), now, True)
            self.watches[device.device_id] = watch
        watch.last_seen = now
        if channel is Channel.STATUS and isinstance(body, Status):
            if body.state == "offline":
                if watch.online:
                    watch.online = False
                    gone = (
                        DeviceOffline(reason="will", last_seen=now)
                        if body.reason == "will"
                        else DeviceOffline(reason="shutdown", last_seen=now)
                    )
                    self._emit(device, gone, now, "offline")
                return
            self._battery(watch, body.battery, now)
        elif channel is Channel.EVENT and isinstance(body, Tamper):
            self._pending.append((device, body, now, "tamper"))
            self._wake.set()
        if not watch.online:
            watch.online = True
            self._emit(device, DeviceOnline(), now, "online")

    def _battery(self, watch: Watch, level: int | None, now: datetime) -> None:
        if level is None:
            return
        if level <= self.low_battery_percent and not watch.low_battery:
            watch.low_battery = True
            self._emit(watch.device, LowBattery(percent=level), now, None)
        elif level > self.low_battery_percent + 5:
            watch.low_battery = False

    def flooding(self, device: DeviceInfo, what: str, now: datetime) -> None:
        """The ingester started dropping ``device``'s ``what`` ("events", "readings"): a
        technical alarm for the operator (a ``device_fault`` with fault ``flooding``)."""
        self._emit(device, DeviceFault(fault="flooding", detail=what), now, None)

    def _emit(self, device: DeviceInfo, body: EventBody, now: datetime, state: str | None) -> None:
        self._pending.append((device, body, now, state))
        self._wake.set()

    # ---------------------------------------------------------------- deadlines

    def check(self) -> int:
        """Declare offline every online device silent past its interval; return how many."""
        now = self.clock()
        count = 0
        watching = self.watching
        for watch in self.watches.values():
            if watching is not None and not watching(watch.device.home_id):
                continue
            if watch.online and now - watch.last_seen > watch.interval:
                watch.online = False
                count += 1
                body = DeviceOffline(reason="supervision", last_seen=watch.last_seen)
                self._pending.append((watch.device, body, now, "offline"))
        if count:
            self._wake.set()
        return count

    async def flush(self) -> None:
        """Store and hand on the events produced so far, and write state changes."""
        pending, self._pending = self._pending, []
        for device, body, when, state in pending:
            message_id = f"hub-{uuid.uuid4().hex}"
            if isinstance(body, DeviceOffline) and body.reason == "supervision":
                silent_id = await self._confirm_silence(device)
                if silent_id is None:
                    continue
                message_id = silent_id
            if state in ("online", "offline"):
                reason = getattr(body, "reason", "connected") if state == "offline" else "heard"
                async with self.sessionmaker() as session:
                    await session.execute(
                        update(Device)
                        .where(Device.id == device.device_id, Device.state != "revoked")
                        .values(state=state, state_reason=reason)
                    )
                    await session.commit()
            elif state == "tamper":
                async with self.sessionmaker() as session:
                    await session.execute(
                        update(Device).where(Device.id == device.device_id).values(tampered=True)
                    )
                    await session.commit()
                continue  # the device's own tamper event already went to the sinks
            await self.ingester.publish_event(
                IngestedEvent(
                    device_id=device.device_id,
                    device_type=device.type,
                    home_id=device.home_id,
                    resident_id=device.resident_id,
                    message_id=message_id,
                    device_ts=when,
                    received_at=when,
                    seq=0,
                    body=body,
                )
            )

    async def _confirm_silence(self, device: DeviceInfo) -> str | None:
        """Check ``last_seen`` in the database before declaring a device silent.

        With several hub workers in the shared subscription, another worker may have heard
        the device (its presence writer updates ``last_seen``). Returns the event's message
        id — derived from the device and its last-seen time, so two workers reaching the same
        verdict store one event — or ``None`` when the device was heard after all.
        """
        async with self.sessionmaker() as session:
            db_seen = await session.scalar(
                select(Device.last_seen).where(Device.id == device.device_id)
            )
        watch = self.watches.get(device.device_id)
        if watch is None:
            return None
        if db_seen is not None and self.clock() - db_seen <= watch.interval:
            watch.last_seen = max(watch.last_seen, db_seen)
            watch.online = True
            return None
        seen = db_seen or watch.last_seen
        digest = hashlib.sha1(  # an id, not a secret
            f"{device.device_id}|{seen.isoformat()}".encode(), usedforsecurity=False
        ).hexdigest()
        return f"hub-offline-{digest}"

    async def run(self) -> None:
        """Check deadlines every ``check_every_s`` and flush whenever something happened."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.check_every_s):
                    await self._wake.wait()
            self._wake.clear()
            self.check()
            try:
                await self.flush()
            except Exception:
                _LOGGER.exception("supervision could not store its events; will retry")

    async def start(self) -> None:
        """Load the map, attach to the ingester and start the deadline task."""
        count = await self.load()
        self.ingester.observer = self.observe
        self._task = asyncio.create_task(self.run(), name="supervision")
        _LOGGER.info("supervision: %d devices watched", count)

    async def stop(self) -> None:
        """Stop the task and write what is pending."""
        self.ingester.observer = None
        await cancel_and_wait([self._task])
        self._task = None
        self.check()
        with contextlib.suppress(Exception):
            await self.flush()
