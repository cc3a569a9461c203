"""What a simulation produces: a time-ordered list of records plus the ground truth."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeAlias

import protocol
from firmware_sim.home import DeviceType, HomeSpec
from firmware_sim.incidents import Incident

Body: TypeAlias = protocol.Event | protocol.Telemetry | protocol.Status


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One message a device (or the gateway on its behalf) sends.

    ``ts`` is the device timestamp (UTC). ``delivered_at`` is set only when the
    gateway was offline and the message reached the hub later (store and forward).
    """

    ts: datetime
    device_id: str
    device_type: DeviceType
    room: str | None
    body: Body
    delivered_at: datetime | None = None

    @property
    def channel(self) -> protocol.Channel:
        """The contract channel this body travels on."""
        if isinstance(self.body, protocol.Telemetry):
            return protocol.Channel.TELEMETRY
        if isinstance(self.body, protocol.Status):
            return protocol.Channel.STATUS
        return protocol.Channel.EVENT

    @property
    def event_type(self) -> str | None:
        """The event's wire type, or ``None`` for telemetry and status."""
        if isinstance(self.body, protocol.EventBody):
            return protocol.event_type(self.body)
        return None

    @property
    def arrival(self) -> datetime:
        """When the hub receives it (``delivered_at`` or ``ts``)."""
        return self.delivered_at or self.ts


@dataclass(frozen=True, slots=True)
class Trace:
    """A simulated resident's days: records sorted by ``ts``, and what was injected."""

    home: HomeSpec
    profile: str
    seed: int | str
    start_date: date
    days: int
    view: str
    records: tuple[TraceRecord, ...]
    incidents: tuple[Incident, ...]

    def events(self, *types: str) -> list[TraceRecord]:
        """Event records, optionally only of the given wire types."""
        return [
            r
            for r in self.records
            if r.event_type is not None and (not types or r.event_type in types)
        ]

    def telemetry(self, kind: str | None = None) -> list[TraceRecord]:
        """Telemetry records, optionally of one ``kind``."""
        return [
            r
            for r in self.records
            if isinstance(r.body, protocol.Telemetry) and (kind is None or r.body.kind == kind)
        ]

    def messages(self) -> Iterator[tuple[str, protocol.Envelope[Body]]]:
        """``(topic, envelope)`` pairs as a gateway would publish them, with per-device
        sequence numbers and message ids that are stable for the same seed."""
        seqs: dict[str, int] = {}
        for record in self.records:
            seq = seqs.get(record.device_id, 0) + 1
            seqs[record.device_id] = seq
            digest = hashlib.blake2b(
                f"{self.seed}/{record.device_id}/{seq}".encode(), digest_size=16
            ).hexdigest()
            topic = protocol.device_topic(record.device_id, record.channel)
            yield topic, protocol.envelope(record.body, id=digest, ts=record.ts, seq=seq)
