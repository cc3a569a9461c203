"""Tablet tokens (issue 19, ADR 0052): only pairing makes one; they expire, renew,
are listed per resident and revocable. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from hub.app import SETTINGS
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Device
from hub.family.models import TabletCredential
from tests.family.conftest import World


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _me_status(world: World, headers: dict[str, str]) -> int:
    return (await world.client.get("/api/family/me", headers=headers)).status


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.INSTALLER])
async def test_staff_cannot_mint_a_tablet_token(world: World, role: Role) -> None:
    maria = await world.resident()
    staff = _bearer(await world.token_for(role))
    resp = await world.client.post(
        "/api/family/tablets",
        json={"resident_id": maria.resident_id, "device_id": "made-up"},
        headers=staff,
    )
    assert resp.status in (404, 405)
    async with world.sessionmaker() as session:
        made_up = await session.get(TabletCredential, "made-up")
        count = await session.scalar(select(func.count()).select_from(TabletCredential))
    assert made_up is None
    assert count == 1  # only the paired tablet's


async def test_a_token_of_a_device_that_is_not_the_residents_tablet_is_refused(
    world: World,
) -> None:
    maria = await world.resident()
    # A token row whose device is not a registered tablet of her home (e.g. one minted
    # by the old route before the upgrade): refused even though the hash matches.
    async with world.sessionmaker() as session:
        await session.execute(
            update(Device).where(Device.id == maria.device_id).values(type="pendant")
        )
        await session.commit()
    assert await _me_status(world, maria.headers) == 401
    async with world.sessionmaker() as session:
        await session.execute(
            update(Device).where(Device.id == maria.device_id).values(type="tablet")
        )
        await session.commit()
    assert await _me_status(world, maria.headers) == 200
    async with world.sessionmaker() as session:
        await session.execute(
            update(Device).where(Device.id == maria.device_id).values(state="revoked")
        )
        await session.commit()
    assert await _me_status(world, maria.headers) == 401


async def test_a_paired_tablets_token_expires(world: World, hub_clock: ManualClock) -> None:
    resident = await world.resident()
    paired = await world.pair_tablet(resident.resident_id)
    ttl = world.client.app[SETTINGS].tablet_token_ttl_s
    assert datetime.fromisoformat(paired["api_token_expires_at"]) == hub_clock() + timedelta(
        seconds=ttl
    )
    headers = _bearer(paired["api_token"])
    assert await _me_status(world, headers) == 200
    hub_clock.advance(timedelta(seconds=ttl))
    assert await _me_status(world, headers) == 401


async def test_the_tablet_renews_its_token(world: World, hub_clock: ManualClock) -> None:
    maria = await world.resident()
    ttl = world.client.app[SETTINGS].tablet_token_ttl_s
    hub_clock.advance(timedelta(seconds=ttl - 60))
    resp = await world.client.post("/api/family/tablet/token", headers=maria.headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    renewed = await resp.json()
    assert datetime.fromisoformat(renewed["expires_at"]) == hub_clock() + timedelta(seconds=ttl)
    new = _bearer(renewed["token"])
    # The old token stops working at once, and cannot be renewed a second time.
    assert await _me_status(world, maria.headers) == 401
    again = await world.client.post("/api/family/tablet/token", headers=maria.headers)
    assert again.status == 401
    hub_clock.advance(timedelta(seconds=120))  # past the first token's expiry
    me = await world.client.get("/api/family/me", headers=new)
    assert me.status == 200
    assert (await me.json())["party"] == maria.party


async def test_only_a_tablet_renews_a_tablet_token(world: World) -> None:
    await world.resident()
    for role in (Role.OPERATOR, Role.FAMILY):
        resp = await world.client.post(
            "/api/family/tablet/token", headers=_bearer(await world.token_for(role))
        )
        assert resp.status == 403
    assert (await world.client.post("/api/family/tablet/token")).status == 401
    forged = await world.client.post("/api/family/tablet/token", headers=_bearer("tab_forged"))
    assert forged.status == 401


async def test_staff_list_and_revoke_a_residents_tablet_tokens(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    other = await world.resident("Josep")
    operator = _bearer(await world.token_for(Role.OPERATOR))
    resp = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/tablets", headers=operator
    )
    assert resp.status == 200
    listed = await resp.json()
    ttl = timedelta(seconds=world.client.app[SETTINGS].tablet_token_ttl_s)
    assert listed == [
        {
            "device_id": maria.device_id,
            "resident_id": maria.resident_id,
            "issued_at": hub_clock().isoformat(),
            "expires_at": (hub_clock() + ttl).isoformat(),
            "expired": False,
        }
    ]
    assert "token" not in listed[0]
    for outsider in (maria.headers, _bearer(await world.token_for(Role.FAMILY))):
        refused = await world.client.get(
            f"/api/family/residents/{maria.resident_id}/tablets", headers=outsider
        )
        assert refused.status == 403
        refused = await world.client.delete(
            f"/api/family/tablets/{maria.device_id}", headers=outsider
        )
        assert refused.status == 403
    gone = await world.client.delete(f"/api/family/tablets/{maria.device_id}", headers=operator)
    assert gone.status == 204
    assert await _me_status(world, maria.headers) == 401
    assert await _me_status(world, other.headers) == 200
    again = await world.client.delete(f"/api/family/tablets/{maria.device_id}", headers=operator)
    assert again.status == 404
