"""Escalation effects happen once: an operator's change (or a second hub worker) between
the engine's read of an alarm and its write never makes it e-mail, SMS or call 112 again,
and an effect interrupted by a crash is reported as unknown, not sent again.

Real local servers: SMTP (aiosmtpd), an HTTP SMS gateway, and the 112 receiving centre
that validates the EIDO payload."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select

from alerts import (
    Action,
    ActorKind,
    Alarm,
    CarePlan,
    DeviceType,
    EscalationPolicy,
    HomeEvent,
    add_note,
)
from alerts.alarm import Actor, accept, record_voice_connected
from alerts.channels import DeliveryResult
from alerts.emergency import HandoffResult
from alerts.escalation import Contact, EscalationTarget, NotifyContact, warned_112
from hub.alarms import store
from hub.alarms.effects import HubAlarmEffects
from hub.alarms.engine import UNFINISHED_AFTER, AlarmEngine
from hub.alarms.ledger import effect_key
from hub.alarms.live import AlarmLive
from hub.alarms.models import AlarmEffectRow
from hub.alarms.settings import AlarmSettings
from hub.alarms.views import alarm_view
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from protocol import Panic, Smoke
from teleassist.localbroker import free_port
from tests.alerts.centre import ReceivingCentre

T0 = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
_ids = itertools.count()
OPERATOR = Actor(ActorKind.OPERATOR, "9", "anna")
POLICY = EscalationPolicy(
    contacts=(
        Contact(
            "c-mail", "Joan", EscalationTarget.FAMILY, email="joan@example.org", auto_notify=True
        ),
        Contact(
            "c-sms", "Marta", EscalationTarget.KEY_HOLDER, phone="+34600000002", auto_notify=True
        ),
    ),
    fire_112_after=timedelta(0),
)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


class Peers:
    """The outside world the hub reaches: mail server, SMS gateway, 112 centre."""

    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.sms: list[dict[str, Any]] = []
        self.centre = ReceivingCentre()

    async def send_sms(self, request: web.Request) -> web.Response:
        self.sms.append(await request.json())
        return web.json_response({"id": f"sms-{len(self.sms)}"}, status=202)


@pytest.fixture
def smtp_port(peers: Peers) -> Iterator[int]:
    port = free_port()
    controller = Controller(peers.inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def peers() -> Peers:
    return Peers()


@pytest.fixture
async def settings(peers: Peers, smtp_port: int, aiohttp_server: Any) -> AlarmSettings:
    app = peers.centre.app()
    app.router.add_post("/sms", peers.send_sms)
    server = await aiohttp_server(app)
    return AlarmSettings(
        emergency_url=str(server.make_url("/incidents")),
        emergency_attempts=1,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        sms_url=str(server.make_url("/sms")),
    )


class Meddling(HubAlarmEffects):
    """Real effects; before each one goes out, ``meddle`` changes the alarm elsewhere."""

    meddle: Any = None

    async def notify(self, alarm: Alarm, action: NotifyContact) -> DeliveryResult:
        if self.meddle is not None:
            await self.meddle(alarm.id)
        return await super().notify(alarm, action)

    async def hand_off(self, alarm: Alarm, now: datetime) -> HandoffResult | None:
        if self.meddle is not None:
            await self.meddle(alarm.id)
        return await super().hand_off(alarm, now)


def _smoke(home: str, resident: str, at: datetime) -> HomeEvent:
    return HomeEvent(
        home_id=home,
        resident_id=resident,
        device_id=f"smoke-{home}",
        device_type=DeviceType.SMOKE,
        message_id=f"once-{next(_ids)}",
        at=at,
        body=Smoke(),
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _as_scheduler(engine: AlarmEngine, rounds: int = 3) -> None:
    """What the timer loop does: run what is due; after a failure, run again."""
    for _ in range(rounds):
        # The real loop logs a failure and retries a second later.
        with contextlib.suppress(Exception):
            await engine.run_due()


async def test_a_concurrent_change_while_sending_sends_nothing_twice(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(session, CarePlan("81"), POLICY, clock())
            await session.commit()
        effects = Meddling(settings, sessions, http)
        first = AlarmEngine(sessions, clock, AlarmLive(), effects)
        # A second engine on the same database: another hub worker, or the operator's API.
        second = AlarmEngine(
            sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http)
        )
        (raised,) = await first.handle_event(_smoke("18", "81", clock()))
        alarm_id = raised.alarm.id
        meddled = 0

        async def operator_writes_a_note(target: str) -> None:
            nonlocal meddled
            meddled += 1
            await second.act(
                target,
                lambda a: add_note(a, OPERATOR, clock(), f"calling the resident ({meddled})"),
                audit_actor="anna",
                audit_action="alarm.note",
            )

        effects.meddle = operator_writes_a_note
        clock.advance(timedelta(seconds=30))
        await _as_scheduler(first)
        # The other worker's timer loop runs too, on the same due alarm.
        effects.meddle = None
        await _as_scheduler(second)

        assert meddled == 3  # the alarm changed under every one of the three effects
        assert len(peers.inbox.messages) == 1
        assert [m["to"] for m in peers.sms] == ["+34600000002"]
        assert len(peers.centre.received) == 1, peers.centre.rejected
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm_id)
            ledger = list(await session.scalars(select(AlarmEffectRow)))
        assert loaded is not None
        alarm = loaded[1]
        notified = alarm.entries(Action.NOTIFIED)
        assert sorted(e.details["contact"] for e in notified) == ["c-mail", "c-sms"]
        assert all(e.details["delivered"] == "True" for e in notified)
        (handoff,) = [
            e
            for e in alarm.entries(Action.ESCALATED)
            if e.details.get("target") == EscalationTarget.EMERGENCY_112
        ]
        assert handoff.details["delivered"] == "True"
        assert handoff.details["reference"].startswith("112-CAT-")
        notes = alarm.entries(Action.NOTE)
        assert sum(n.actor == OPERATOR for n in notes) == 3  # the operator's notes all kept
        assert [n.details["text"] for n in notes if n.actor != OPERATOR] == [
            "112 hand-off: sending (attempt 1)"
        ]
        assert sorted(row.key for row in ledger) == ["112", "notify:c-mail", "notify:c-sms"]
        assert all(row.done_at is not None for row in ledger)
    finally:
        await db.dispose()


async def test_an_effect_interrupted_by_a_crash_is_reported_not_repeated(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(session, CarePlan("82"), POLICY, clock())
            await session.commit()
        dying = AlarmEngine(sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http))
        (raised,) = await dying.handle_event(_smoke("19", "82", clock()))
        clock.advance(timedelta(seconds=30))
        # The hub plans the step (claims the effects) and dies before sending anything.
        planned = await dying._plan_escalation(raised.alarm.id)
        assert planned is not None
        assert [key for key, _ in planned[1]] == ["notify:c-mail", "notify:c-sms", "112"]
        del dying
        restarted = AlarmEngine(
            sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http)
        )
        await restarted.run_due()  # too early to call it interrupted: nothing happens
        async with sessions() as session:
            loaded = await store.load_alarm(session, raised.alarm.id)
        assert loaded is not None
        assert loaded[1].entries(Action.NOTIFIED) == ()
        clock.advance(UNFINISHED_AFTER + timedelta(seconds=1))
        await restarted.run_due()
        assert peers.inbox.messages == []
        assert peers.sms == []
        assert peers.centre.received == []
        async with sessions() as session:
            loaded = await store.load_alarm(session, raised.alarm.id)
        assert loaded is not None
        alarm = loaded[1]
        notified = alarm.entries(Action.NOTIFIED)
        assert sorted(e.details["contact"] for e in notified) == ["c-mail", "c-sms"]
        assert all(e.details["delivered"] == "False" for e in notified)
        assert all("outcome unknown" in e.details["detail"] for e in notified)
        assert alarm.escalated_to(EscalationTarget.EMERGENCY_112)
        assert "112 hand-off failed" in alarm.history[-1].details["text"]
        assert "outcome unknown" in alarm.history[-1].details["text"]
        # The notifications are never repeated; 112 is retried (same identity, ADR 0036).
        await restarted.run_due()
        assert peers.inbox.messages == []
        assert peers.sms == []
        assert len(peers.centre.received) == 1, peers.centre.rejected
    finally:
        await db.dispose()


PLAN_112 = EscalationPolicy(
    critical_112_after=timedelta(minutes=10), warn_112_before=timedelta(minutes=2)
)


def _panic(home: str, resident: str, at: datetime) -> HomeEvent:
    return HomeEvent(
        home_id=home,
        resident_id=resident,
        device_id=f"pendant-{home}",
        device_type=DeviceType.PENDANT,
        message_id=f"once-{next(_ids)}",
        at=at,
        body=Panic(),
    )


async def test_a_critical_alarm_without_voice_contact_is_warned_then_handed_to_112_once(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(session, CarePlan("83"), PLAN_112, clock())
            await session.commit()
        # Two hub workers on one database, each with its own live fan-out.
        workers = [
            AlarmEngine(sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http))
            for _ in range(2)
        ]
        card = workers[0].live.subscribe(screen=False)
        (raised,) = await workers[0].handle_event(_panic("20", "83", clock()))
        alarm_id = raised.alarm.id
        await workers[0].act(
            alarm_id,
            lambda a: accept(a, OPERATOR, clock()),
            audit_actor="anna",
            audit_action="alarm.accept",
        )
        while not card.queue.empty():
            card.queue.get_nowait()
        clock.advance(timedelta(minutes=8) - timedelta(seconds=1))
        for worker in workers:
            await worker.run_due()
        assert card.queue.empty()  # not yet
        clock.advance(timedelta(seconds=1))
        for worker in workers:
            await worker.run_due()
        # One warning, on the card through the live updates, before anything is sent.
        warned = [m["alarm"] for m in _drain(card) if warned_112(m["alarm"])]
        assert warned, "no live warning"
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm_id)
        assert loaded is not None
        notes = [e for e in loaded[1].entries(Action.NOTE) if e.details.get("warning") == "112"]
        assert len(notes) == 1
        assert notes[0].details["deadline"] == (T0 + timedelta(minutes=10)).isoformat()
        assert peers.centre.received == []
        clock.advance(timedelta(minutes=2))
        await asyncio.gather(*(worker.run_due() for worker in workers))
        for worker in workers:
            await worker.run_due()
        assert len(peers.centre.received) == 1, peers.centre.rejected
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm_id)
            ledger = [r.key for r in await session.scalars(select(AlarmEffectRow))]
        assert loaded is not None
        (handoff,) = [
            e
            for e in loaded[1].entries(Action.ESCALATED)
            if e.details.get("target") == EscalationTarget.EMERGENCY_112
        ]
        assert handoff.details["delivered"] == "True"
        assert ledger == ["112"]
    finally:
        await db.dispose()


async def test_voice_contact_before_the_deadline_cancels_the_plans_112(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(session, CarePlan("84"), PLAN_112, clock())
            await session.commit()
        engine = AlarmEngine(
            sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http)
        )
        (raised,) = await engine.handle_event(_panic("21", "84", clock()))
        alarm_id = raised.alarm.id
        await engine.act(
            alarm_id,
            lambda a: accept(a, OPERATOR, clock()),
            audit_actor="anna",
            audit_action="alarm.accept",
        )
        clock.advance(timedelta(minutes=8))
        await engine.run_due()  # warned
        clock.advance(timedelta(minutes=1))
        await engine.act(
            alarm_id,
            lambda a: record_voice_connected(a, OPERATOR, clock(), call_id="call-1"),
            audit_actor="anna",
            audit_action="alarm.voice",
        )
        clock.advance(timedelta(hours=1))
        await engine.run_due()
        assert peers.centre.received == []
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm_id)
            due = await store.due_alarm_ids(session, clock())
        assert loaded is not None
        assert warned_112(loaded[1])
        assert not loaded[1].escalated_to(EscalationTarget.EMERGENCY_112)
        assert alarm_id not in due
    finally:
        await db.dispose()


def _drain(subscription: Any) -> list[dict[str, Any]]:
    out = []
    while not subscription.queue.empty():
        out.append(subscription.queue.get_nowait())
    return out


async def test_112_hand_offs_are_counted_by_outcome(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    """What ``teleassist_emergency_handoffs_total`` exports (the alert on 112 failures)."""
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        effects = HubAlarmEffects(settings, sessions, http)
        engine = AlarmEngine(sessions, clock, AlarmLive(), effects)
        (raised,) = await engine.handle_event(_smoke("28", "82", clock()))
        delivered = await effects.hand_off(raised.alarm, clock())
        assert delivered is not None
        assert delivered.delivered
        peers.centre.refuse_all = True
        refused = await effects.hand_off(raised.alarm, clock())
        assert refused is not None
        assert not refused.delivered
        assert effects.handoffs == {"delivered": 1, "failed": 1}
    finally:
        await db.dispose()


async def _emergency(sessions: Any, alarm_id: str, now: datetime) -> dict[str, Any]:
    """What the operator's card shows of the 112 hand-off."""
    async with sessions() as session:
        loaded = await store.load_alarm(session, alarm_id)
    assert loaded is not None
    view: dict[str, Any] = alarm_view(loaded[1], "en", now)["emergency"]
    return view


async def test_a_failing_112_hand_off_is_retried_with_backoff_until_the_centre_takes_it(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    peers.centre.fail_first = 2
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(session, CarePlan("85"), PLAN_112, clock())
            await session.commit()
        workers = [
            AlarmEngine(sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http))
            for _ in range(2)
        ]
        (raised,) = await workers[0].handle_event(_panic("22", "85", clock()))
        alarm_id = raised.alarm.id
        await workers[0].act(
            alarm_id,
            lambda a: accept(a, OPERATOR, clock()),
            audit_actor="anna",
            audit_action="alarm.accept",
        )
        clock.advance(timedelta(minutes=8))
        await workers[0].run_due()
        view = await _emergency(sessions, alarm_id, clock())
        assert view["auto_112_at"] == (T0 + timedelta(minutes=10)).isoformat()
        assert view["handoff"] is None
        clock.advance(timedelta(minutes=2))
        for worker in workers:
            await worker.run_due()
        assert peers.centre.calls == 1
        first_failure = clock()
        view = await _emergency(sessions, alarm_id, clock())
        assert (view["handoff"], view["attempts"]) == ("retrying", 1)
        assert view["next_attempt_at"] == (
            first_failure + timedelta(seconds=30)
        ).isoformat().replace("+00:00", "Z")
        clock.advance(timedelta(seconds=29))
        for worker in workers:
            await worker.run_due()
        assert peers.centre.calls == 1  # not before the pause is over
        clock.advance(timedelta(seconds=1))
        for worker in workers:
            await worker.run_due()
        assert peers.centre.calls == 2
        view = await _emergency(sessions, alarm_id, clock())
        assert (view["handoff"], view["attempts"]) == ("retrying", 2)
        clock.advance(timedelta(seconds=60))  # the pause doubles
        await asyncio.gather(*(worker.run_due() for worker in workers))
        for worker in workers:
            await worker.run_due()
        assert peers.centre.calls == 3
        assert len(peers.centre.received) == 1, peers.centre.rejected
        view = await _emergency(sessions, alarm_id, clock())
        assert view["handoff"] == "delivered"
        assert view["delivered"] is True
        assert view["reference"] == "112-CAT-1001"
        clock.advance(timedelta(hours=1))
        for worker in workers:
            await worker.run_due()
        assert peers.centre.calls == 3  # delivered: nothing more
        async with sessions() as session:
            ledger = sorted(r.key for r in await session.scalars(select(AlarmEffectRow)))
        assert ledger == ["112", "112-retry-2", "112-retry-3"]
    finally:
        await db.dispose()


async def test_a_hand_off_interrupted_after_112_got_it_is_resent_as_the_same_incident(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(
                session, CarePlan("86"), EscalationPolicy(fire_112_after=timedelta(0)), clock()
            )
            await session.commit()
        dying = AlarmEngine(sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http))
        (raised,) = await dying.handle_event(_smoke("23", "86", clock()))
        alarm_id = raised.alarm.id
        clock.advance(timedelta(seconds=1))
        planned = await dying._plan_escalation(alarm_id)
        assert planned is not None
        alarm, sends, now = planned
        assert [effect_key(action) for _, action in sends] == ["112"]
        assert (await _emergency(sessions, alarm_id, clock()))["handoff"] == "sending"
        # 112 receives it; the hub dies before it records the answer.
        await dying._send(alarm, sends[0][1], now)
        assert len(peers.centre.received) == 1
        first_id = peers.centre.received[0]["$id"]
        del dying
        restarted = AlarmEngine(
            sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http)
        )
        clock.advance(UNFINISHED_AFTER + timedelta(seconds=1))
        await restarted.run_due()  # outcome unknown: recorded as not delivered
        view = await _emergency(sessions, alarm_id, clock())
        assert (view["handoff"], view["attempts"], view["delivered"]) == ("retrying", 1, False)
        clock.advance(timedelta(seconds=30))
        await restarted.run_due()
        await restarted.run_due()
        # Sent again with the same identity: the centre knows it, one incident.
        assert peers.centre.calls == 2
        assert peers.centre.duplicates == 1
        assert [p["$id"] for p in peers.centre.received] == [first_id]
        view = await _emergency(sessions, alarm_id, clock())
        assert (view["handoff"], view["delivered"], view["reference"]) == (
            "delivered",
            True,
            "112-CAT-1001",
        )
    finally:
        await db.dispose()


async def test_a_hand_off_cut_off_by_a_crash_is_retried_within_a_minute_not_ten(
    database_url: str, settings: AlarmSettings, peers: Peers, http: aiohttp.ClientSession
) -> None:
    """A 112 claim without a result is interrupted once the gateway's longest delivery
    is over (one 10 s attempt + 15 s here), and retried at once; a notification claimed
    with it still waits UNFINISHED_AFTER (it is reported, never sent again)."""
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    try:
        async with sessions() as session:
            await store.save_plan(session, CarePlan("87"), POLICY, clock())
            await session.commit()
        dying = AlarmEngine(sessions, clock, AlarmLive(), HubAlarmEffects(settings, sessions, http))
        (raised,) = await dying.handle_event(_smoke("24", "87", clock()))
        alarm_id = raised.alarm.id
        clock.advance(timedelta(seconds=30))
        planned = await dying._plan_escalation(alarm_id)
        assert planned is not None
        claimed_at = clock()
        assert [key for key, _ in planned[1]] == ["notify:c-mail", "notify:c-sms", "112"]
        del dying  # died before sending anything
        effects = HubAlarmEffects(settings, sessions, http)
        assert effects.handoff_longest == timedelta(seconds=10)  # emergency_attempts=1
        restarted = AlarmEngine(
            sessions, clock, AlarmLive(), effects, handoff_longest=effects.handoff_longest
        )
        assert restarted.handoff_unfinished_after == timedelta(seconds=25)
        clock.advance(timedelta(seconds=24))
        await restarted.run_due()
        await restarted.run_due()
        # Another worker may still be waiting for the centre: not yet interrupted.
        assert (await _emergency(sessions, alarm_id, clock()))["handoff"] == "sending"
        assert peers.centre.calls == 0
        clock.advance(timedelta(seconds=2))
        await restarted.run_due()  # recorded as interrupted, due again at once
        view = await _emergency(sessions, alarm_id, clock())
        assert (view["handoff"], view["attempts"]) == ("retrying", 1)
        assert view["next_attempt_at"] == clock().isoformat().replace("+00:00", "Z")
        await restarted.run_due()
        assert clock() - claimed_at < timedelta(minutes=1)
        assert peers.centre.calls == 1
        assert len(peers.centre.received) == 1, peers.centre.rejected
        view = await _emergency(sessions, alarm_id, clock())
        assert (view["handoff"], view["delivered"]) == ("delivered", True)
        async with sessions() as session:
            loaded = await store.load_alarm(session, alarm_id)
        assert loaded is not None
        # The notifications' outcome is not declared unknown before UNFINISHED_AFTER.
        assert loaded[1].entries(Action.NOTIFIED) == ()
        assert peers.inbox.messages == []
        assert peers.sms == []
    finally:
        await db.dispose()
