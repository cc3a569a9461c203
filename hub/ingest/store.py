"""Relational writes of ingestion: events (idempotent) and device presence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Device, StoredEvent
from hub.ingest.dedup import MessageKey
from hub.ingest.events import IngestedEvent

_CHUNK = 500


async def insert_events(
    session: AsyncSession, events: Sequence[IngestedEvent]
) -> dict[MessageKey, int]:
    """Insert ``events``, skipping those already stored; return new row ids by
    (device id, message id).

    The unique key on (``device_id``, ``message_id``) makes this idempotent across
    restarts and across hub workers: an event missing from the result was a duplicate.
    Message ids are unique per device only, so another device's id never collides.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stored: dict[MessageKey, int] = {}
    for start in range(0, len(events), _CHUNK):
        rows: list[dict[str, Any]] = [
            {
                "message_id": e.message_id,
                "device_id": e.device_id,
                "type": e.type,
                "ts": e.device_ts,
                "received_at": e.received_at,
                "seq": e.seq,
                "body": msgspec.to_builtins(e.body),
            }
            for e in events[start : start + _CHUNK]
        ]
        stmt = (
            insert(StoredEvent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["device_id", "message_id"])
            .returning(StoredEvent.id, StoredEvent.device_id, StoredEvent.message_id)
        )
        for row_id, device_id, message_id in (await session.execute(stmt)).all():
            stored[(device_id, message_id)] = row_id
    return stored


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    """What ingestion learnt about a device since the last write."""

    device_id: str
    last_seen: datetime
    state: str | None = None
    state_reason: str | None = None
    battery: int | None = None
    firmware: str | None = None


async def write_presence(session: AsyncSession, updates: Sequence[PresenceUpdate]) -> None:
    """Update ``last_seen`` (and state, battery, firmware when known) of many devices."""
    plain = [{"id": u.device_id, "last_seen": u.last_seen} for u in updates if u.state is None]
    if plain:
        await session.execute(update(Device), plain)
    for u in updates:
        if u.state is None:
            continue
        values: dict[str, Any] = {"last_seen": u.last_seen, "state": u.state}
        if u.state_reason is not None:
            values["state_reason"] = u.state_reason
        if u.battery is not None:
            values["battery"] = u.battery
        if u.firmware is not None:
            values["firmware"] = u.firmware
        await session.execute(
            update(Device)
            .where(Device.id == u.device_id, Device.state != "revoked")
            .values(**values)
        )
