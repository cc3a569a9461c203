"""JSON views of registry rows (what the read API returns)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from hub.db.models import Device, Home, Resident
from hub.http import iso
from hub.timeseries.port import LastValue, Sample


def resident_view(r: Resident) -> dict[str, Any]:
    """A resident without health data (medical notes stay in the resident card)."""
    return {
        "id": r.id,
        "home_id": r.home_id,
        "name": r.name,
        "birth_date": None if r.birth_date is None else r.birth_date.isoformat(),
        "language": r.language,
        "lives_alone": r.lives_alone,
    }


def last_value_view(v: LastValue) -> dict[str, Any]:
    """The newest reading of one series."""
    return {"kind": v.kind, "value": v.value, "unit": v.unit, "ts": iso(v.ts)}


def device_view(d: Device, last: list[LastValue]) -> dict[str, Any]:
    """A device with its status and last values."""
    return {
        "id": d.id,
        "home_id": d.home_id,
        "type": d.type,
        "room": d.room,
        "state": d.state,
        "state_reason": d.state_reason,
        "battery": d.battery,
        "firmware": d.firmware,
        "tampered": d.tampered,
        "last_seen": iso(d.last_seen),
        "gateway_id": d.gateway_id,
        "resident_id": d.resident_id,
        "last_values": [last_value_view(v) for v in last],
    }


def home_summary(h: Home, residents: list[Resident], device_count: int) -> dict[str, Any]:
    """A home in a list."""
    return {
        "id": h.id,
        "address": h.address,
        "abss_area": h.abss_area,
        "lat": h.lat,
        "lon": h.lon,
        "residents": [{"id": r.id, "name": r.name} for r in residents],
        "device_count": device_count,
    }


def sample_view(s: Sample) -> dict[str, Any]:
    """One point or bucket of a series."""
    return {"ts": iso(s.ts), "value": s.value, "min": s.min, "max": s.max, "count": s.count}


class StoredEventView(msgspec.Struct, kw_only=True, frozen=True):
    """A device event as the hub stored it (``GET /api/devices/{id}/events``).

    ``id`` orders events as they were stored (page with ``before``); ``message_id``, ``ts``
    and ``seq`` are the device's envelope, ``body`` the event as sent (docs/protocol.md).
    """

    id: int
    message_id: str
    device_id: str
    type: str
    ts: datetime
    received_at: datetime
    seq: int
    body: dict[str, Any]


class StoredEventPage(msgspec.Struct, kw_only=True, frozen=True):
    """Events newest first; ``next_before`` pages back (null on the last page)."""

    items: list[StoredEventView]
    next_before: int | None
