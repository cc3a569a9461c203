"""Editing a resident's alarm rules: on the service pages' API (coordinator) and on the
resident card (supervisor); validation with clear errors, the audit, and the running
engine (every worker) taking the change at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from alerts import RuleKind, TimeWindow
from hub.alarms import store as alarm_store
from hub.alarms.keys import ALARM_ENGINE
from hub.app import create_app
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import AuditEntry
from tests.instants import NIGHT
from tests.service.helpers import Client, install, post, submit


async def _assessed(client: Client, coordinator: dict[str, str]) -> tuple[str, int]:
    reference, _ = await submit(client)
    assessed = await post(
        client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "high", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    return reference, int(assessed["resident_id"])


async def test_a_coordinator_changes_rules_on_the_care_plan(
    hub_client: Client, auth_headers: Any, hub_sessionmaker: Any
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, resident_id = await _assessed(hub_client, coordinator)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"rules": {"morning_start": "09:00", "morning_end": "11:30", "temperature_low": 19}},
    )
    resp = await hub_client.get(f"/api/service/referrals/{reference}", headers=coordinator)
    plans = (await resp.json())["care_plans"]
    latest = plans[-1]
    assert latest["version"] == 2
    assert latest["rule_overrides"] == {
        "morning_end": "11:30",
        "morning_start": "09:00",
        "temperature_low": 19.0,
    }
    assert latest["rules"]["morning_start"] == "09:00"
    assert latest["rules"]["check_in_deadlines"] == ["10:00"]  # the high level's
    assert latest["rule_defaults"]["morning_start"] == "07:00"
    assert plans[0]["rule_overrides"] == {}  # versions are kept as they were
    # The running engine has it.
    plan = hub_client.server.app[ALARM_ENGINE]._cache[str(resident_id)].plan
    assert plan.inactivity.windows == (TimeWindow(time(9), time(11, 30)),)
    assert plan.temperature.low == 19.0
    async with hub_sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "service.care_plan")
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None
    assert entry.details["rules"] == {
        "morning_end": "11:30",
        "morning_start": "09:00",
        "temperature_low": 19.0,
    }
    # Back to the level's default, and the old single deadline edit replaces a list.
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"rules": {"morning_end": None, "morning_start": None, "check_in_deadlines": ["09:00"]}},
    )
    plan = hub_client.server.app[ALARM_ENGINE]._cache[str(resident_id)].plan
    assert plan.inactivity.windows == (TimeWindow(time(7), time(10)),)
    assert plan.check_in.deadlines == (time(9),)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"check_in_deadline": "08:15"},
    )
    plan = hub_client.server.app[ALARM_ENGINE]._cache[str(resident_id)].plan
    assert plan.check_in.deadlines == (time(8, 15),)


@pytest.mark.parametrize(
    ("rules", "detail"),
    [
        ({"morning_start": "10:00", "morning_end": "08:00"}, "ends (08:00) before it starts"),
        ({"check_in_deadlines": ["24:00"]}, "24:00 is outside the day"),
        ({"temperature_low": 30, "temperature_high": 25}, "must be below the high"),
        ({"bed_return_min": 0}, "back in bed within 5 to 240 minutes"),
        ({"sleep": True}, "unknown rule settings: sleep"),
        ("09:00", "rules must be an object"),
    ],
)
async def test_bad_rules_are_refused_and_nothing_changes(
    hub_client: Client, auth_headers: Any, rules: Any, detail: str
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, resident_id = await _assessed(hub_client, coordinator)
    refused = await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"rules": rules},
        status=422,
    )
    assert refused["error"] == "invalid_care_plan"
    assert detail in refused["detail"]
    supervisor = await auth_headers(Role.SUPERVISOR)
    card = await post(
        hub_client, f"/api/service/residents/{resident_id}/rules", supervisor, {"rules": rules}, 422
    )
    assert detail in card["detail"]
    resp = await hub_client.get(f"/api/service/residents/{resident_id}/rules", headers=supervisor)
    assert (await resp.json())["version"] == 1


async def test_a_supervisor_changes_rules_on_the_resident_card(
    hub_client: Client, auth_headers: Any
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    _, resident_id = await _assessed(hub_client, coordinator)
    supervisor = await auth_headers(Role.SUPERVISOR)
    path = f"/api/service/residents/{resident_id}/rules"
    view = await post(
        hub_client, path, supervisor, {"rules": {"night_start": "22:00", "bed": False}}
    )
    assert view["version"] == 2
    assert view["editable"] is True
    assert view["rules"]["night_start"] == "22:00"
    assert view["rules"]["bed"] is False
    plan = hub_client.server.app[ALARM_ENGINE]._cache[str(resident_id)].plan
    assert plan.night.window == TimeWindow(time(22), time(7))
    assert not plan.night.bed_alarm
    # The operator reads them (on the card), and may not change them.
    operator = await auth_headers(Role.OPERATOR)
    resp = await hub_client.get(path, headers=operator)
    assert resp.status == 200
    assert (await resp.json())["editable"] is False
    await post(hub_client, path, operator, {"rules": {"bed": True}}, status=403)


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/service/residents/abc/rules", {"rules": {}}, 404, "not_found"),
        ("/api/service/residents/999999/rules", {"rules": {}}, 404, "no_service"),
        (None, {"rules": {}, "notes": "x"}, 400, "invalid_request"),
        (None, {}, 400, "invalid_request"),
    ],
)
async def test_resident_card_rules_bad_requests(
    hub_client: Client,
    auth_headers: Any,
    path: str | None,
    body: dict[str, Any],
    status: int,
    error: str,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    _, resident_id = await _assessed(hub_client, coordinator)
    supervisor = await auth_headers(Role.SUPERVISOR)
    refused = await post(
        hub_client,
        path or f"/api/service/residents/{resident_id}/rules",
        supervisor,
        body,
        status=status,
    )
    assert refused["error"] == error


@pytest.mark.parametrize("clock_start", [NIGHT])  # 03:00 in Barcelona, 14 January 2027
async def test_a_late_riser_s_morning_window_in_the_running_hub(
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
    resident_id = str(detail["resident_id"])
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"rules": {"morning_start": "09:00", "morning_end": "11:30", "check_in": False}},
    )
    engine = hub_client.server.app[ALARM_ENGINE]

    async def open_rules() -> list[tuple[RuleKind, ...]]:
        await engine.run_due()
        async with hub_sessionmaker() as session:
            alarms = await alarm_store.list_alarms(session, status="open", category=None, limit=9)
        return [a.rules for a in alarms if a.resident_id == resident_id]

    # 10:10 in Barcelona: the default window (07:00–10:00, then 5 min for the tablet's
    # question) would have raised by now.
    hub_clock.advance(datetime(2027, 1, 14, 9, 10, tzinfo=UTC) - hub_clock())
    assert await open_rules() == []
    # 11:30: her window closes with no movement; the tablet asks first...
    hub_clock.advance(datetime(2027, 1, 14, 10, 30, tzinfo=UTC) - hub_clock())
    assert await open_rules() == []
    # ...and nobody answers in 5 minutes. The check-in is off: noon passes quietly.
    hub_clock.advance(timedelta(minutes=5))
    assert await open_rules() == [(RuleKind.INACTIVITY,)]
    hub_clock.advance(timedelta(hours=2))
    assert await open_rules() == [(RuleKind.INACTIVITY,)]


@pytest.mark.postgres
async def test_a_rule_change_on_one_worker_reaches_the_other_at_once(
    hub_client: Client, hub_app: web.Application, hub_settings: Any, hub_config: Any,
    hub_clock: ManualClock, auth_headers: Any, aiohttp_client: Any, database_url: str,
) -> None:  # fmt: skip
    if not database_url.startswith("postgresql"):
        pytest.skip("the fanout between workers is PostgreSQL's LISTEN/NOTIFY")
    second = await aiohttp_client(create_app(hub_settings, config=hub_config, clock=hub_clock))
    coordinator = await auth_headers(Role.COORDINATOR)
    _, resident_id = await _assessed(hub_client, coordinator)
    other = second.server.app[ALARM_ENGINE]
    home_id = str(hub_client.server.app[ALARM_ENGINE]._cache[str(resident_id)].state.home_id)
    await other.reload_plan(str(resident_id), home_id)  # the other worker has it cached
    assert other._cache[str(resident_id)].plan.inactivity.windows[0].start == time(7)
    supervisor = await auth_headers(Role.SUPERVISOR)
    await post(
        hub_client,
        f"/api/service/residents/{resident_id}/rules",
        supervisor,
        {"rules": {"morning_start": "08:30", "morning_end": "12:00"}},
    )
    async with asyncio.timeout(30):
        while other._cache[str(resident_id)].plan.inactivity.windows[0].start != time(8, 30):
            await asyncio.sleep(0.05)  # the NOTIFY crosses a real PostgreSQL connection
    assert other._cache[str(resident_id)].plan.inactivity.windows[0].end == time(12)


async def test_refusals_name_the_field_in_the_readers_language(
    hub_client: Client, auth_headers: Any
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, _ = await _assessed(hub_client, coordinator)
    bad = {"rules": {"morning_start": "10:00", "morning_end": "08:00", "bed_return_min": 1}}
    refused = await post(
        hub_client, f"/api/service/referrals/{reference}/care-plan?lang=ca", coordinator, bad, 422
    )
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        ("rules.morning_end", "morning_order"),
        ("rules.bed_return_min", "bed_return_range"),
    ]
    assert refused["errors"][0]["message"] == (
        "La franja del matí acaba (08:00) abans que comenci (10:00)."
    )
    refused = await post(
        hub_client, f"/api/service/referrals/{reference}/care-plan?lang=es", coordinator, bad, 422
    )
    assert refused["errors"][1]["message"] == "Volver a la cama en 5 a 240 minutos, no 1."
