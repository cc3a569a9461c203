"""A dose the pill dispenser confirms is taken off the tablet (ADR 0174), over the real
broker: the hub, having sent two reminders at 09:00-like due time, sends the tablet
``prompt_withdrawn`` for the confirmed dose only, and nothing again for the same message
re-sent or the box reporting the same dose twice."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import aiomqtt
import msgspec
import pytest

import protocol
from alerts import CarePlan, EscalationPolicy
from alerts.careplan import MedicationSchedule, MedicationSettings
from hub.alarms import store as alarm_store
from hub.alarms.keys import ALARM_ENGINE
from hub.app import SESSIONMAKER, create_app
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.ingest.app import MQTT_CLIENT
from hub.settings import HubSettings
from hub.web.dates import ZONE as LOCAL_ZONE
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.device_agent.test_agent import collector
from tests.hub.ingest.helpers import eventually, seed_home


@pytest.mark.broker
async def test_the_dispenser_s_confirmation_withdraws_that_dose_s_reminder_once(
    aiohttp_client: Any,
    hub_settings: HubSettings,
    hub_clock: ManualClock,
    mosquitto: MosquittoBroker,
) -> None:
    prefix = f"rw{secrets.token_hex(3)}"
    tablet, dispenser = f"{prefix}-tablet", f"{prefix}-dispenser"
    engine = make_engine(hub_settings.database_url)
    try:
        home_id, resident_id = await seed_home(
            make_sessionmaker(engine), {tablet: "tablet", dispenser: "dispenser"}
        )
    finally:
        await engine.dispose()
    settings = msgspec.structs.replace(
        hub_settings,
        ingest_client_id=f"hub-{prefix}",
        ingest_share_group=f"g{prefix}",
        ingest_flush_interval_s=0.05,
    )
    app = create_app(
        settings, mqtt=MqttSettings(host="127.0.0.1", port=mosquitto.port), clock=hub_clock
    )
    await aiohttp_client(app)
    async with asyncio.timeout(30):
        await app[MQTT_CLIENT].subscribed.wait()
    # Two doses due together in two minutes, reminded on the tablet, 30 minutes to confirm.
    due = (hub_clock().astimezone(LOCAL_ZONE) + timedelta(minutes=2)).time()
    plan = CarePlan(
        str(resident_id),
        medication=MedicationSettings(
            schedules=(MedicationSchedule("insulina", due), MedicationSchedule("sintrom", due)),
            ack_timeout=timedelta(minutes=30),
            remind=True,
        ),
    )
    sessions = app[SESSIONMAKER]
    async with sessions() as session:
        await alarm_store.save_plan(session, plan, EscalationPolicy(), hub_clock())
        await session.commit()
    alarm_engine = app[ALARM_ENGINE]
    await alarm_engine.reload_plan(str(resident_id), str(home_id))

    with collector(mosquitto.port, f"ta/v1/c/{tablet}/#") as commands:

        def sent(kind: type[protocol.CommandBody]) -> list[Any]:
            bodies = [
                protocol.decode_command(p, now=hub_clock()).body for _, p, _ in commands.messages
            ]
            return [b for b in bodies if isinstance(b, kind)]

        hub_clock.advance(timedelta(minutes=2))
        await alarm_engine.run_due()
        await eventually(lambda: len(sent(protocol.Prompt)) == 2)
        reminders = {p.schedule: p.prompt_id for p in sent(protocol.Prompt)}

        seq = iter(range(1, 100))

        def confirmation(schedule: str) -> bytes:
            body = protocol.MedicationTaken(schedule=schedule)
            return protocol.encode(
                protocol.envelope(body, id=protocol.new_message_id(), ts=hub_clock(), seq=next(seq))
            )

        topic = f"ta/v1/d/{dispenser}/event"
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=dispenser) as box:
            insulina = confirmation("insulina")
            await box.publish(topic, insulina, qos=1)
            await eventually(lambda: len(sent(protocol.PromptWithdrawn)) == 1)
            [withdrawn] = sent(protocol.PromptWithdrawn)
            assert withdrawn.prompt_id == reminders["insulina"]  # that dose only
            # The same message re-sent, the box reporting the dose again; then the other
            # dose, whose withdrawal (events of a home are applied in order) says the
            # two before it were handled.
            await box.publish(topic, insulina, qos=1)
            await box.publish(topic, confirmation("insulina"), qos=1)
            await box.publish(topic, confirmation("sintrom"), qos=1)
            await eventually(lambda: len(sent(protocol.PromptWithdrawn)) >= 2)
    assert [w.prompt_id for w in sent(protocol.PromptWithdrawn)] == [
        reminders["insulina"],
        reminders["sintrom"],
    ]
