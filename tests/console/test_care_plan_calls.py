"""The care plan's ``wellbeing_call_every_days`` fills the wellbeing-call agenda: a call once
that many days have passed since the resident's last call (or since activation), at fixed
instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.auth import Role
from hub.clock import ManualClock
from tests.service.helpers import Client, install, post, submit

START = datetime(2027, 1, 14, 8, 0, tzinfo=UTC)  # Thursday, 09:00 in Barcelona


async def _care_plan_calls(client: Client, auth_headers: Any, rid: int) -> list[Any]:
    """The resident's care-plan calls, open and done (read as an operator signed in now:
    the hub clock moves by days, past any token's life)."""
    headers = await auth_headers(Role.OPERATOR)
    calls: list[Any] = []
    for status in ("done", "open"):
        resp = await client.get(f"/api/console/calls?status={status}", headers=headers)
        assert resp.status == 200, await resp.text()
        calls += (await resp.json())["calls"]
    found = [c for c in calls if c["resident_id"] == rid and c["reason"] == "care_plan"]
    return sorted(found, key=lambda c: c["due_at"])


@pytest.mark.parametrize("clock_start", [START])
async def test_every_n_days_after_the_last_call(
    hub_client: Client,
    hub_sessionmaker: Any,
    hub_clock: ManualClock,
    auth_headers: Any,
    clock_start: datetime,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    assert detail["service_state"] == "active"
    rid = int(detail["resident_id"])
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"wellbeing_call_every_days": 7},
    )
    hub_clock.advance(timedelta(days=6))
    assert await _care_plan_calls(hub_client, auth_headers, rid) == []
    hub_clock.advance(timedelta(days=1))  # a week after activation
    for _ in range(2):  # reading the agenda again makes no second call
        (call,) = await _care_plan_calls(hub_client, auth_headers, rid)
    assert call["due_at"].startswith("2027-01-21T")
    done = await hub_client.post(
        f"/api/console/calls/{call['id']}/outcome",
        json={"outcome": "reached_fine"},
        headers=await auth_headers(Role.OPERATOR),
    )
    assert done.status == 200, await done.text()
    hub_clock.advance(timedelta(days=6))
    assert len(await _care_plan_calls(hub_client, auth_headers, rid)) == 1
    # Planned more often now: the new version's period counts from the last call.
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        await auth_headers(Role.COORDINATOR),
        {"wellbeing_call_every_days": 3},
    )
    calls = await _care_plan_calls(hub_client, auth_headers, rid)
    assert [c["due_at"][:10] for c in calls] == ["2027-01-21", "2027-01-27"]


@pytest.mark.parametrize("clock_start", [START])
async def test_a_paused_service_gets_no_calls(
    hub_client: Client,
    hub_sessionmaker: Any,
    hub_clock: ManualClock,
    auth_headers: Any,
    clock_start: datetime,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    rid = int(detail["resident_id"])
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/suspend",
        coordinator,
        {"reason": "hospital_stay", "resume_on": "2027-03-01"},
    )
    hub_clock.advance(timedelta(days=40))  # past the basic level's 30 days
    assert await _care_plan_calls(hub_client, auth_headers, rid) == []
