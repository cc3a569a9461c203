"""Limits that hold under concurrency and across hub workers (sign-ins, key-safe reveals).

Each try is ONE atomic statement: ``INSERT … ON CONFLICT DO UPDATE SET count = count + 1
… RETURNING count`` on the key's row (PostgreSQL locks the row for the update; SQLite has
one writer), so of N parallel tries exactly the first ``limit`` see a count within the
limit — no read-then-write race. The window is fixed and starts with the first try
after the previous one ended; refused tries count too but never extend it.

A try that should not count after all (a sign-in that succeeded) is given back with
:func:`release`, or every try of a key is dropped with :func:`forget`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import UtcDateTime
from hub.db.models import ThrottleCounter

KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``limit`` tries per ``window`` for one ``kind`` of key."""

    kind: str
    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Slot:
    """The answer to one try: allowed or not, and when the window ends."""

    allowed: bool
    count: int
    retry_after_s: int = 0


async def take(session: AsyncSession, limit: Limit, key: str, now: datetime) -> Slot:
    """Count one try of ``key`` against ``limit``; the caller commits at once.

    Commit before doing the slow part (a password check): the row stays locked on
    PostgreSQL until then, which is what serializes parallel tries of one key.
    """
    key = key[:KEY_LENGTH]
    table = ThrottleCounter.__table__
    expired = table.c.window_start <= now - limit.window
    moment = literal(now, UtcDateTime())
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(kind=limit.kind, key=key, window_start=now, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.kind, table.c.key],
        set_={
            "count": case((expired, 1), else_=table.c.count + 1),
            "window_start": case((expired, moment), else_=table.c.window_start),
        },
    ).returning(table.c.count, table.c.window_start)
    count, started = (await session.execute(statement)).one()
    if count == 1:
        # A new window for this key: a good moment to drop the rows whose window ended.
        await session.execute(
            delete(ThrottleCounter).where(
                ThrottleCounter.kind == limit.kind,
                ThrottleCounter.window_start <= now - limit.window,
            )
        )
    if count <= limit.limit:
        return Slot(True, count)
    wait = (started + limit.window - now).total_seconds()
    return Slot(False, count, max(1, int(wait) + (wait % 1 > 0)))


async def release(session: AsyncSession, limit: Limit, key: str) -> None:
    """Give one try of ``key`` back (the caller commits)."""
    await session.execute(
        update(ThrottleCounter)
        .where(
            ThrottleCounter.kind == limit.kind,
            ThrottleCounter.key == key[:KEY_LENGTH],
            ThrottleCounter.count > 0,
        )
        .values(count=ThrottleCounter.count - 1)
    )


async def forget(session: AsyncSession, limit: Limit, key: str) -> None:
    """Drop every counted try of ``key`` (the caller commits), e.g. after a good sign-in."""
    await session.execute(
        delete(ThrottleCounter).where(
            ThrottleCounter.kind == limit.kind, ThrottleCounter.key == key[:KEY_LENGTH]
        )
    )
