"""Medication adherence where consent allows (issue 22, item 3; ADR 0152): in the family
app's "today" for members who share the resident's activity, and in the visor when the
resident agreed to the social record. Fixed instants."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Device, Resident, StoredEvent
from hub.family.consent import Scope, encode_scopes
from hub.family.models import CircleLink
from hub.family.parties import user_party
from hub.outbox.consent import SOCIAL_RECORD
from tests.instants import NIGHT
from tests.service.helpers import Client, install, post, submit


@pytest.mark.parametrize("clock_start", [NIGHT])  # 03:00 in Barcelona, Thursday 14 January 2027
async def test_the_family_and_the_visor_see_doses_taken_and_missed_per_consent(
    hub_client: Client,
    hub_sessionmaker: Any,
    hub_clock: ManualClock,
    auth_headers: Any,
    make_user: Any,
    token_for: Any,
    clock_start: datetime,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    resident_id = int(detail["resident_id"])
    rules = {"medications": [{"name": "insulina", "times": ["08:00"]}], "medication_grace_min": 30}
    await post(
        hub_client, f"/api/service/referrals/{reference}/care-plan", coordinator, {"rules": rules}
    )
    son = await make_user(Role.FAMILY)
    niece = await make_user(Role.FAMILY)
    async with hub_sessionmaker() as session:
        resident = await session.get(Resident, resident_id)
        assert resident is not None
        resident.consent = {**(resident.consent or {}), SOCIAL_RECORD: True}
        session.add_all(
            [
                CircleLink(
                    resident_id=resident_id,
                    member=user_party(son.id),
                    consent=encode_scopes([Scope.ACTIVITY]),
                ),
                CircleLink(
                    resident_id=resident_id,
                    member=user_party(niece.id),
                    consent=encode_scopes([Scope.ALARMS]),
                ),
            ]
        )
        device = await session.scalar(select(Device.id).where(Device.home_id == resident.home_id))
        assert device is not None
        # Thursday's dose confirmed at 08:05; Friday's never.
        session.add(
            StoredEvent(
                message_id="taken-1",
                device_id=device,
                type="medication_taken",
                ts=datetime(2027, 1, 14, 7, 5, tzinfo=UTC),
                received_at=datetime(2027, 1, 14, 7, 5, tzinfo=UTC),
                seq=1,
                body={"type": "medication_taken", "schedule": "insulina 08:00"},
            )
        )
        await session.commit()
    hub_clock.advance(datetime(2027, 1, 15, 11, 0, tzinfo=UTC) - hub_clock())  # Friday 12:00

    son_token = await _token(hub_client, son.username)
    niece_token = await _token(hub_client, niece.username)
    seen = await (
        await hub_client.get(f"/api/family/residents/{resident_id}/today", headers=son_token)
    ).json()
    assert seen["medication"]["doses"] == ["insulina 08:00"]
    week = seen["medication"]["weeks"][-1]
    assert (week["week_start"], week["expected"], week["confirmed"], week["missed"]) == (
        "2027-01-11",
        2,
        1,
        1,
    )
    hidden = await (
        await hub_client.get(f"/api/family/residents/{resident_id}/today", headers=niece_token)
    ).json()
    assert "medication" not in hidden

    worker = {"Authorization": f"Bearer {await token_for(Role.SOCIAL_WORKER)}"}
    form = {"resident": str(resident_id), "reason": "follow_up"}
    page = unescape(
        await (await hub_client.post("/visor/view?lang=en", data=form, headers=worker)).text()
    )
    assert 'id="visor-medication"' in page
    assert "50 % of the doses confirmed in the last 8 weeks." in page
    # Without the resident's consent to the social record the visor shows none of it.
    async with hub_sessionmaker() as session:
        resident = await session.get(Resident, resident_id)
        assert resident is not None
        resident.consent = {**resident.consent, SOCIAL_RECORD: False}
        await session.commit()
    page = await (await hub_client.post("/visor/view?lang=en", data=form, headers=worker)).text()
    assert 'id="visor-medication"' not in page


async def _token(client: Client, username: str) -> dict[str, str]:
    from tests.hub.fixtures import TEST_PASSWORD

    login = await client.post(
        "/api/auth/login", json={"username": username, "password": TEST_PASSWORD}
    )
    return {"Authorization": f"Bearer {(await login.json())['access_token']}"}
