"""The alarm engine over a real database: timers are rebuilt from stored state (a timer
due while the hub was down fires at start-up), escalation steps run once, prompts go out."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts import (
    Action,
    CarePlan,
    Category,
    DeviceType,
    EscalationPolicy,
    HomeEvent,
    InactivitySettings,
    Priority,
    RuleKind,
)
from alerts.escalation import Contact, EscalationTarget
from hub.alarms import store
from hub.alarms.engine import AlarmEngine, NoEffects
from hub.alarms.live import AlarmLive
from hub.alarms.models import ProcessedEventRow
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.db.writegate import WriteGate
from hub.service.alarm_terms import AlarmTerms
from hub.service.models import ServiceRow, SuspensionRow
from protocol import BedExit, DeviceFault, Gas, LowBattery, Motion, Panic, Smoke
from tests.hub.ingest.helpers import seed_home

_ids = itertools.count()
NIGHT = datetime(2026, 1, 13, 2, 0, tzinfo=UTC)  # 03:00 in Barcelona


class Recorder(NoEffects):
    def __init__(self) -> None:
        self.prompts = []
        self.received = []
        self.notified = []

    async def prompt(self, request) -> None:
        self.prompts.append(request)

    async def alarm_received(self, alarm, event_id) -> None:
        self.received.append((alarm.id, event_id))

    async def notify(self, alarm, action):
        self.notified.append(action.contact.contact_id)
        return await super().notify(alarm, action)


def _event(body, at, home="7", resident="70") -> HomeEvent:
    return HomeEvent(
        home_id=home,
        resident_id=resident,
        device_id=f"dev-{home}",
        device_type=DeviceType.BED,
        message_id=f"e{next(_ids)}",
        at=at,
        body=body,
    )


async def test_a_timer_due_while_down_fires_at_start_up(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        first = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        assert await first.handle_event(_event(BedExit(), clock())) == []
        async with sessions() as session:
            state = await store.load_state(session, "70")
        assert state is not None
        assert state.bed_out_since == NIGHT
        # The hub dies; two hours pass; a new process starts on the same database.
        del first
        clock.advance(timedelta(hours=2))
        effects = Recorder()
        second = AlarmEngine(sessions, clock, AlarmLive(), effects)
        assert await second.seconds_until_due() == 0
        await second.run_due()
        async with sessions() as session:
            (alarm,) = await store.list_alarms(session, status="open", category=None, limit=10)
        assert alarm.rule is RuleKind.BED_NOT_RETURNED
        # Raised when it became due, so the queue shows its true age.
        assert alarm.raised_at == NIGHT + timedelta(minutes=30)
        # Nobody accepted it in 60 s: re-announced to a supervisor, exactly once per step.
        await second.run_due()
        await second.run_due()
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm.id)
        assert loaded is not None
        reannounced = loaded[1].entries(Action.REANNOUNCED)
        assert len(reannounced) == 1
        assert reannounced[0].details["supervisor"] == "True"
    finally:
        await db.dispose()


async def test_inactivity_prompt_then_alarm_and_fire_auto_112(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    effects = Recorder()
    try:
        engine = AlarmEngine(sessions, clock, AlarmLive(), effects)
        plan = CarePlan(
            "71", inactivity=InactivitySettings(period=timedelta(minutes=30), windows=())
        )
        policy = EscalationPolicy(
            contacts=(Contact("c1", "Joan", EscalationTarget.FAMILY, auto_notify=True),)
        )
        async with sessions() as session:
            await store.save_plan(session, plan, policy, clock())
            await session.commit()
        await engine.handle_event(_event(Motion(), clock(), home="8", resident="71"))
        clock.advance(timedelta(minutes=31))
        await engine.run_due()
        (prompt,) = effects.prompts
        assert prompt.kind == "inactivity"
        clock.advance(timedelta(minutes=5))
        await engine.run_due()
        async with sessions() as session:
            (alarm,) = await store.list_alarms(session, status="open", category=None, limit=5)
        assert alarm.rule is RuleKind.INACTIVITY
        # A fire-type event in the same home joins the alarm; with no voice contact in
        # 3 minutes the policy escalates to 112 by itself (no gateway here: recorded as
        # NOT delivered, with a note).
        (change,) = await engine.handle_event(_event(Smoke(), clock(), home="8", resident="71"))
        assert change.alarm.id == alarm.id
        clock.advance(timedelta(minutes=4))
        await engine.run_due()
        assert effects.notified == ["c1"]  # critical now: the family contact is notified
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm.id)
            rows = await store.history_rows(session, alarm.id)
        assert loaded is not None
        final = loaded[1]
        assert final.escalated_to(EscalationTarget.EMERGENCY_112)
        assert final.history[-1].action is Action.NOTE
        assert [r.seq for r in rows] == list(range(len(final.history)))
        assert [r.action for r in rows] == [e.action.value for e in final.history]
    finally:
        await db.dispose()


async def _pause_service(sessions, resident_id: int, since: datetime) -> int:
    """A suspended service (hospital stay) of ``resident_id``; returns the suspension id."""
    async with sessions() as session:
        service = ServiceRow(
            reference=f"TA-P{resident_id}",
            check_hash="x" * 64,
            state="suspended",
            applicant_kind="self",
            person_name="Rosa",
            person_key=f"rosa|{resident_id}",
            referred_at=since - timedelta(days=60),
            updated_at=since,
            resident_id=resident_id,
        )
        session.add(service)
        await session.flush()
        pause = SuspensionRow(
            service_id=service.id,
            reason="hospital_stay",
            started_at=since,
            resume_on=(since + timedelta(days=10)).date(),
        )
        session.add(pause)
        await session.commit()
        return pause.id


async def test_a_paused_service_raises_only_what_someone_in_the_home_needs(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    effects = Recorder()
    try:
        home_id, resident_id = await seed_home(sessions, {})
        home, resident = str(home_id), str(resident_id)
        plan = CarePlan(
            resident, inactivity=InactivitySettings(period=timedelta(minutes=30), windows=())
        )
        async with sessions() as session:
            await store.save_plan(session, plan, EscalationPolicy(), clock())
            await session.commit()
        pause_id = await _pause_service(sessions, resident_id, clock() - timedelta(hours=1))
        engine = AlarmEngine(sessions, clock, AlarmLive(), effects, care_service=AlarmTerms())
        # In hospital: the empty home's silence asks nothing and raises nothing...
        await engine.handle_event(_event(Motion(), clock(), home=home, resident=resident))
        await engine.handle_event(_event(BedExit(), clock(), home=home, resident=resident))
        for _ in range(4):
            clock.advance(timedelta(minutes=20))
            await engine.run_due()
        assert effects.prompts == []
        async with sessions() as session:
            assert await store.list_alarms(session, status="all", category=None, limit=5) == []
        # ...but a panic press or smoke in the home is an alarm like any other.
        (panic,) = await engine.handle_event(_event(Panic(), clock(), home=home, resident=resident))
        assert panic.alarm.rule is RuleKind.PANIC
        (smoke,) = await engine.handle_event(_event(Smoke(), clock(), home=home, resident=resident))
        assert smoke.alarm.id == panic.alarm.id
        assert RuleKind.SMOKE in smoke.alarm.rules
        # Back home: the service resumes and the routine rules watch again.
        async with sessions() as session:
            row = await session.get(SuspensionRow, pause_id)
            assert row is not None
            row.ended_at = clock()
            await session.commit()
        await engine.handle_event(_event(Motion(), clock(), home=home, resident=resident))
        clock.advance(timedelta(minutes=31))
        await engine.run_due()
        (prompt,) = effects.prompts
        assert prompt.kind == "inactivity"
    finally:
        await db.dispose()


async def test_prefetch_loads_a_batch_and_skips_what_was_applied(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        plan = CarePlan(
            "81", inactivity=InactivitySettings(period=timedelta(minutes=45), windows=())
        )
        async with sessions() as session:
            await store.save_plan(session, plan, EscalationPolicy(), clock())
            await store.add_processed(session, [(("dev-9", "already-applied"), clock())])
            await session.commit()
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        applied = _event(Motion(), clock(), home="9", resident="81")
        applied = dataclasses.replace(applied, message_id="already-applied")
        fresh = [_event(Motion(), clock(), home=str(h), resident=str(90 + h)) for h in (1, 2)]
        assert await engine.prefetch([applied, *fresh]) == 3
        assert await engine.prefetch(fresh) == 0  # cached now
        # The stored plan came with the batch: the resident's own inactivity period.
        cached = engine._cache["81"]
        assert cached.plan.inactivity.period == timedelta(minutes=45)
        assert await engine.handle_event(applied) == []  # skipped, no second application
        assert engine._cache["81"].pending == []
        (raised,) = await engine.handle_event(
            _event(Panic(), clock(), home=fresh[0].home_id, resident=fresh[0].resident_id)
        )
        assert raised.alarm.rule is RuleKind.PANIC
    finally:
        await db.dispose()


async def test_the_baseline_does_not_learn_the_days_of_a_pause(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    start = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)  # Monday 08:00 in Barcelona
    clock = ManualClock(start)

    def local(day: int, hour: int) -> datetime:
        """``day`` days after Monday, at ``hour`` in Barcelona (UTC+1 in January)."""
        return start + timedelta(days=day, hours=hour - 8)

    try:
        home_id, resident_id = await seed_home(sessions, {})
        home, resident = str(home_id), str(resident_id)
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder(), care_service=AlarmTerms())

        async def live_until(until: datetime) -> None:
            """Some movement every three hours, and the timers, until ``until``."""
            while clock() < until:
                clock.advance(timedelta(hours=3))
                await engine.handle_event(_event(Motion(), clock(), home=home, resident=resident))
                await engine.run_due()

        async def learned() -> list[str]:
            await engine.flush()
            async with sessions() as session:
                state = await store.load_state(session, resident)
            assert state is not None
            return [d.day.isoformat() for d in state.history]

        await engine.handle_event(_event(Motion(), clock(), home=home, resident=resident))
        await live_until(local(2, 3))
        # Monday was watched from 08:00 only; Tuesday all day.
        assert await learned() == ["2026-01-13"]
        # In hospital from Wednesday 12:00 to Friday 10:00: those days are not hers.
        pause_id = await _pause_service(sessions, resident_id, local(2, 12))
        async with sessions() as session:
            row = await session.get(SuspensionRow, pause_id)
            assert row is not None
            row.ended_at = local(4, 10)
            await session.commit()
        await live_until(local(5, 3))
        assert await learned() == ["2026-01-13"]
        await live_until(local(6, 3))
        assert await learned() == ["2026-01-13", "2026-01-17"]
    finally:
        await db.dispose()


async def test_a_gas_leak_raises_a_critical_alarm_that_reaches_112_by_itself(
    database_url,
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        (change,) = await engine.handle_event(
            _event(Gas(room="kitchen"), clock(), home="11", resident="74")
        )
        assert change.alarm.rule is RuleKind.GAS
        assert change.alarm.priority is Priority.CRITICAL
        # Nobody reaches the resident: like smoke, a gas leak goes to 112 by itself.
        clock.advance(timedelta(minutes=4))
        await engine.run_due()
        async with sessions() as session:
            loaded = await store.load_alarm(session, change.alarm.id)
        assert loaded is not None
        assert loaded[1].escalated_to(EscalationTarget.EMERGENCY_112)
    finally:
        await db.dispose()


async def test_a_device_fault_is_a_technical_alarm(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        body = DeviceFault(fault="unknown_action", detail="disarm")
        (change,) = await engine.handle_event(_event(body, clock(), home="12", resident="75"))
        assert change.alarm.rule is RuleKind.DEVICE_FAULT
        assert change.alarm.category is Category.TECHNICAL
        assert "disarm" in change.alarm.explanation.text("en")
    finally:
        await db.dispose()


async def test_another_devices_message_id_is_not_a_redelivery(database_url) -> None:
    """Message ids are unique per device: home B's panic that reuses an id home A used
    raises B's alarm, in memory and after a restart (the applied ledger is per device);
    B's own redelivery is still skipped."""
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        a = dataclasses.replace(_event(Panic(), clock(), home="31", resident="310"), message_id="1")
        b = dataclasses.replace(_event(Panic(), clock(), home="32", resident="320"), message_id="1")
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        (raised_a,) = await engine.handle_event(a)
        (raised_b,) = await engine.handle_event(b)
        assert (raised_a.alarm.home_id, raised_b.alarm.home_id) == ("31", "32")
        assert await engine.handle_event(b) == []  # B's own redelivery
        # A fresh engine (a restart) knows only the database's ledger.
        c = dataclasses.replace(_event(Panic(), clock(), home="33", resident="330"), message_id="1")
        restarted = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        assert await restarted.handle_event(b) == []
        (raised_c,) = await restarted.handle_event(c)
        assert raised_c.alarm.home_id == "33"
    finally:
        await db.dispose()


async def test_a_technical_alarm_names_the_device_by_kind_room_and_wearer(database_url) -> None:
    """Issue 23: the registry's kind and room (and the wearer of a pendant) are kept beside
    the device's id when the alarm is raised, so operators and family read what and where."""
    from hub.db.models import Device

    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        home, resident = await seed_home(sessions, {"dn-pir": "motion"})
        # Another home: a second technical alarm of the first would join its open one.
        home2, resident2 = await seed_home(sessions, {"dn-pd": "pendant"})
        async with sessions() as session:
            pir = await session.get(Device, "dn-pir")
            assert pir is not None
            pir.room = "bedroom"
            await session.commit()
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder())

        def event(device: str, kind: DeviceType, body, where=(home, resident)) -> HomeEvent:
            return HomeEvent(
                home_id=str(where[0]), resident_id=str(where[1]), device_id=device,
                device_type=kind, message_id=f"e{next(_ids)}", at=clock(), body=body,
            )  # fmt: skip

        (fault,) = await engine.handle_event(
            event("dn-pir", DeviceType.MOTION, DeviceFault(fault="trouble"))
        )
        assert fault.alarm.explanation.text("ca").startswith(
            "El detector de moviment del dormitori indica una avaria"
        )
        assert fault.alarm.explanation.text("en").startswith("The bedroom motion sensor reports")
        (battery,) = await engine.handle_event(
            event("dn-pd", DeviceType.PENDANT, LowBattery(percent=9), (home2, resident2))
        )
        assert battery.alarm.explanation.text("es") == (
            "El colgante de Test Resident tiene la batería baja: 9 %"
        )
        assert (
            battery.alarm.explanation.text("en") == "Test Resident's pendant has a low battery: 9 %"
        )
        # What the alarm says is stored with it.
        async with sessions() as session:
            loaded = await store.load_alarm(session, battery.alarm.id)
        assert loaded is not None
        assert (
            loaded[1].explanation.text("ca")
            == "El penjoll de Test Resident té la bateria baixa: 9 %"
        )
    finally:
        await db.dispose()


class _WatchedGate(WriteGate):
    """The write gate (exclusive, as on SQLite), noting which routine writers asked for it."""

    def __init__(self) -> None:
        super().__init__(exclusive=True)
        self.routines: list[str] = []
        self.holdings: list[str] = []

    @contextlib.asynccontextmanager
    async def routine(self, what: str = "routine") -> AsyncIterator[None]:
        self.routines.append(what)
        async with super().routine(what):
            yield

    @contextlib.asynccontextmanager
    async def holding(self, what: str = "holding") -> AsyncIterator[None]:
        self.holdings.append(what)
        async with super().holding(what):
            yield


async def test_old_applied_ids_are_dropped_by_a_routine_writer_every_ten_minutes(
    database_url: str,
) -> None:
    """Housekeeping of applied message ids is not on every scheduler pass (the scheduler
    wakes at every alarm, and a write there held SQLite's lock when the next panic came):
    at most once per ten minutes, as a routine writer at the write gate (ADR 0159)."""
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    old = clock() - store.PROCESSED_RETENTION - timedelta(minutes=1)

    async def applied() -> set[str]:
        async with sessions() as session:
            return set(await session.scalars(select(ProcessedEventRow.message_id)))

    try:
        async with sessions() as session:
            await store.add_processed(
                session, [(("dev-1", "old-1"), old), (("dev-1", "recent"), clock())]
            )
            await session.commit()
        gate = _WatchedGate()
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder(), gate=gate)
        await engine.run_due()
        assert await applied() == {"recent"}
        assert gate.routines == ["engine-forget"]
        async with sessions() as session:
            await store.add_processed(session, [(("dev-1", "old-2"), old)])
            await session.commit()
        # An alarm wakes the scheduler a minute later: no write of housekeeping then.
        clock.advance(timedelta(minutes=1))
        await engine.run_due()
        assert await applied() == {"recent", "old-2"}
        assert gate.routines == ["engine-forget"]
        # Ten minutes after the last sweep: dropped.
        clock.advance(timedelta(minutes=9))
        await engine.run_due()
        assert await applied() == {"recent"}
        assert gate.routines == ["engine-forget", "engine-forget"]
    finally:
        await db.dispose()


async def test_timer_escalation_and_operator_writes_wait_at_the_gate_behind_alarms(
    database_url: str,
) -> None:
    """A rule timer, an escalation step (its claim and its result) and an operator's action
    write as the engine's own writers (``holding``: after alarms, before routine batches),
    never past the gate (ADR 0173)."""
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    gate = _WatchedGate()
    try:
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder(), gate=gate)
        plan = CarePlan(
            "72", inactivity=InactivitySettings(period=timedelta(minutes=30), windows=())
        )
        policy = EscalationPolicy(
            contacts=(Contact("c1", "Joan", EscalationTarget.FAMILY, auto_notify=True),)
        )
        async with sessions() as session:
            await store.save_plan(session, plan, policy, clock())
            await session.commit()
        await engine.handle_event(_event(Motion(), clock(), home="9", resident="72"))
        clock.advance(timedelta(minutes=31))
        await engine.run_due()  # the inactivity prompt: a timer
        clock.advance(timedelta(minutes=5))
        await engine.run_due()  # the alarm: a timer
        assert gate.holdings.count("engine-tick") == 2
        (change,) = await engine.handle_event(_event(Smoke(), clock(), home="9", resident="72"))
        clock.advance(timedelta(minutes=4))
        await engine.run_due()  # critical now: the family contact is notified
        assert {"engine-escalate", "engine-effects"} <= set(gate.holdings)
        await engine.act(
            change.alarm.id,
            lambda alarm: alarm,
            audit_actor="operadora",
            audit_action="alarm.note",
        )
        assert gate.holdings[-1] == "engine-act"
        assert set(gate.routines) <= {"engine-forget"}
        assert (gate.urgent_waiting, gate.holding_waiting, gate.routine_waiting) == (0, 0, 0)
    finally:
        await db.dispose()
