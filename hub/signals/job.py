"""The weekly risk-and-needs job: every resident's last closed week into the outbox.

Once a local week (Monday 00:00, ``[hub] weekly_signals_timezone``) has been over for
``weekly_signals_delay_s``, the hub reads each resident's records for that week and the
``weekly_signals_history_weeks`` before it (:mod:`hub.signals.gather`, one query per source
and batch of residents), counts them (:mod:`hub.signals.weekdata`) and enqueues the week's
summaries, raised signals and flag changes (:func:`hub.signals.weekly.week_events`).

- Only residents who agreed that the service appears in their social record
  (``residents.consent["wsocial_export"]``, asked on the referral form) are assessed.
- A week in which the service did not run all week (not yet active, suspended, discharged)
  is not assessed; the baseline restarts after it (see :func:`monitored_weeks`).
- Event ids are stable per resident, week and signal: running a week twice (a restart, two
  hub workers, an admin's ``teleassist hub weekly-signals``) enqueues nothing new.
- Each finished week is recorded in ``wsocial_weekly_runs``; at start-up and every
  ``weekly_signals_check_s`` the hub runs the weeks after the newest recorded one (at most
  ``weekly_signals_catch_up_weeks``), so a week missed while the hub was down is caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import ConfigError
from hub.clock import Clock
from hub.outbox.models import OutboxRow
from hub.outbox.store import enqueue
from hub.settings import HubSettings
from hub.signals.gather import ResidentRow, gather_records, resident_batch
from hub.signals.models import WeeklyRunRow
from hub.signals.weekdata import WEEK, last_closed_week, resident_weeks
from hub.signals.weekly import DEFAULT_THRESHOLDS, week_events
from integrations.wsocial.events import EventDecodeError, RiskFlag, RiskKind, decode_event

_LOGGER = logging.getLogger(__name__)

# Each run assesses its week from scratch over the weeks before it, so a flag can only be
# cleared by a run that also sees the week that set it: a fall raises "at risk for falls" for
# ``falls_window_weeks`` and clears ``weeks_to_clear`` quiet weeks later.
MIN_HISTORY_WEEKS = DEFAULT_THRESHOLDS.falls_window_weeks + DEFAULT_THRESHOLDS.weeks_to_clear - 1
DEFAULT_HISTORY_WEEKS = 16
# A social isolation still on is assessed from before it began, up to this far back.
MAX_HISTORY_WEEKS = 52


@dataclass(frozen=True)
class WeeklyJobSettings:
    """The ``weekly_signals_*`` settings of ``[hub]``, checked."""

    zone: ZoneInfo
    delay: timedelta
    check_s: float
    catch_up_weeks: int
    batch_size: int
    history_weeks: int

    @classmethod
    def from_hub(cls, settings: HubSettings) -> WeeklyJobSettings:
        """Check and convert; :class:`ConfigError` says which setting is wrong."""
        try:
            zone = ZoneInfo(settings.weekly_signals_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"[hub] weekly_signals_timezone {settings.weekly_signals_timezone!r} "
                "is not a known time zone"
            ) from None
        checks = (
            ("weekly_signals_delay_s", settings.weekly_signals_delay_s, 0, 6 * 24 * 3600),
            ("weekly_signals_check_s", settings.weekly_signals_check_s, 1, 24 * 3600),
            ("weekly_signals_catch_up_weeks", settings.weekly_signals_catch_up_weeks, 1, 52),
            ("weekly_signals_batch_size", settings.weekly_signals_batch_size, 1, 5000),
            (
                "weekly_signals_history_weeks",
                settings.weekly_signals_history_weeks,
                MIN_HISTORY_WEEKS,
                52,
            ),
        )
        for name, value, low, high in checks:
            if not low <= value <= high:
                raise ConfigError(f"[hub] {name} must be between {low} and {high}, got {value}")
        return cls(
            zone=zone,
            delay=timedelta(seconds=settings.weekly_signals_delay_s),
            check_s=settings.weekly_signals_check_s,
            catch_up_weeks=settings.weekly_signals_catch_up_weeks,
            batch_size=settings.weekly_signals_batch_size,
            history_weeks=settings.weekly_signals_history_weeks,
        )


@dataclass(frozen=True)
class WeekRun:
    """What one run of one week did."""

    week_start: date
    assessed: int
    no_consent: int
    not_monitored: int
    events: int

    @property
    def skipped(self) -> int:
        """Residents left out, for any reason."""
        return self.no_consent + self.not_monitored


@dataclass
class _Counts:
    assessed: int = 0
    no_consent: int = 0
    not_monitored: int = 0
    events: int = 0


def closed_week(now: datetime, settings: WeeklyJobSettings) -> date:
    """The newest week the job may run at ``now`` (over for at least ``delay``)."""
    return last_closed_week(now - settings.delay, settings.zone)


def _span(first: date, last: date) -> tuple[datetime, datetime]:
    # Wide enough for local weeks in any time zone and the last night's small hours.
    return (
        datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=2),
        datetime.combine(last + WEEK, time(0), tzinfo=UTC) + timedelta(days=2),
    )


async def _flags_sent(
    session: AsyncSession, residents: Sequence[int]
) -> dict[int, dict[RiskKind, RiskFlag]]:
    """The last flag sent of each resident and risk (one query for the batch)."""
    latest: dict[int, dict[RiskKind, RiskFlag]] = {}
    rows = await session.execute(
        select(OutboxRow.resident_id, OutboxRow.payload)
        .where(
            OutboxRow.kind == "risk_flag", OutboxRow.resident_id.in_([str(r) for r in residents])
        )
        .order_by(OutboxRow.id)
    )
    for resident_id, payload in rows:
        try:
            event = decode_event(payload)
        except EventDecodeError:
            continue
        if isinstance(event, RiskFlag):
            latest.setdefault(int(resident_id), {})[event.risk] = event
    return latest


def _isolation_set_week(flags: dict[RiskKind, RiskFlag]) -> date | None:
    """The week that set a social-isolation flag still on (``since`` is that week's end)."""
    flag = flags.get("social_isolation")
    return flag.since.date() - WEEK if flag is not None and flag.active else None


def _history_start(week_start: date, set_week: date | None, settings: WeeklyJobSettings) -> date:
    """The first week a resident's run reads: the usual window, or further back for a social
    isolation still on, so the run sees the contact the resident had BEFORE it (otherwise a
    long isolation becomes its own baseline and its flag can never clear)."""
    usual = week_start - WEEK * settings.history_weeks
    if set_week is None:
        return usual
    t = DEFAULT_THRESHOLDS
    before = set_week - WEEK * (t.weeks_to_set + t.baseline_weeks)
    return max(min(usual, before), week_start - WEEK * MAX_HISTORY_WEEKS)


async def _run_batch(
    session: AsyncSession,
    batch: Sequence[ResidentRow],
    week_start: date,
    settings: WeeklyJobSettings,
    now: datetime,
) -> _Counts:
    counts = _Counts()
    consenting = [r for r in batch if r.exports_to_social_record]
    counts.no_consent = len(batch) - len(consenting)
    sent = await _flags_sent(session, [r.id for r in consenting])
    first_week = {
        r.id: _history_start(week_start, _isolation_set_week(sent.get(r.id, {})), settings)
        for r in consenting
    }
    usual = week_start - WEEK * settings.history_weeks
    # One read for the batch; a second, longer one for the few whose isolation is still on.
    usual_group = [r for r in consenting if first_week[r.id] == usual]
    longer = [r for r in consenting if first_week[r.id] < usual]
    records = await gather_records(
        session, usual_group, *_span(usual, week_start), zone=settings.zone
    )
    if longer:
        earliest = min(first_week[r.id] for r in longer)
        records |= await gather_records(
            session, longer, *_span(earliest, week_start), zone=settings.zone
        )
    planned = []
    for resident in consenting:
        first = first_week[resident.id]
        weeks = [first + WEEK * k for k in range((week_start - first) // WEEK + 1)]
        inputs = resident_weeks(records[resident.id], weeks)
        if not inputs or inputs[-1].week_start != week_start:
            counts.not_monitored += 1
            continue
        counts.assessed += 1
        planned += week_events(
            str(resident.id),
            inputs,
            lives_alone=resident.lives_alone,
            activity_sensors=records[resident.id].activity_sensors,
            flags_sent=sent.get(resident.id, {}),
        )
    if planned:
        existing = set(
            await session.scalars(
                select(OutboxRow.event_id).where(OutboxRow.event_id.in_([i for i, _ in planned]))
            )
        )
        for event_id, event in planned:
            # ``enqueue`` checks consent once more (a withdrawal since the batch was read).
            added = event_id not in existing and await enqueue(
                session, event, event_id=event_id, now=now
            )
            if added:
                counts.events += 1
    await session.commit()
    return counts


async def _record_run(
    sessions: async_sessionmaker[AsyncSession], run: WeekRun, now: datetime
) -> None:
    for _ in range(2):
        async with sessions() as session:
            row = await session.get(WeeklyRunRow, run.week_start)
            if row is None:
                session.add(
                    WeeklyRunRow(
                        week_start=run.week_start,
                        finished_at=now,
                        assessed=run.assessed,
                        skipped=run.skipped,
                        events=run.events,
                    )
                )
            else:
                row.finished_at, row.assessed, row.skipped = now, run.assessed, run.skipped
                row.events += run.events
            try:
                await session.commit()
                return
            except IntegrityError:  # another worker recorded the same week meanwhile
                await session.rollback()


async def run_week(
    sessions: async_sessionmaker[AsyncSession],
    week_start: date,
    settings: WeeklyJobSettings,
    now: datetime,
) -> WeekRun:
    """Assess every resident for the week of ``week_start`` (a Monday) and record the run.

    Each batch of residents commits on its own; if another worker enqueued the same events
    at the same moment (a unique-key clash), the batch is read and written once more and
    then finds them there.
    """
    if week_start.weekday() != 0:
        raise ValueError("week_start must be a Monday")
    total = _Counts()
    after = 0
    while True:
        async with sessions() as session:
            batch = await resident_batch(session, after, settings.batch_size)
        if not batch:
            break
        for attempt in (1, 2):
            try:
                async with sessions() as session:
                    counts = await _run_batch(session, batch, week_start, settings, now)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
                _LOGGER.info("weekly signals: events written meanwhile by another worker; again")
        total.assessed += counts.assessed
        total.no_consent += counts.no_consent
        total.not_monitored += counts.not_monitored
        total.events += counts.events
        after = batch[-1].id
    run = WeekRun(week_start, total.assessed, total.no_consent, total.not_monitored, total.events)
    await _record_run(sessions, run, now)
    _LOGGER.info(
        "weekly signals for %s: %d residents assessed, %d without consent, "
        "%d not monitored all week, %d events enqueued",
        week_start,
        run.assessed,
        run.no_consent,
        run.not_monitored,
        run.events,
    )
    return run


async def due_weeks(
    sessions: async_sessionmaker[AsyncSession], settings: WeeklyJobSettings, now: datetime
) -> list[date]:
    """Weeks to run now, oldest first: those after the newest recorded run (all missed ones,
    up to ``catch_up_weeks``), or only the last closed week on a hub that never ran it."""
    target = closed_week(now, settings)
    async with sessions() as session:
        newest = await session.scalar(select(func.max(WeeklyRunRow.week_start)))
    if newest is None:
        return [target]
    missed = []
    week = newest + WEEK
    while week <= target:
        missed.append(week)
        week += WEEK
    if len(missed) > settings.catch_up_weeks:
        _LOGGER.warning(
            "weekly signals: %d weeks missed; only the last %d are caught up (from %s)",
            len(missed),
            settings.catch_up_weeks,
            missed[-settings.catch_up_weeks],
        )
    return missed[-settings.catch_up_weeks :]


# pg_try_advisory_lock key of the weekly job ("wsocial weekly" in ASCII, truncated).
_LOCK_KEY = 0x77736F6369616C77


@contextlib.asynccontextmanager
async def _only_one_worker(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[bool]:
    """On PostgreSQL, hold a session advisory lock on a connection of its own while the job
    runs: with several hub workers one does the work and the others skip the pass (running
    twice would only cost time). If the worker dies, its connection closes and the lock goes
    with it. SQLite serves one hub process: always alone."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as plain:
        connection = await plain.execution_options(isolation_level="AUTOCOMMIT")
        got = bool(await connection.scalar(select(func.pg_try_advisory_lock(_LOCK_KEY))))
        try:
            yield got
        finally:
            if got:
                # If the connection broke (or the hub is stopping), the lock went with it;
                # an error here must not replace the one (or the cancellation) in flight.
                with contextlib.suppress(Exception):
                    await connection.scalar(select(func.pg_advisory_unlock(_LOCK_KEY)))


class WeeklyJob:
    """Owns the weekly schedule inside the hub (started and stopped with the app)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: WeeklyJobSettings,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self.settings = settings
        self._clock = clock
        # Set after every pass (tests await the start-up catch-up with it).
        self.passed = asyncio.Event()
        self.runs: list[WeekRun] = []

    async def run_due(self) -> list[WeekRun]:
        """Run every due week, oldest first (nothing if another hub worker is at it)."""
        done = []
        async with _only_one_worker(self._sessions) as alone:
            if not alone:
                _LOGGER.debug("weekly signals: another hub worker is running them")
                return []
            for week in await due_weeks(self._sessions, self.settings, self._clock()):
                done.append(await run_week(self._sessions, week, self.settings, self._clock()))
        self.runs += done
        return done

    def seconds_until_next(self) -> float:
        """Until the next week is due, but at most ``check_s`` (the clock may jump)."""
        now = self._clock()
        following = closed_week(now, self.settings) + 2 * WEEK
        due = datetime.combine(following, time(0), tzinfo=self.settings.zone)
        due += self.settings.delay
        return max(1.0, min(self.settings.check_s, (due - now).total_seconds()))

    async def run(self) -> None:
        """Catch up, then wait for the next week; a failure is retried at the next check."""
        while True:
            try:
                await self.run_due()
            except Exception:  # a database hiccup must not end the schedule
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the hub is stopping: an error met on the way out is not a retry
                _LOGGER.exception(
                    "weekly signals failed; retrying in %.0f s", self.settings.check_s
                )
            self.passed.set()
            await asyncio.sleep(self.seconds_until_next())


WEEKLY_JOB = web.AppKey("weekly_signals_job", WeeklyJob)
