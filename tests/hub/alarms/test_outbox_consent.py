"""The alarm engine as a social-record producer (SQLite and PostgreSQL): a panic taken to 112
and resolved through the API puts its alarm and 112 events in the outbox only for a
resident who agreed to the social record."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.alarms.keys import ALARM_ENGINE
from hub.auth import Role
from hub.db.models import Home, Resident
from hub.outbox import OutboxRow
from protocol import Panic
from tests.hub.alarms.test_api import _event, centre  # noqa: F401 - the 112 centre fixture


@pytest.mark.parametrize(("consent", "kinds"), [(True, ["alarm", "escalation_112"]), (False, [])])
async def test_a_resolved_alarm_reaches_the_outbox_only_with_consent(
    centre,  # noqa: F811 - the fixture imported above
    hub_client,
    hub_sessionmaker,
    token_for,
    hub_clock,
    consent,
    kinds,
) -> None:
    async with hub_sessionmaker() as session:
        home = Home(address="Carrer de Sants 1, Barcelona", lat=41.37, lon=2.13)
        session.add(home)
        await session.flush()
        resident = Resident(home_id=home.id, name="Rosa Puig", consent={"wsocial_export": consent})
        session.add(resident)
        await session.commit()
        home_id, resident_id = str(home.id), str(resident.id)
    headers = {"Authorization": f"Bearer {await token_for(Role.OPERATOR)}"}
    engine = hub_client.app[ALARM_ENGINE]
    (change,) = await engine.handle_event(_event(home_id, resident_id, Panic(), hub_clock()))
    base = f"/api/alarms/{change.alarm.id}"
    for path, body in (
        ("/accept", None),
        ("/escalations", {"target": "emergency_112"}),
        ("/resolve", {"outcome": "ambulance"}),
    ):
        resp = await hub_client.post(base + path, json=body, headers=headers)
        assert resp.status == 200, await resp.text()
    async with hub_sessionmaker() as session:
        stored = await session.scalars(
            select(OutboxRow.kind)
            .where(OutboxRow.resident_id == resident_id)
            .order_by(OutboxRow.id)
        )
        assert list(stored) == kinds
