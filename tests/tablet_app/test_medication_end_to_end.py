"""A medication reminder from end to end (issue 22), with nothing mocked between:

the running hub (its alarm engine and MQTT ingestion, on the test database) sends the
dose's reminder over a real Mosquitto → the tablet's link receives it → the Kivy window
shows "Time for your medication" → the resident taps "Remind me later" → the centre's record
of the reminder says postponed and when it rings again (ADR 0163) → it rings again, shown →
the resident taps "I've taken it" → acknowledged, the tablet publishes ``medication_taken`` →
the hub stores the event and no medication alarm follows at the end of the grace; and, the
next dose not confirmed, the alarm does follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import select

from alerts import CarePlan, EscalationPolicy
from alerts.careplan import MedicationSchedule, MedicationSettings
from hub.alarms import store as alarm_store
from hub.alarms.keys import ALARM_ENGINE
from hub.app import SESSIONMAKER, create_app
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.ingest.app import MQTT_CLIENT
from hub.ingest.delivery import TabletDelivery
from hub.settings import HubSettings
from tablet_app.controller import SilentRinger, TabletController
from tablet_app.link import Broker, HubLink
from tablet_app.model import Screen, TabletModel
from tablet_app.outbox import Outbox
from tablet_app.wording import LOCAL_TZ
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, running_mosquitto
from tests.hub.ingest.helpers import eventually, seed_home
from tests.tablet_app.conftest import pump, pump_until, tap

pytestmark = [pytest.mark.tablet, pytest.mark.broker]


class Quiet:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, language: str) -> None:
        self.said.append(text)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with running_mosquitto(tmp_path_factory.mktemp("medication-mqtt")) as running:
        yield running


async def test_a_dose_reminded_on_the_tablet_and_confirmed_there_is_recorded_by_the_hub(
    aiohttp_client: Any,
    hub_settings: HubSettings,
    hub_clock: ManualClock,
    broker: MosquittoBroker,
    kivy_window: Any,
    tmp_path: Path,
) -> None:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import find

    prefix = f"m{secrets.token_hex(3)}"
    tablet_id = f"{prefix}-tablet"
    engine = make_engine(hub_settings.database_url)
    try:
        home_id, resident_id = await seed_home(make_sessionmaker(engine), {tablet_id: "tablet"})
    finally:
        await engine.dispose()
    # Two doses due a few minutes from the hub's time, confirmed within 30 minutes.
    local = hub_clock().astimezone(LOCAL_TZ).replace(second=0, microsecond=0)
    morning = (local + timedelta(minutes=2)).time()
    later = (local + timedelta(minutes=50)).time()
    settings = msgspec.structs.replace(
        hub_settings,
        ingest_client_id=f"hub-{prefix}",
        ingest_share_group=f"g{prefix}",
        ingest_flush_interval_s=0.05,
    )
    app = create_app(
        settings, mqtt=MqttSettings(host=broker.host, port=broker.port), clock=hub_clock
    )
    client = await aiohttp_client(app)
    await app[MQTT_CLIENT].subscribed.wait()
    sessions = app[SESSIONMAKER]
    plan = CarePlan(
        str(resident_id),
        medication=MedicationSettings(
            schedules=(
                MedicationSchedule("insulina", morning),
                MedicationSchedule("sintrom", later),
            ),
            ack_timeout=timedelta(minutes=30),
            remind=True,
        ),
    )
    async with sessions() as session:
        await alarm_store.save_plan(session, plan, EscalationPolicy(), hub_clock())
        await session.commit()
    alarm_engine = app[ALARM_ENGINE]
    await alarm_engine.reload_plan(str(resident_id), str(home_id))  # as the care-plan page does

    # The tablet: its link to the same broker, the controller and the real window.
    model = TabletModel(language="en", online=False)
    link = HubLink(
        tablet_id,
        Broker(host=broker.host, port=broker.port),
        Outbox(tmp_path / "outbox.db"),
        retry_s=(0.1,),
        clock=hub_clock,
    )
    speaker = Quiet()
    TabletController(model, link, speaker=speaker, ringer=SilentRinger(), clock=hub_clock)
    view = TabletView(model, hub_clock, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    running = asyncio.create_task(link.run())
    try:
        await pump_until(lambda: model.online)

        async def open_medication_alarms() -> list[Any]:
            async with sessions() as session:
                alarms = await alarm_store.list_alarms(
                    session, status="open", category=None, limit=9
                )
            # Only the dose's alarms: under load the hub may also (rightly) see the tablet's
            # link lapse while its clock jumps half an hour, and open a technical one.
            return [
                a
                for a in alarms
                if a.resident_id == str(resident_id)
                and any(r.value == "medication" for r in a.rules)
            ]

        # The dose's time: the hub reminds, the tablet shows and says it.
        hub_clock.advance(timedelta(minutes=2))
        await alarm_engine.run_due()
        await pump_until(lambda: model.screen is Screen.PROMPT)
        pump()
        # in the resident's language, which the hub sent when the tablet connected
        assert model.language == "ca"
        assert find(view, "prompt.question").text == "És l'hora de la medicació: insulina"
        assert any("insulina" in said for said in speaker.said)
        assert find(view, "prompt.countdown").text == (
            "Si no ho confirmeu en 30 minuts, la central n'estarà avisada."
        )

        async def reminder_is(state: str, until: datetime | None = None) -> bool:
            async with sessions() as session:
                row = await session.scalar(
                    select(TabletDelivery).where(
                        TabletDelivery.device_id == tablet_id, TabletDelivery.kind == "medication"
                    )
                )
            return row is not None and (row.state, row.until) == (state, until)

        # "Remind me later": the centre's record says so, and when it rings again.
        await eventually(lambda: reminder_is("shown"))
        pump()
        tap(find(view, "prompt.help"))
        assert model.prompt_result == "later"
        again = hub_clock() + timedelta(minutes=10)
        await eventually(lambda: reminder_is("postponed", again))
        hub_clock.advance(timedelta(minutes=10))
        model.tick(hub_clock())  # the window's second tick
        assert model.prompt_result is None  # it rings again
        # it rang again: shown, the row still says until when she had put it off
        await eventually(lambda: reminder_is("shown", again))
        pump()

        # "I've taken it": the event reaches the hub over the broker and is stored.
        tap(find(view, "prompt.fine"))
        await eventually(lambda: reminder_is("acknowledged", again))
        assert model.prompt_result == "taken"

        async def stored() -> bool:
            async with sessions() as session:
                rows = (
                    await session.scalars(
                        select(StoredEvent).where(StoredEvent.device_id == tablet_id)
                    )
                ).all()
            return any(r.type == "medication_taken" for r in rows)

        await eventually(stored)
        # The end of the grace: confirmed, so no alarm.
        hub_clock.advance(timedelta(minutes=31))
        await alarm_engine.run_due()
        assert await open_medication_alarms() == []

        # The next dose, reminded and left unanswered: the alarm follows at the grace.
        model.close_prompt()
        hub_clock.advance(timedelta(minutes=7))  # 50 minutes after the first: sintrom's time
        await alarm_engine.run_due()
        await pump_until(lambda: model.prompt is not None and "sintrom" in model.prompt_question())
        hub_clock.advance(timedelta(minutes=31))
        await alarm_engine.run_due()
        [alarm] = await open_medication_alarms()
        assert [r.value for r in alarm.rules] == ["medication"]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        view.detach()
        kivy_window.remove_widget(view)
        pump()
        await client.close()
