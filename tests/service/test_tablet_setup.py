"""The installer's tablet setup code: the tablet pairs itself and lands on the work order."""

from __future__ import annotations

from typing import Any

from hub.auth import Role
from tests.service.helpers import Client, post, submit

Headers = Any


async def test_a_tablet_paired_with_a_setup_code_fills_the_work_orders_tablet_line(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "basic", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    order = await post(hub_client, f"/api/service/referrals/{reference}/work-order", coordinator)
    order_id = order["result"]["work_order"]
    detail = await (
        await hub_client.get(f"/api/service/work-orders/{order_id}", headers=installer)
    ).json()
    resident_id = detail["resident_id"]
    assert resident_id is not None

    async def pair_a_tablet() -> str:
        code = await post(
            hub_client, f"/api/residents/{resident_id}/tablet-setup-codes", installer, status=201
        )
        resp = await hub_client.post("/api/tablet/pair", json={"code": code["code"]})
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["device_id"])

    async def tablet_line() -> dict[str, Any]:
        resp = await hub_client.get(f"/api/service/work-orders/{order_id}", headers=installer)
        [line] = [d for d in (await resp.json())["devices"] if d["kind"] == "tablet"]
        return line

    # Before the installation starts the work order is left alone.
    first = await pair_a_tablet()
    assert (await tablet_line())["device_id"] is None

    await post(hub_client, f"/api/service/work-orders/{order_id}/start", installer)
    device_id = await pair_a_tablet()
    assert device_id == first  # the same resident's tablet, new credentials
    line = await tablet_line()
    assert line["device_id"] == device_id
    assert line["paired_at"] is not None
    # Pairing again (a replaced tablet) keeps the line as it is.
    assert await pair_a_tablet() == device_id
    assert (await tablet_line())["device_id"] == device_id
