"""``teleassist export``: data sets for outside use.

``teleassist export opendata --out DIR [--demo] [--k 10] [--months 3]`` writes the open-data
tables (see :mod:`integrations.wsocial.opendata`). With ``--demo`` it simulates a population;
otherwise it reads the hub's database (``--database-url`` or ``[hub] database_url``): the
service and alarm events of the wSocial outbox and each resident's ABSS area.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from config import Config
from integrations.wsocial.opendata import (
    DEFAULT_K,
    MIN_K,
    AlarmFact,
    ServicePeriod,
    build_tables,
    facts_from_events,
    write_tables,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``export opendata`` and its options."""
    sub = parser.add_subparsers(dest="export_what", metavar="DATASET", required=True)
    opendata = sub.add_parser("opendata", help="aggregated, anonymised tables (CSV + Parquet)")
    opendata.add_argument("--out", type=Path, required=True, help="output folder")
    opendata.add_argument("--demo", action="store_true", help="use a simulated population")
    opendata.add_argument(
        "--k",
        type=int,
        default=DEFAULT_K,
        help=f"minimum residents behind any published number (at least {MIN_K})",
    )
    opendata.add_argument("--months", type=int, default=3, help="how many months")
    opendata.add_argument(
        "--until", help="last month, YYYY-MM (default: the previous calendar month)"
    )
    opendata.add_argument("--seed", type=int, default=1, help="simulation seed (--demo)")
    opendata.add_argument("--database-url", help="hub database (default: [hub] settings)")


def _month_list(until: str | None, count: int) -> list[str]:
    if until is None:
        today = datetime.now(UTC).date()
        year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    else:
        try:
            year, month = (int(part) for part in until.split("-"))
            date(year, month, 1)
        except ValueError:
            raise SystemExit(f"--until must be YYYY-MM, got {until!r}") from None
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(months)


def demo_facts(months: list[str], seed: int) -> tuple[list[ServicePeriod], list[AlarmFact]]:
    """A simulated population's services and alarms over ``months``."""
    from integrations.wsocial.population import simulate_alarms, simulate_population

    first = date.fromisoformat(f"{months[0]}-01")
    residents = simulate_population(seed=seed, first_monday=first)
    services = [ServicePeriod(r.resident_id, r.abss_area, r.service_start, None) for r in residents]
    alarms = [
        AlarmFact(a.resident_id, a.abss_area, a.raised_at, a.kind, a.outcome, a.answer_seconds)
        for a in simulate_alarms(residents, first, len(months), seed=seed)
    ]
    return services, alarms


async def database_facts(url: str) -> tuple[list[ServicePeriod], list[AlarmFact]]:
    """Services and alarms from the hub database's outbox, with each resident's area."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from integrations.wsocial.events import EventDecodeError, decode_event

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT payload FROM wsocial_outbox WHERE kind IN ('service', 'alarm') "
                    # Withheld by a withdrawal of consent: never part of the record.
                    "AND state != 'withdrawn'"
                )
            )
            events = []
            for (payload,) in rows:
                try:
                    events.append(decode_event(payload))
                except EventDecodeError:
                    continue  # a dead letter that never decoded; it is not a fact
            areas_rows = await conn.execute(
                text(
                    "SELECT residents.id, homes.abss_area FROM residents "
                    "JOIN homes ON residents.home_id = homes.id"
                )
            )
            areas = {str(rid): area or "unknown" for rid, area in areas_rows}
    finally:
        await engine.dispose()
    return facts_from_events(events, areas)


def _database_url(args: argparse.Namespace, config: Config) -> str:
    if args.database_url:
        return str(args.database_url)
    hub = config.sections.get("hub", {})
    if hub.get("database_url"):
        return str(hub["database_url"])
    data_dir = Path(str(hub.get("data_dir", "var/hub")))
    return f"sqlite+aiosqlite:///{(data_dir / 'hub.sqlite').resolve()}"


def run(args: argparse.Namespace, config: Config) -> int:
    """Write the chosen data set and list the files."""
    if args.k < MIN_K:
        print(f"teleassist export: --k must be at least {MIN_K}", file=sys.stderr)
        return 2
    if args.months < 1:
        print("teleassist export: --months must be at least 1", file=sys.stderr)
        return 2
    months = _month_list(args.until, args.months)
    if args.demo:
        services, alarms = demo_facts(months, args.seed)
    else:
        url = _database_url(args, config)
        try:
            if url.startswith("sqlite") and ":///" in url:
                path = Path(url.split(":///", 1)[1])
                if not path.is_file():
                    # Connecting would create an empty file: say it plainly instead.
                    raise FileNotFoundError(f"no hub database at {path}")
            services, alarms = asyncio.run(database_facts(url))
        except Exception as err:  # any database problem: say which and stop
            print(f"teleassist export: cannot read the hub database: {err}", file=sys.stderr)
            return 1
    tables = build_tables(services, alarms, months, k=args.k)
    for path in write_tables(tables, args.out, args.k):
        print(path)
    return 0
