"""A (re)connected tablet gets its resident's language and check-in times (Configure)."""

from __future__ import annotations

from datetime import time
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import CarePlan, EscalationPolicy
from alerts.careplan import CheckInSettings
from alerts.channels import TabletChannel
from hub.alarms import store
from hub.alarms.effects import TabletSettingsSender
from hub.alarms.keys import ALARM_EFFECTS
from hub.clock import ManualClock
from hub.db.models import Resident
from hub.ingest.events import DeviceConnected
from protocol import Configure, decode_command
from tests.hub.ingest.helpers import seed_home


class Sent:
    """The tablet channel's publisher port, recording what would go to the broker."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        assert qos == 1
        self.messages.append((topic, payload))


async def test_settings_on_connect(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    effects = hub_client.app[ALARM_EFFECTS]
    sent = Sent()
    effects.tablet = TabletChannel(sent)
    sender = TabletSettingsSender(lambda: effects)
    home_id, rid = await seed_home(hub_sessionmaker, {})
    async with hub_sessionmaker() as session:
        resident = await session.get(Resident, rid)
        assert resident is not None
        resident.language = "es"
        resident.address_form = "feminine"  # "Esté tranquila" on the tablet
        await store.save_plan(
            session,
            CarePlan(str(rid), check_in=CheckInSettings(enabled=True, deadlines=(time(9, 30),))),
            EscalationPolicy(),
            hub_clock(),
        )
        await session.commit()

    def connected(device_type: str, resident_id: int | None) -> DeviceConnected:
        return DeviceConnected("tab-x", device_type, home_id, resident_id, "m1", hub_clock())

    await sender.handle_connected(connected("pendant", rid))  # not a tablet: nothing
    await sender.handle_connected(connected("tablet", None))  # nobody to configure for
    assert sent.messages == []

    await sender.handle_connected(connected("tablet", rid))
    [(topic, payload)] = sent.messages
    assert topic == "ta/v1/c/tab-x/configure"
    command = decode_command(payload, now=hub_clock())
    assert command.body == Configure(
        check_in_deadlines=[time(9, 30)], language="es", address_form="feminine"
    )

    # Without a check-in in the plan the tablet is told there is none.
    async with hub_sessionmaker() as session:
        await store.save_plan(session, CarePlan(str(rid)), EscalationPolicy(), hub_clock())
        await session.commit()
    await sender.handle_connected(connected("tablet", rid))
    assert decode_command(sent.messages[-1][1], now=hub_clock()).body == Configure(
        check_in_deadlines=[], language="es", address_form="feminine"
    )
