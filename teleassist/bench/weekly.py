"""``teleassist bench weekly-signals``: the hub's weekly job on a seeded database.

Seeds an EMPTY database (a temporary SQLite file by default, or ``--database-url``) with
residents who each have a motion sensor (``--per-hour`` events in each of 10 active hours a
day, one at night) and a message a day for ``--weeks`` weeks, then times the job for the last
week twice: the first run enqueues, the second finds everything there.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time as wallclock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.models import Device, Home, Resident, StoredEvent
from hub.family.models import Conversation, ConversationMember, Message
from hub.signals.job import DEFAULT_HISTORY_WEEKS, WeeklyJobSettings, run_week
from teleassist.config import Config

NAME = "weekly-signals"
HELP = "the weekly risk-signals job (gather, assess, enqueue) on a seeded database"

_ZONE = ZoneInfo("Europe/Madrid")
_FIRST = date(2026, 7, 27)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Population size and where to put it."""
    parser.add_argument("--residents", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=17, help="weeks of records (job: 16 + 1)")
    parser.add_argument("--per-hour", type=int, default=4, help="motion events per active hour")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--database-url", default="", help="an EMPTY database (default: SQLite)")


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=_ZONE).astimezone(UTC)


async def _seed(
    sessions: async_sessionmaker[AsyncSession], residents: int, weeks: int, per_hour: int
) -> int:
    ids = range(1, residents + 1)
    joined = _local(_FIRST - timedelta(days=1), 9)
    seq = 0
    async with sessions() as session:
        if await session.scalar(select(func.count()).select_from(Resident)):
            raise SystemExit("teleassist bench weekly-signals: the database is not empty")
        await session.execute(insert(Home), [{"id": i, "address": f"bench {i}"} for i in ids])
        await session.execute(
            insert(Resident),
            [
                {
                    "id": i,
                    "home_id": i,
                    "name": f"bench {i}",
                    "consent": {"wsocial_export": True},
                    "created_at": joined,
                }
                for i in ids
            ],
        )
        await session.execute(
            insert(Device), [{"id": f"pir-{i}", "home_id": i, "type": "motion"} for i in ids]
        )
        await session.execute(
            insert(Conversation),
            [{"id": i, "kind": "direct", "direct_key": f"r:{i}|u:{i}"} for i in ids],
        )
        await session.execute(
            insert(ConversationMember), [{"conversation_id": i, "party": f"r:{i}"} for i in ids]
        )
        for i in ids:
            rows: list[dict[str, Any]] = []
            messages: list[dict[str, Any]] = []
            for offset in range(weeks * 7):
                day = _FIRST + timedelta(days=offset)
                moments = [
                    _local(day, hour, k * (60 // per_hour))
                    for hour in range(8, 18)
                    for k in range(per_hour)
                ]
                moments.append(_local(day + timedelta(days=1), 3))
                for at in moments:
                    seq += 1
                    rows.append(
                        {
                            "message_id": f"bench-{seq}",
                            "device_id": f"pir-{i}",
                            "type": "motion",
                            "ts": at,
                            "received_at": at,
                            "seq": seq,
                            "body": {"type": "motion"},
                        }
                    )
                messages.append(
                    {
                        "conversation_id": i,
                        "sender": f"r:{i}",
                        "kind": "text",
                        "created_at": _local(day, 19),
                    }
                )
            await session.execute(insert(StoredEvent), rows)
            await session.execute(insert(Message), messages)
        await session.commit()
    return seq


async def _bench(args: argparse.Namespace, url: str) -> dict[str, float]:
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        started = wallclock.perf_counter()
        events = await _seed(sessions, args.residents, args.weeks, args.per_hour)
        seeded = wallclock.perf_counter() - started
        settings = WeeklyJobSettings(
            zone=_ZONE,
            delay=timedelta(hours=1),
            check_s=600.0,
            catch_up_weeks=4,
            batch_size=args.batch_size,
            history_weeks=min(DEFAULT_HISTORY_WEEKS, args.weeks - 1),
        )
        last = _FIRST + timedelta(weeks=args.weeks - 1)
        now = _local(last + timedelta(days=8), 9)
        times = []
        runs = []
        for _ in range(2):
            started = wallclock.perf_counter()
            runs.append(await run_week(sessions, last, settings, now))
            times.append(wallclock.perf_counter() - started)
    finally:
        await engine.dispose()
    return {
        "residents": args.residents,
        "device_events": events,
        "seed_s": round(seeded, 2),
        "first_run_s": round(times[0], 2),
        "first_run_events": runs[0].events,
        "second_run_s": round(times[1], 2),
        "second_run_events": runs[1].events,
        "ms_per_resident": round(1000 * times[1] / max(1, runs[1].assessed), 1),
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Seed, run twice, print the figures."""
    if args.residents < 1 or args.weeks < 4 or args.per_hour not in range(1, 61):
        raise SystemExit("teleassist bench weekly-signals: residents ≥ 1, weeks ≥ 4, per-hour 1–60")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite'}"
        figures = asyncio.run(_bench(args, url))
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0
