"""Structured health and care data of a resident: who reads and writes it (audited), every
bad field refused, what 112 gets, and the migration of today's free-text notes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.db import make_engine, upgrade_to_head
from hub.db.migrate import upgrade_to
from hub.db.models import AuditEntry, Home

Headers = Callable[..., Awaitable[dict[str, str]]]
RECORD = {
    "allergies": ["penicil·lina", "  iode  "],
    "conditions": ["diabetis tipus 2", "marcapassos (2019)"],
    "medication": ["insulina 10 UI al matí"],
    "mobility_aids": ["caminador"],
    "hearing": "hipoacúsia lleu",
    "gp": "Dra. Soler, CAP Sants",
    "dnr": True,
    "notes": "Parlar a poc a poc.",
}


async def test_a_supervisor_writes_it_the_operator_reads_it_and_112_gets_it(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rid = demo.residents[0]
    url = f"/api/console/residents/{rid}/health"
    laia = await auth_headers(Role.SUPERVISOR, username="sup-health")
    resp = await hub_client.put(url, json=RECORD, headers=laia)
    assert resp.status == 200, await resp.text()
    anna = await auth_headers(Role.OPERATOR, username="op-health")
    record = await (await hub_client.get(url, headers=anna)).json()
    assert record["allergies"] == ["penicil·lina", "iode"]
    assert record["dnr"] is True
    assert record["editable"] is False
    assert record["updated_by"] == "sup-health"
    assert (await hub_client.put(url, json={"dnr": False}, headers=anna)).status == 403
    admin = await auth_headers(Role.ADMIN)
    assert (await hub_client.get(url, headers=admin)).status == 403  # not a carer
    async with hub_sessionmaker() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.object == f"resident:{rid}"))
        ).all()
    written = [e for e in entries if e.action == "resident.health"]
    assert written[-1].details == {"fields": sorted(RECORD)}  # names, never the values
    assert any(
        e.action == "resident.read" and e.details == {"view": "health"} and e.actor == "op-health"
        for e in entries
    )
    # What the 112 hand-off carries about her health: DNR and allergies first.
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    payload = await hub_client.get(f"/api/alarms/{alarm}/emergency-payload", headers=laia)
    body = await payload.text()
    assert payload.status == 200, body
    assert "DNR (do not resuscitate) on record. Allergies: penicil·lina, iode" in body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"allergies": "penicil·lina"}, "$.allergies"),
        ({"allergies": [3]}, "$.allergies"),
        ({"conditions": ["x" * 121]}, "$.conditions"),
        ({"medication": ["a"] * 31}, "$.medication"),
        ({"dnr": "yes"}, "$.dnr"),
        ({"gp": "x" * 201}, "$.gp"),
        ({"notes": 5}, "$.notes"),
        ({"hearing": "bé\x00"}, "NUL"),
        ({"blood_group": "A+"}, "blood_group"),
    ],
)
async def test_bad_fields_are_refused(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    body: dict[str, Any],
    error: str,
) -> None:
    laia = await auth_headers(Role.SUPERVISOR)
    resp = await hub_client.put(
        f"/api/console/residents/{demo.residents[0]}/health", json=body, headers=laia
    )
    assert resp.status == 400
    assert error in (await resp.json())["message"]


async def test_no_such_resident(hub_client: TestClient[Any, Any], auth_headers: Headers) -> None:
    laia = await auth_headers(Role.SUPERVISOR)
    for path in ("/api/console/residents/999999/health", "/api/console/residents/x/health"):
        assert (await hub_client.get(path, headers=laia)).status == 404
        assert (await hub_client.put(path, json={}, headers=laia)).status == 404


async def test_the_migration_keeps_todays_notes_in_the_record(empty_database_url: str) -> None:
    await upgrade_to(empty_database_url, "security_0006")
    engine = make_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            home = (
                await conn.execute(insert(Home).values(address="x").returning(Home.id))
            ).scalar_one()
            # The columns of that revision, not today's model: later migrations add more
            # (service_0003's address_form) that this schema does not have yet.
            await conn.execute(
                text(
                    "INSERT INTO residents (home_id, name, language, medical_notes, lives_alone,"
                    " consent, created_at) VALUES (:home, :name, 'ca', :notes, :alone, '{}', :at)"
                ),
                [
                    {"home": home, "alone": True, "at": datetime(2026, 12, 1, 9, 0), **row}
                    for row in (
                        {"name": "Núria", "notes": "Diabetis. Al·lèrgia."},
                        {"name": "Pere", "notes": ""},
                    )
                ],
            )
        await upgrade_to_head(empty_database_url)
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT r.name, h.notes, h.allergies, h.dnr FROM resident_health h"
                        " JOIN residents r ON r.id = h.resident_id"
                    )
                )
            ).all()
            kept = (await conn.execute(text("SELECT medical_notes FROM residents"))).scalars()
            assert sorted(kept) == ["", "Diabetis. Al·lèrgia."]
        assert len(rows) == 1
        name, notes, allergies, dnr = rows[0]
        assert (name, notes, bool(dnr)) == ("Núria", "Diabetis. Al·lèrgia.", False)
        assert allergies in ([], "[]")
    finally:
        await engine.dispose()
