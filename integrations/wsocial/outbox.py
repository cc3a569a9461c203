"""The transactional outbox: the record, its store port, and an in-memory store.

A caller writes an :class:`OutboxEntry` in the *same* database transaction as the change
that caused it (the hub's SQL store does this, see ``hub/outbox``), so a committed change
always has its event and a rolled-back one never does. The delivery worker then reads due
records through :class:`OutboxStore` and marks them delivered, failed (with the next
attempt time) or dead.

Order: records with the same ``ordering_key`` (the FHIR resource they update) are delivered
strictly in insertion order — a newer state of a service row never overtakes an older one.
A dead record leaves the line so the ones behind it can go; replaying it later re-sends an
older state, which is why replay is an admin action with the record in view.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

from integrations.wsocial.events import AnySocialEvent, encode_event, event_kind
from integrations.wsocial.mapping import to_resources

# ``withdrawn``: never sent, because the resident withdrew consent while it waited.
OutboxState = Literal["pending", "delivered", "dead", "withdrawn"]
OUTBOX_STATES: tuple[OutboxState, ...] = ("pending", "delivered", "dead", "withdrawn")


@dataclass(frozen=True)
class OutboxEntry:
    """What a caller enqueues: the event as JSON plus the keys the worker needs."""

    event_id: str
    kind: str
    resident_id: str
    ordering_key: str
    payload: bytes


@dataclass(frozen=True)
class OutboxRecord:
    """A stored entry with its delivery state."""

    id: int
    event_id: str
    kind: str
    resident_id: str
    ordering_key: str
    payload: bytes
    state: OutboxState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None


def new_entry(event: AnySocialEvent, event_id: str | None = None) -> OutboxEntry:
    """Build the outbox entry for ``event``.

    Mapping happens here once, so an event that cannot become a valid resource is refused
    inside the caller's transaction (raising :class:`~.mapping.MappingError`), not found
    dead hours later.
    """
    primary = to_resources(event)[0]
    key = f"{primary.resource_type}|{primary.identifier_system}|{primary.identifier_value}"
    return OutboxEntry(
        event_id=event_id or uuid.uuid4().hex,
        kind=event_kind(event),
        resident_id=event.resident_id,
        ordering_key=key,
        payload=encode_event(event),
    )


class OutboxStore(Protocol):
    """Port the delivery worker and the admin endpoints use."""

    async def due(self, now: datetime, limit: int) -> list[OutboxRecord]:
        """Pending records whose time has come, oldest first, one line per ordering key."""
        ...

    async def mark_delivered(self, record_id: int, at: datetime) -> None:
        """The endpoint accepted the record."""
        ...

    async def mark_failed(
        self, record_id: int, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        """A failed attempt: count it, keep the error, schedule the next or give up."""
        ...

    async def list(self, state: OutboxState, limit: int = 100) -> list[OutboxRecord]:
        """Records in ``state``, newest first (the admin view of dead letters)."""
        ...

    async def replay(self, record_id: int, now: datetime) -> bool:
        """Put a dead record back in line (attempts reset); False if it is not dead."""
        ...

    async def counts(self) -> dict[OutboxState, int]:
        """How many records are in each state."""
        ...


def pick_due(records: Sequence[OutboxRecord], now: datetime, limit: int) -> list[OutboxRecord]:
    """The due-selection rule, shared by stores that filter in Python."""
    blocked: set[str] = set()
    chosen: list[OutboxRecord] = []
    for record in sorted(records, key=lambda r: r.id):
        if record.state != "pending":
            continue
        if record.ordering_key in blocked:
            continue
        blocked.add(record.ordering_key)  # only the head of each line may go
        if record.next_attempt_at <= now:
            chosen.append(record)
            if len(chosen) >= limit:
                break
    return chosen


class MemoryOutboxStore:
    """An in-process store for tests, the demo and the open-data example.

    It has no transaction to join: production uses the hub's SQL store.
    """

    def __init__(self) -> None:
        self._records: dict[int, OutboxRecord] = {}
        self._next_id = 1
        self._lock = asyncio.Lock()

    async def add(self, entry: OutboxEntry, now: datetime) -> OutboxRecord:
        """Store ``entry`` as pending, due now; the same ``event_id`` twice is kept once."""
        async with self._lock:
            for record in self._records.values():
                if record.event_id == entry.event_id:
                    return record
            record = OutboxRecord(
                id=self._next_id,
                event_id=entry.event_id,
                kind=entry.kind,
                resident_id=entry.resident_id,
                ordering_key=entry.ordering_key,
                payload=entry.payload,
                state="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            self._records[record.id] = record
            self._next_id += 1
            return record

    async def due(self, now: datetime, limit: int) -> list[OutboxRecord]:
        """See :meth:`OutboxStore.due`."""
        async with self._lock:
            return pick_due(list(self._records.values()), now, limit)

    async def mark_delivered(self, record_id: int, at: datetime) -> None:
        """See :meth:`OutboxStore.mark_delivered`."""
        async with self._lock:
            record = self._records[record_id]
            self._records[record_id] = replace(
                record, state="delivered", attempts=record.attempts + 1, delivered_at=at
            )

    async def mark_failed(
        self, record_id: int, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        """See :meth:`OutboxStore.mark_failed`."""
        async with self._lock:
            record = self._records[record_id]
            self._records[record_id] = replace(
                record,
                state="dead" if dead else "pending",
                attempts=record.attempts + 1,
                last_error=error[:1000],
                next_attempt_at=next_attempt_at,
            )

    async def list(self, state: OutboxState, limit: int = 100) -> list[OutboxRecord]:
        """See :meth:`OutboxStore.list`."""
        async with self._lock:
            chosen = [r for r in self._records.values() if r.state == state]
            return sorted(chosen, key=lambda r: r.id, reverse=True)[:limit]

    async def replay(self, record_id: int, now: datetime) -> bool:
        """See :meth:`OutboxStore.replay`."""
        async with self._lock:
            record = self._records.get(record_id)
            if record is None or record.state != "dead":
                return False
            self._records[record_id] = replace(
                record, state="pending", attempts=0, next_attempt_at=now
            )
            return True

    async def counts(self) -> dict[OutboxState, int]:
        """See :meth:`OutboxStore.counts`."""
        async with self._lock:
            result: dict[OutboxState, int] = dict.fromkeys(OUTBOX_STATES, 0)
            for record in self._records.values():
                result[record.state] += 1
            return result
