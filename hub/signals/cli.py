"""``teleassist hub weekly-signals [--week YYYY-MM-DD]``: the weekly job, run by hand."""

from __future__ import annotations

import sys
from datetime import date, datetime

from config import ConfigError
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.settings import HubSettings
from hub.signals.job import WeeklyJobSettings, run_week
from hub.signals.weekdata import last_closed_week, week_of


async def run_from_cli(settings: HubSettings, week: date | None, now: datetime) -> int:
    """``teleassist hub weekly-signals [--week DAY]``: run one week by hand; exit status."""
    try:
        job_settings = WeeklyJobSettings.from_hub(settings)
    except ConfigError as err:
        print(f"teleassist hub weekly-signals: {err}", file=sys.stderr)
        return 1
    newest = last_closed_week(now, job_settings.zone)
    target = newest if week is None else week_of(week)
    if target > newest:
        print(
            f"teleassist hub weekly-signals: the week of {target} has not ended yet "
            f"(the last closed week began on {newest})",
            file=sys.stderr,
        )
        return 1
    url = settings.resolved_database_url()
    if settings.migrate_on_start:
        await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        run = await run_week(make_sessionmaker(engine), target, job_settings, now)
    finally:
        await engine.dispose()
    print(
        f"week of {run.week_start}: {run.assessed} residents assessed, "
        f"{run.no_consent} without consent to the social record, "
        f"{run.not_monitored} not monitored all week; {run.events} new events in the outbox"
    )
    return 0
