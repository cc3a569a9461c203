"""Supervisor figures: definitions (pure), the API over real alarms, CSV, on-shift list."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import protocol
from hub.auth import Role
from hub.clock import ManualClock
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.console.figures import AlarmRecord, percentile, service_figures, to_csv

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Headers = Callable[..., Awaitable[dict[str, str]]]


def record(
    n: int,
    accept_s: float | None,
    resolve_s: float | None = None,
    *,
    by: str = "anna",
    category: str = "care",
    rule: str = "panic",
    outcome: str | None = None,
) -> AlarmRecord:
    return AlarmRecord(
        id=f"a{n}",
        rule=rule,
        category=category,
        priority=1,
        raised_at=T0,
        accepted_at=None if accept_s is None else T0 + timedelta(seconds=accept_s),
        accepted_by=None if accept_s is None else by,
        resolved_at=None if resolve_s is None else T0 + timedelta(seconds=resolve_s),
        outcome=outcome,
    )


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile(list(range(1, 101)), 0.95) == 95


def test_service_figures_definitions() -> None:
    now = T0 + timedelta(hours=1)
    records = [
        record(1, 20, 300, outcome="resident_fine"),
        record(2, 90, 600, by="marc", outcome="ambulance"),
        record(3, 200, None, by="marc"),
        record(4, None, 30, outcome="resident_cancelled"),  # closed before anyone needed to
        record(5, None, None),  # still waiting after an hour
        record(6, None, None, category="technical", rule="low_battery"),
    ]
    f = service_figures(records, now)
    assert f["care_alarms"] == 5
    assert f["technical_alarms"] == 1
    assert f["accepted_within_60s"] == pytest.approx(2 / 5)  # 1 and 4
    assert f["accepted_within_180s"] == pytest.approx(3 / 5)  # 1, 2 and 4
    assert f["median_accept_s"] == 90
    assert f["p95_accept_s"] == 200
    assert f["open"] == 3
    per = {o["operator"]: o for o in f["by_operator"]}
    assert per["marc"]["accepted"] == 2
    assert per["marc"]["resolved"] == 1
    assert f["care_open"] == 2  # 3 and 5; the technical one is not a care alarm
    assert (f["accepted_within_60s_n"], f["accepted_within_180s_n"]) == (2, 3)
    # The tables count both kinds, and say which.
    assert {"rule": "panic", "category": "care", "count": 5} in f["by_rule"]
    assert {"rule": "low_battery", "category": "technical", "count": 1} in f["by_rule"]
    assert {"outcome": "open", "count": 3, "care": 2, "technical": 1} in f["by_outcome"]
    empty = service_figures([], now)
    assert empty["accepted_within_60s"] is None
    assert empty["median_accept_s"] is None


def test_csv_has_one_row_per_alarm() -> None:
    text = to_csv([record(1, 20, 300, outcome="resident_fine"), record(2, None)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    assert rows[0]["seconds_to_accept"] == "20"
    assert rows[0]["accepted_by"] == "anna"
    assert rows[1]["accepted_at_utc"] == ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_figures_api_over_real_alarms(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    token_for: Callable[..., Awaitable[str]],
    demo: DemoIds,
    hub_clock: ManualClock,
) -> None:
    rid = demo.residents[0]
    raised = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    operator = {"Authorization": f"Bearer {await token_for(Role.OPERATOR, username='op-fig')}"}
    hub_clock.advance(timedelta(seconds=42))
    accepted = await hub_client.post(f"/api/alarms/{raised[0]}/accept", headers=operator)
    assert accepted.status == 200, await accepted.text()
    hub_clock.advance(timedelta(seconds=100))
    done = await hub_client.post(
        f"/api/alarms/{raised[0]}/resolve", json={"outcome": "false_alarm"}, headers=operator
    )
    assert done.status == 200, await done.text()
    await hub_client.post("/api/console/presence", headers=operator)

    supervisor = await auth_headers(Role.SUPERVISOR)
    day = hub_clock().date().isoformat()
    response = await hub_client.get(
        "/api/console/figures", params={"from": day, "to": day}, headers=supervisor
    )
    assert response.status == 200
    f = await response.json()
    assert f["care_alarms"] == 1
    assert f["accepted_within_60s"] == 1.0
    assert f["median_accept_s"] == 42
    assert f["median_resolve_s"] == 142
    assert f["by_operator"] == [
        {"operator": "op-fig", "accepted": 1, "resolved": 1, "median_accept_s": 42}
    ]
    assert f["by_outcome"] == [{"outcome": "false_alarm", "count": 1, "care": 1, "technical": 0}]

    exported = await hub_client.get(
        "/api/console/figures.csv", params={"from": day, "to": day}, headers=supervisor
    )
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [r["alarm_id"] for r in rows] == raised
    assert rows[0]["outcome"] == "false_alarm"

    shift = await (await hub_client.get("/api/console/on-shift", headers=supervisor)).json()
    assert [u["username"] for u in shift["on_shift"]] == ["op-fig"]
    hub_clock.advance(timedelta(minutes=5))
    shift = await (await hub_client.get("/api/console/on-shift", headers=supervisor)).json()
    assert shift["on_shift"] == []

    for params, code in (
        ({"from": "yesterday"}, "invalid_date"),
        ({"from": "2026-11-23", "to": "2026-11-01"}, "invalid_period"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "invalid_period"),
    ):
        bad = await hub_client.get("/api/console/figures", params=params, headers=supervisor)
        assert bad.status == 400
        assert (await bad.json())["error"] == code
    assert (await hub_client.get("/api/console/figures", headers=operator)).status == 403


def test_voice_contact_figures_use_voice_where_the_home_has_a_speech_unit() -> None:
    from dataclasses import replace

    now = T0 + timedelta(hours=1)
    records = [
        # accepted fast, but voice only after 100 s: a speech-unit home misses 60 s
        replace(record(1, 10, 300), voice_contact_at=T0 + timedelta(seconds=100), speech_unit=True),
        # no speech unit: acceptance is the answer (and its phone contact is still counted)
        replace(record(2, 20, 300), voice_contact_at=T0 + timedelta(seconds=40)),
        # a speech unit but never reached by voice, resolved later: not answered
        replace(record(3, 30, 400), speech_unit=True),
    ]
    f = service_figures(records, now)
    assert f["accepted_within_60s"] == 1.0
    assert f["answered_within_60s"] == pytest.approx(1 / 3)
    assert f["answered_within_180s"] == pytest.approx(2 / 3)
    assert f["speech_unit_alarms"] == 2
    assert f["voice_contacts"] == 2
    assert f["median_voice_s"] == 40
    assert f["p95_voice_s"] == 100
    rows = list(csv.DictReader(io.StringIO(to_csv(records))))
    assert rows[0]["seconds_to_voice"] == "100"
    assert rows[0]["speech_unit"] == "yes"
    assert rows[2]["voice_contact_at_utc"] == ""
    empty = service_figures([], now)
    assert empty["median_voice_s"] is None
    assert empty["answered_within_60s"] is None
