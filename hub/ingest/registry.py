"""The ingester's view of the device registry: device → home, resident, type.

Loaded in full at start-up and kept in memory (a city is ~10^5 devices: a few MB).
A device the map does not know is looked up in the database once (another hub worker
may have provisioned it) and remembered as unknown for a short while, so a flood from
an unknown id costs one query per ``negative_ttl``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Device, Resident


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What ingestion needs to know about a device."""

    device_id: str
    home_id: int
    resident_id: int | None
    type: str
    revoked: bool = False


class DeviceRegistry:
    """In-memory device map backed by the ``devices`` table."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, negative_ttl_s: float = 10.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._devices: dict[str, DeviceInfo] = {}
        self._missing: dict[str, float] = {}
        self.negative_ttl_s = negative_ttl_s

    def _query(self, device_id: str | None = None):  # type: ignore[no-untyped-def]
        first_resident = (
            select(Resident.home_id, func.min(Resident.id).label("rid"))
            .group_by(Resident.home_id)
            .subquery()
        )
        stmt = select(
            Device.id,
            Device.home_id,
            func.coalesce(Device.resident_id, first_resident.c.rid),
            Device.type,
            Device.state,
        ).outerjoin(first_resident, first_resident.c.home_id == Device.home_id)
        if device_id is not None:
            stmt = stmt.where(Device.id == device_id)
        return stmt

    async def load(self) -> int:
        """Replace the map with the database's devices; return how many."""
        async with self._sessionmaker() as session:
            rows = (await session.execute(self._query())).all()
        self._devices = {r[0]: DeviceInfo(r[0], r[1], r[2], r[3], r[4] == "revoked") for r in rows}
        self._missing.clear()
        return len(self._devices)

    def get(self, device_id: str) -> DeviceInfo | None:
        """The device if it is in the map (no I/O)."""
        return self._devices.get(device_id)

    def recently_missing(self, device_id: str) -> bool:
        """True if a lookup found nothing less than ``negative_ttl`` ago."""
        since = self._missing.get(device_id)
        return since is not None and time.monotonic() - since < self.negative_ttl_s

    async def fetch(self, device_id: str) -> DeviceInfo | None:
        """Look ``device_id`` up in the database and update the map."""
        async with self._sessionmaker() as session:
            row = (await session.execute(self._query(device_id))).first()
        if row is None:
            if len(self._missing) > 100_000:
                self._missing.clear()
            self._missing[device_id] = time.monotonic()
            return None
        info = DeviceInfo(row[0], row[1], row[2], row[3], row[4] == "revoked")
        self.put(info)
        return info

    def put(self, info: DeviceInfo) -> None:
        """Add or replace a device (provisioning calls this in-process)."""
        self._devices[info.device_id] = info
        self._missing.pop(info.device_id, None)

    def __len__(self) -> int:
        return len(self._devices)
