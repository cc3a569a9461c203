"""The weekly signals job on real databases: gathered, assessed, enqueued once, caught up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.db.models import Resident
from hub.outbox.consent import set_social_record_consent
from hub.outbox.models import OutboxRow
from hub.settings import HubSettings
from hub.signals.gather import resident_batch
from hub.signals.job import (
    _LOCK_KEY,
    WEEKLY_JOB,
    WeeklyJob,
    WeeklyJobSettings,
    _run_batch,
    due_weeks,
    run_week,
)
from hub.signals.models import WeeklyRunRow
from hub.visor.data import load_visor
from integrations.wsocial.events import (
    ActivitySummary,
    AnySocialEvent,
    CheckInSummary,
    RiskFlag,
    RiskSignal,
    decode_event,
)
from integrations.wsocial.mapping import to_resources, transaction_bundle
from teleassist.cli import main
from teleassist.config import ConfigError
from tests.hub.weekly_seed import (
    ALONE,
    FIRST_WEEK,
    MADRID,
    STEADY,
    WEEKS,
    WITHDRAWN,
    Week,
    add_group,
    add_resident,
    local,
    suspend,
)

LAST_WEEK = FIRST_WEEK + timedelta(weeks=WEEKS - 1)  # Monday 23 November 2026
NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)  # Monday morning after it
SETTINGS = WeeklyJobSettings(
    zone=MADRID,
    delay=timedelta(hours=1),
    check_s=600.0,
    catch_up_weeks=4,
    batch_size=2,  # four residents: two batches
    history_weeks=6,
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def people(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Four residents: steady, withdrawing (with a fall), without consent, in hospital."""
    async with sessions() as session:
        group = await add_group(session)
        steady = await add_resident(session, "steady", [STEADY] * WEEKS, group=group)
        fading = [STEADY] * (WEEKS - 2) + [WITHDRAWN, Week(**{**WITHDRAWN.__dict__, "falls": 1})]
        withdrawn = await add_resident(session, "withdrawn", fading, lives_alone=True, group=group)
        private = await add_resident(session, "private", [STEADY] * WEEKS, consent=False)
        away = await add_resident(session, "away", [STEADY] * WEEKS)
        await suspend(session, away, local(LAST_WEEK + timedelta(days=2), 10))
        await session.commit()
    return {
        "steady": steady.id,
        "withdrawn": withdrawn.id,
        "private": private.id,
        "away": away.id,
    }


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> dict[str, AnySocialEvent]:
    async with sessions() as session:
        rows = (await session.execute(select(OutboxRow.event_id, OutboxRow.payload))).all()
    return {event_id: decode_event(payload) for event_id, payload in rows}


def assert_valid_fhir(events: list[AnySocialEvent]) -> None:
    resources = [r for e in events for r in to_resources(e)]
    for resource in resources:
        data = resource.as_json()
        get_fhir_model_class(data["resourceType"]).model_validate(data)
    Bundle.model_validate(transaction_bundle(resources))


def signals_of(events: dict[str, AnySocialEvent], resident: int) -> set[str]:
    return {
        e.risk
        for e in events.values()
        if isinstance(e, RiskSignal) and e.resident_id == str(resident)
    }


async def test_a_withdrawing_resident_is_flagged_a_steady_one_is_not(
    sessions: async_sessionmaker[AsyncSession], people: dict[str, int]
) -> None:
    run = await run_week(sessions, LAST_WEEK, SETTINGS, NOW)
    assert (run.assessed, run.no_consent, run.not_monitored) == (2, 1, 1)
    events = await outbox(sessions)
    assert run.events == len(events)
    assert_valid_fhir(list(events.values()))
    by_resident = {e.resident_id for e in events.values()}
    assert by_resident == {str(people["steady"]), str(people["withdrawn"])}

    steady = str(people["steady"])
    assert set(events) == {
        f"checkins-{steady}-20261123",
        f"activity-{steady}-20261123",
    } | {i for i, e in events.items() if e.resident_id != steady}
    summary = events[f"activity-{steady}-20261123"]
    assert isinstance(summary, ActivitySummary)
    # Ten local hours with movement a day plus the hour of the night-time bed exit, one
    # night event a night, no care alarms (the weekly low-battery alarm is technical).
    assert (summary.active_hours_per_day, summary.night_events_per_night) == (11.0, 1.0)
    assert summary.alarms == 0
    check_ins = events[f"checkins-{steady}-20261123"]
    assert isinstance(check_ins, CheckInSummary)
    assert (check_ins.expected, check_ins.done) == (7, 7)
    assert signals_of(events, people["steady"]) == set()

    withdrawn = str(people["withdrawn"])
    assert signals_of(events, people["withdrawn"]) == {
        "activity_decline",
        "missed_check_ins",
        "social_contact_decline",
        "social_isolation",
        "at_risk_for_falls",
        "lives_alone",
    }
    flags = {
        e.risk: e.active
        for e in events.values()
        if isinstance(e, RiskFlag) and e.resident_id == withdrawn
    }
    assert flags == {"social_isolation": True, "at_risk_for_falls": True, "lives_alone": True}
    # Lives alone stood from the first week of the run's history: sent on this first run.
    first_seen = LAST_WEEK - timedelta(weeks=SETTINGS.history_weeks)
    assert f"flag-lives_alone-on-{withdrawn}-{first_seen:%Y%m%d}" in events
    activity = events[f"activity-{withdrawn}-20261123"]
    assert isinstance(activity, ActivitySummary)
    assert (activity.active_hours_per_day, activity.alarms) == (5.0, 1)
    decline = next(
        e
        for e in events.values()
        if isinstance(e, RiskSignal) and e.resident_id == withdrawn and e.risk == "activity_decline"
    )
    assert "5" in decline.explanation["en"]

    # The visor shows what the job sent: the standing flags and this week's signals.
    async with sessions() as session:
        visor = await load_visor(session, people["withdrawn"])
        quiet = await load_visor(session, people["steady"])
    assert {f.risk for f in visor.flags} == {"social_isolation", "at_risk_for_falls", "lives_alone"}
    assert "social_isolation" in {s.risk for s in visor.signals}
    assert visor.check_ins[-1].done == 3
    assert (quiet.flags, quiet.signals) == ((), ())

    # The same week again (a restart, a second worker, an admin): nothing new.
    again = await run_week(sessions, LAST_WEEK, SETTINGS, NOW + timedelta(hours=1))
    assert again.events == 0
    assert again.assessed == 2
    assert await outbox(sessions) == events
    async with sessions() as session:
        row = await session.get(WeeklyRunRow, LAST_WEEK)
    assert row is not None
    assert (row.assessed, row.skipped, row.events) == (2, 2, len(events))


async def test_no_activity_summary_without_activity_sensors(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        tablet_only = await add_resident(session, "tablet-only", [STEADY] * WEEKS, sensors=False)
        await session.commit()
    run = await run_week(sessions, LAST_WEEK, SETTINGS, NOW)
    assert run.assessed == 1
    assert set(await outbox(sessions)) == {f"checkins-{tablet_only.id}-20261123"}


async def test_a_long_isolation_keeps_its_flag_and_clears_it_when_contact_returns(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Ten usual weeks, twenty without any contact (far longer than the 6-week history of
    # these settings), then contact again.
    first = date(2026, 1, 5)
    lives = [STEADY] * 10 + [ALONE] * 20 + [STEADY] * 2
    async with sessions() as session:
        resident = await add_resident(session, "alone", lives, first_week=first)
        await session.commit()
    for index in range(3, len(lives)):
        await run_week(sessions, first + timedelta(weeks=index), SETTINGS, NOW)
    flags = [
        (e.since, e.active, e.until)
        for e in (await outbox(sessions)).values()
        if isinstance(e, RiskFlag) and e.risk == "social_isolation"
    ]
    set_at = datetime.combine(first + timedelta(weeks=12), datetime.min.time(), tzinfo=UTC)
    cleared_at = datetime.combine(first + timedelta(weeks=32), datetime.min.time(), tzinfo=UTC)
    assert sorted(flags, key=lambda f: f[1], reverse=True) == [
        (set_at, True, None),  # the second week without contact (week 11) ends
        (set_at, False, cleared_at),  # the second week with contact again (week 31) ends
    ]
    assert {e.resident_id for e in (await outbox(sessions)).values()} == {str(resident.id)}


async def test_the_first_run_sends_the_flags_already_standing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Alone for four weeks before the job first runs: the isolation was confirmed in the
    # second of them; the record gets that flag now, under the id of the week that set it.
    async with sessions() as session:
        resident = await add_resident(session, "quiet", [STEADY] * 4 + [ALONE] * 4)
        await session.commit()
    await run_week(sessions, LAST_WEEK, SETTINGS, NOW)
    set_week = FIRST_WEEK + timedelta(weeks=5)
    flags = {i: e for i, e in (await outbox(sessions)).items() if isinstance(e, RiskFlag)}
    assert set(flags) == {f"flag-social_isolation-on-{resident.id}-{set_week:%Y%m%d}"}
    (flag,) = flags.values()
    assert flag.active
    assert flag.since == datetime.combine(set_week + timedelta(weeks=1), datetime.min.time(), UTC)
    # Later runs know the record has it: nothing again.
    again = await run_week(sessions, LAST_WEEK, SETTINGS, NOW)
    assert again.events == 0


async def test_missed_weeks_are_caught_up_once(
    sessions: async_sessionmaker[AsyncSession], people: dict[str, int]
) -> None:
    # Never run: only the last closed week is due (no back-fill of history).
    assert await due_weeks(sessions, SETTINGS, NOW) == [LAST_WEEK]
    # Before Monday 01:00 local the week is not due yet.
    assert await due_weeks(sessions, SETTINGS, local(LAST_WEEK + timedelta(weeks=1), 0, 30)) == [
        LAST_WEEK - timedelta(weeks=1)
    ]
    three_before = LAST_WEEK - timedelta(weeks=3)
    await run_week(sessions, three_before, SETTINGS, NOW)
    job = WeeklyJob(sessions, SETTINGS, ManualClock(NOW))
    done = await job.run_due()
    assert [r.week_start for r in done] == [
        LAST_WEEK - timedelta(weeks=2),
        LAST_WEEK - timedelta(weeks=1),
        LAST_WEEK,
    ]
    events = await outbox(sessions)
    steady = people["steady"]
    for week in (three_before, *(r.week_start for r in done)):
        assert f"activity-{steady}-{week:%Y%m%d}" in events
    assert await job.run_due() == []
    assert await outbox(sessions) == events
    # The week after is due a week later, at Monday 01:00 local.
    assert job.seconds_until_next() == 600.0
    soon = local(LAST_WEEK + timedelta(days=14), 0, 55)
    assert WeeklyJob(sessions, SETTINGS, ManualClock(soon)).seconds_until_next() == 300.0


async def test_catching_up_stops_at_the_limit(
    sessions: async_sessionmaker[AsyncSession],
    people: dict[str, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await run_week(sessions, LAST_WEEK - timedelta(weeks=5), SETTINGS, NOW)
    limited = WeeklyJobSettings(**{**SETTINGS.__dict__, "catch_up_weeks": 2})
    with caplog.at_level(logging.WARNING, logger="hub.signals.job"):
        weeks = await due_weeks(sessions, limited, NOW)
    assert weeks == [LAST_WEEK - timedelta(weeks=1), LAST_WEEK]
    assert "5 weeks missed" in caplog.text


async def test_a_week_must_start_on_monday(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(ValueError, match="Monday"):
        await run_week(sessions, LAST_WEEK + timedelta(days=1), SETTINGS, NOW)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("weekly_signals_timezone", "Mars/Olympus", "time zone"),
        ("weekly_signals_batch_size", 0, "weekly_signals_batch_size"),
        ("weekly_signals_history_weeks", 12, "between 13 and 52"),
        ("weekly_signals_delay_s", -1.0, "weekly_signals_delay_s"),
        ("weekly_signals_check_s", 0.0, "weekly_signals_check_s"),
        ("weekly_signals_catch_up_weeks", 0, "weekly_signals_catch_up_weeks"),
    ],
)
def test_bad_settings_are_refused(field: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        WeeklyJobSettings.from_hub(HubSettings(**{field: value}))  # type: ignore[arg-type]


@pytest.fixture
def hub_clock() -> ManualClock:
    """The hub of this module starts on the Monday morning after the last seeded week."""
    return ManualClock(NOW)


@pytest.fixture
def hub_settings(hub_settings: HubSettings) -> HubSettings:
    """The suite's hub settings with the weekly job on (the suite switches it off)."""
    return msgspec.structs.replace(hub_settings, weekly_signals_enabled=True)


@pytest.fixture
async def ran_before(sessions: async_sessionmaker[AsyncSession]) -> date:
    """The hub last ran the job three weeks before the last closed one, then stopped."""
    week = LAST_WEEK - timedelta(weeks=3)
    async with sessions() as session:
        session.add(WeeklyRunRow(week_start=week, finished_at=local(week, 12) + timedelta(days=7)))
        await session.commit()
    return week


async def test_the_hub_catches_up_when_it_starts(
    people: dict[str, int],
    sessions: async_sessionmaker[AsyncSession],
    ran_before: date,
    hub_client: TestClient[Any, Any],
) -> None:
    job = hub_client.app[WEEKLY_JOB]
    await job.passed.wait()
    missed = [ran_before + timedelta(weeks=k) for k in (1, 2, 3)]
    assert [r.week_start for r in job.runs] == missed
    events = await outbox(sessions)
    for week in missed:
        assert f"activity-{people['withdrawn']}-{week:%Y%m%d}" in events
    assert f"flag-social_isolation-on-{people['withdrawn']}-20261123" in events
    async with sessions() as session:
        weeks = list(await session.scalars(select(WeeklyRunRow.week_start)))
    assert sorted(weeks) == [ran_before, *missed]


async def test_the_admin_command(
    database_url: str, people: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["hub", "--database-url", database_url, "weekly-signals"]
    # The command runs its own event loop, as from a shell.
    assert await asyncio.to_thread(main, [*base, "--week", "2026-11-26"]) == 0  # any day
    out = capsys.readouterr().out
    assert "week of 2026-11-23: 2 residents assessed" in out
    assert "1 without consent" in out
    assert "1 not monitored" in out
    assert await asyncio.to_thread(main, [*base, "--week", "2026-11-23"]) == 0
    assert "; 0 new events" in capsys.readouterr().out
    assert await asyncio.to_thread(main, [*base, "--week", "2999-01-04"]) == 1
    assert "has not ended yet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--week", "last monday"])
    assert exit_info.value.code == 2
    assert "is not a date" in capsys.readouterr().err


async def test_the_admin_command_refuses_bad_settings(
    monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEASSIST_HUB__WEEKLY_SIGNALS_TIMEZONE", "Nowhere/Land")
    assert (
        await asyncio.to_thread(main, ["hub", "--database-url", database_url, "weekly-signals"])
        == 1
    )
    assert "time zone" in capsys.readouterr().err


async def test_two_hub_workers_do_the_week_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession], people: dict[str, int]
) -> None:
    first = WeeklyJob(sessions, SETTINGS, ManualClock(NOW))
    second = WeeklyJob(sessions, SETTINGS, ManualClock(NOW))
    results = await asyncio.gather(first.run_due(), second.run_due())
    weeks = [run.week_start for runs in results for run in runs]
    if database_url.startswith("postgresql"):
        assert weeks == [LAST_WEEK]  # the advisory lock: the other worker skipped its pass
    else:
        assert set(weeks) == {LAST_WEEK}  # one SQLite hub; both may run, harmlessly
    events = await outbox(sessions)
    assert sum(run.events for runs in results for run in runs) == len(events)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WeeklyRunRow)) == 1


async def test_a_pass_is_skipped_while_another_worker_holds_the_job(
    database_url: str, sessions: async_sessionmaker[AsyncSession], people: dict[str, int]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the advisory lock is PostgreSQL's")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as other:
            await other.scalar(select(func.pg_advisory_lock(_LOCK_KEY)))
            job = WeeklyJob(sessions, SETTINGS, ManualClock(NOW))
            assert await job.run_due() == []
            await other.scalar(select(func.pg_advisory_unlock(_LOCK_KEY)))
        assert [run.week_start for run in await job.run_due()] == [LAST_WEEK]
    finally:
        await engine.dispose()


async def test_a_stopping_hub_stops_the_job_even_if_the_pass_fails_on_the_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled mid-pass, the pass's clean-up may fail (its connection is gone): that is
    not a failure to retry in ``check_s`` seconds, the task must end (it once held up a
    hub's shutdown for the whole retry interval)."""
    started = asyncio.Event()

    async def stuck_pass(self: WeeklyJob) -> list[Any]:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("connection is closed") from None
        return []

    monkeypatch.setattr(WeeklyJob, "run_due", stuck_pass)
    job = WeeklyJob(None, SETTINGS, ManualClock(NOW))  # type: ignore[arg-type]
    task = asyncio.create_task(job.run())
    await started.wait()
    task.cancel()
    with pytest.raises((asyncio.CancelledError, RuntimeError)):
        await asyncio.wait_for(task, timeout=30)
    assert task.done()
    assert not job.passed.is_set()  # it did not go round to sleep and retry


async def test_withdrawing_consent_stops_the_weekly_events_and_withholds_the_waiting_ones(
    sessions: async_sessionmaker[AsyncSession], people: dict[str, int]
) -> None:
    steady = str(people["steady"])
    await run_week(sessions, LAST_WEEK - timedelta(weeks=1), SETTINGS, NOW)
    async with sessions() as session:
        waiting = await session.scalar(select(func.count()).where(OutboxRow.resident_id == steady))
        assert waiting
        resident = await session.get(Resident, people["steady"])
        assert resident is not None
        withheld = await set_social_record_consent(
            session, resident, False, actor="coord", reason="told the centre by phone", now=NOW
        )
        await session.commit()
    assert withheld == waiting
    run = await run_week(sessions, LAST_WEEK, SETTINGS, NOW)
    assert (run.assessed, run.no_consent) == (1, 2)
    async with sessions() as session:
        states = (
            await session.scalars(select(OutboxRow.state).where(OutboxRow.resident_id == steady))
        ).all()
    assert list(states) == ["withdrawn"] * waiting  # nothing new, nothing left to send


async def test_a_withdrawal_while_the_batch_runs_still_keeps_its_events_out(
    sessions: async_sessionmaker[AsyncSession], people: dict[str, int]
) -> None:
    """The batch read the resident's consent before it was withdrawn: ``enqueue`` asks again."""
    async with sessions() as session:
        batch = await resident_batch(session, 0, 10)
        resident = await session.get(Resident, people["steady"])
        assert resident is not None
        await set_social_record_consent(
            session, resident, False, actor="coord", reason="asked at the door", now=NOW
        )
        await session.commit()
    stale = [r for r in batch if r.id == people["steady"]]
    assert stale[0].exports_to_social_record  # read before the withdrawal
    async with sessions() as session:
        counts = await _run_batch(session, stale, LAST_WEEK, SETTINGS, NOW)
    assert (counts.assessed, counts.events) == (1, 0)
    assert await outbox(sessions) == {}
