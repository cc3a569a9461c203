"""Isolating events the database refuses, so one bad row never holds every later event.

A batch insert is one statement: one row the database refuses (a constraint, a value it
cannot hold, a trigger) fails the whole batch, and retrying the batch as it is fails again,
for ever, with every later event (another home's panic included) queued behind it. When a
batch fails with a *refusal* (not with the database being away), :func:`isolate` splits it
in halves until the refused events stand alone; the rest is stored. The refused ones go to
``ingest_dead_letters`` with the reason (:func:`quarantine`); the ingester counts them, logs
them and still hands an alarm-capable one to the alarm engine, so a panic is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

import msgspec
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import DeadLetterEvent
from hub.ingest.dedup import MessageKey
from hub.ingest.events import IngestedEvent

_LOGGER = logging.getLogger(__name__)
REASON_LENGTH = 500

T = TypeVar("T")


def is_refusal(err: BaseException) -> bool:
    """Whether ``err`` refuses the data rather than says the database is away.

    Connection loss, timeouts, locks (SQLite's "database is locked") and a missing table are
    the database's state: retrying later is right. A constraint, a value the column cannot
    hold, a trigger's refusal or a value that cannot even be sent is about the row.
    """
    if isinstance(err, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError):
        return False
    if isinstance(err, exc.IntegrityError | exc.DataError | exc.InternalError):
        return True
    if isinstance(err, exc.DBAPIError):
        # asyncpg's RaiseError (a trigger) and similar arrive as a plain DBAPIError.
        return not isinstance(err, exc.ProgrammingError | exc.NotSupportedError)
    # Not even sent: a value the driver cannot encode (a StatementError wrapping it).
    return isinstance(err, exc.StatementError)


def reason_of(err: BaseException) -> str:
    """A short reason for the dead letter (the database's own message)."""
    origin = getattr(err, "orig", None) or err
    return f"{type(origin).__name__}: {origin}"[:REASON_LENGTH]


@dataclass
class Isolation(Generic[T]):
    """What :func:`isolate` managed: row ids of the stored items' events, the items refused
    with their reason, and (the database went away meanwhile) the items still to write."""

    stored: dict[MessageKey, int] = field(default_factory=dict)
    refused: list[tuple[T, str]] = field(default_factory=list)
    remaining: list[T] = field(default_factory=list)


async def isolate(
    items: Sequence[T], write: Callable[[Sequence[T]], Awaitable[dict[MessageKey, int]]]
) -> Isolation[T]:
    """Write ``items`` by halves until each refused one stands alone.

    ``write`` stores a part in its own transaction (committed or rolled back whole). Parts are
    written in order; each committed part stays committed. k refused items among n cost about
    2·k·log2(n) writes. Stops at the first error that is not a refusal, leaving that part and
    everything after it in ``remaining``.
    """
    result: Isolation[T] = Isolation()
    parts: list[Sequence[T]] = [items]
    while parts:
        part = parts.pop(0)
        try:
            result.stored.update(await write(part))
        except Exception as err:
            if not is_refusal(err):
                result.remaining = [item for p in (part, *parts) for item in p]
                return result
            if len(part) == 1:
                result.refused.append((part[0], reason_of(err)))
            else:
                middle = len(part) // 2
                parts[:0] = [part[:middle], part[middle:]]
    return result


def dead_letter_json(event: IngestedEvent) -> str:
    """The event as JSON text; control characters (NUL included) come out escaped."""
    return msgspec.json.encode(
        {
            "device_id": event.device_id,
            "device_type": event.device_type,
            "home_id": event.home_id,
            "resident_id": event.resident_id,
            "message_id": event.message_id,
            "ts": event.device_ts,
            "received_at": event.received_at,
            "seq": event.seq,
            "type": event.type,
            "body": msgspec.to_builtins(event.body),
        }
    ).decode()


def _printable(text: str, length: int) -> str:
    # The dead letter must be storable even where the event was not: no NUL or surrogates.
    clean = text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode()
    return clean[:length]


async def quarantine(
    sessionmaker: async_sessionmaker[AsyncSession],
    event: IngestedEvent,
    reason: str,
    now: datetime,
) -> bool:
    """Store ``event`` as a dead letter (idempotent per device and message id).

    Returns ``False`` if even that failed; the caller then logs the whole event, the last
    place it is kept.
    """
    row = {
        "device_id": _printable(event.device_id, 64),
        "message_id": _printable(event.message_id, 64),
        "type": _printable(event.type, 32),
        "received_at": event.received_at,
        "quarantined_at": now,
        "reason": _printable(reason, REASON_LENGTH),
        "event": _printable(dead_letter_json(event), 1_000_000),
    }
    try:
        async with sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await session.execute(
                insert(DeadLetterEvent)
                .values(row)
                .on_conflict_do_nothing(index_elements=["device_id", "message_id"])
            )
            await session.commit()
    except Exception:
        _LOGGER.exception("dead letter of %s/%s not stored", event.device_id, event.message_id)
        return False
    return True
