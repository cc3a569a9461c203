"""The read API over both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.app import TIMESERIES
from hub.auth import Role
from hub.db.models import Device, Home, Resident
from hub.timeseries import Point
from tests.instants import DEFAULT_START

# Two hours before the hub's clock (hub_clock starts at DEFAULT_START).
T0 = DEFAULT_START - timedelta(hours=2)


async def _seed(sessions: Any) -> int:
    async with sessions() as session:
        home = Home(address="Carrer del Sol 4", abss_area="BCN-3", lat=41.4, lon=2.1)
        session.add_all(
            [
                home,
                Resident(home=home, name="Rosa Vila", language="es", medical_notes="secret"),
                Device(id="r1-pendant", home=home, type="pendant", battery=80, state="online"),
                Device(id="r1-temp", home=home, type="thermometer"),
            ]
        )
        await session.commit()
        return home.id


async def test_read_api(hub_client: Any, hub_sessionmaker: Any, auth_headers: Any) -> None:
    home_id = await _seed(hub_sessionmaker)
    await hub_client.app[TIMESERIES].write(
        [
            Point("r1-temp", "temperature", T0 + i * timedelta(minutes=1), 20.0 + i, home_id, "Cel")
            for i in range(90)
        ]
    )
    headers = await auth_headers(Role.OPERATOR)

    homes = await (await hub_client.get("/api/homes", headers=headers)).json()
    assert homes["total"] == 1
    assert homes["items"][0]["device_count"] == 2
    assert homes["items"][0]["residents"][0]["name"] == "Rosa Vila"

    home = await (await hub_client.get(f"/api/homes/{home_id}", headers=headers)).json()
    assert "medical_notes" not in home["residents"][0]
    temp = next(d for d in home["devices"] if d["id"] == "r1-temp")
    assert temp["last_values"][0]["value"] == 109.0

    devices = await (
        await hub_client.get("/api/devices", params={"state": "online"}, headers=headers)
    ).json()
    assert [d["id"] for d in devices["items"]] == ["r1-pendant"]
    assert devices["items"][0]["battery"] == 80

    series = await hub_client.get(
        "/api/devices/r1-temp/series",
        params={
            "kind": "temperature",
            "bucket": "1h",
            "start": T0.isoformat(),
            "end": (T0 + timedelta(hours=2)).isoformat(),
        },
        headers=headers,
    )
    assert series.status == 200
    points = (await series.json())["points"]
    assert sum(p["count"] for p in points) == 90

    residents = await (
        await hub_client.get("/api/residents", params={"home_id": home_id}, headers=headers)
    ).json()
    assert residents["items"][0]["language"] == "es"


async def test_read_api_errors(hub_client: Any, auth_headers: Any) -> None:
    headers = await auth_headers(Role.SUPERVISOR)
    cases = [
        ("/api/homes/999", {}, 404),
        ("/api/devices/nope", {}, 404),
        ("/api/homes", {"limit": "x"}, 400),
        ("/api/devices", {"state": "sleepy"}, 400),
        ("/api/devices/nope/series", {"kind": "t"}, 404),
    ]
    for path, params, status in cases:
        resp = await hub_client.get(path, params=params, headers=headers)
        assert resp.status == status, path
        assert "error" in await resp.json()
    family = await auth_headers(Role.FAMILY)
    assert (await hub_client.get("/api/homes", headers=family)).status == 403
    assert (await hub_client.get("/api/homes")).status == 401
    stats = await hub_client.get("/api/ingest/stats", headers=headers)
    assert await stats.json() == {"enabled": False}
    doc = await (await hub_client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/devices/{device_id}/series" in doc["paths"]


async def test_series_validation(hub_client: Any, hub_sessionmaker: Any, auth_headers: Any) -> None:
    await _seed(hub_sessionmaker)
    headers = await auth_headers(Role.ADMIN)
    for params in (
        {},
        {"kind": "t", "bucket": "5m"},
        {"kind": "t", "start": "yesterday"},
        {"kind": "t", "start": "2026-01-01T00:00:00"},
        # A kind is a contract token (protocol.Token), never a piece of a query.
        {"kind": 'temperature" or device=~".+'},
        {"kind": "Temperature"},
        {"kind": "t" * 33},
    ):
        resp = await hub_client.get("/api/devices/r1-temp/series", params=params, headers=headers)
        assert resp.status == 400, params
