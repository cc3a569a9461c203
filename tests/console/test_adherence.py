"""Medication adherence per week for the centre: past doses of the plan (their grace over),
confirmed from the tablet or a dispenser, missed; at a fixed instant."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import CarePlan, EscalationPolicy
from alerts.careplan import MedicationSchedule, MedicationSettings
from hub.alarms import store
from hub.alarms.adherence import weekly
from hub.auth import Role
from hub.clock import ManualClock
from hub.console.residents import LOCAL_ZONE
from hub.db.models import StoredEvent
from tests.hub.ingest.helpers import seed_home

Headers = Callable[..., Awaitable[dict[str, str]]]
# Thursday 14 January 2027, 21:00 in Barcelona: the Thursday 20:00 dose's grace ended at 20:45.
NOW = datetime(2027, 1, 14, 20, 0, tzinfo=UTC)
SETTINGS = MedicationSettings(
    schedules=(
        MedicationSchedule("insulina 08:00", time(8)),
        MedicationSchedule("insulina 20:00", time(20)),
        MedicationSchedule("Sintrom 19:00", time(19), days=(0, 2, 4)),  # Mon, Wed, Fri
    ),
    ack_timeout=timedelta(minutes=45),
)
_ids = itertools.count()


def test_weekly_counts_only_doses_whose_grace_is_over() -> None:
    confirmed = {("insulina 08:00", date(2027, 1, 11)), ("Sintrom 19:00", date(2027, 1, 13))}
    [last, this] = weekly(SETTINGS, confirmed, NOW, 2)
    assert last.start == date(2027, 1, 4)
    assert (last.expected, last.confirmed, last.missed) == (14 + 3, 0, 17)
    # Mon-Thu: 8 insulin + Mon and Wed Sintrom (Friday's and later are not due yet).
    assert this.start == date(2027, 1, 11)
    assert (this.expected, this.confirmed, this.missed) == (10, 2, 8)
    # At 20:44 the Thursday evening dose is still within its grace: not counted yet.
    [early] = weekly(SETTINGS, confirmed, NOW - timedelta(minutes=16), 1)
    assert early.expected == 9


@pytest.mark.parametrize("clock_start", [NOW])
async def test_the_centre_reads_it_per_week(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
    clock_start: datetime,
) -> None:
    _, rid = await seed_home(hub_sessionmaker, {"tab-adh": "tablet"})
    async with hub_sessionmaker() as session:
        await store.save_plan(
            session, CarePlan(str(rid), medication=SETTINGS), EscalationPolicy(), NOW
        )
        for day, hour, dose in ((11, 8, "insulina 08:00"), (12, 20, "insulina 20:00")):
            at = datetime(2027, 1, day, hour, 5, tzinfo=LOCAL_ZONE)
            session.add(
                StoredEvent(
                    message_id=f"adh-{next(_ids)}", device_id="tab-adh", type="medication_taken",
                    ts=at, received_at=at, seq=1,
                    body={"type": "medication_taken", "schedule": dose},
                )
            )  # fmt: skip
        await session.commit()
    headers = await auth_headers(Role.OPERATOR)
    resp = await hub_client.get(f"/api/console/residents/{rid}/adherence?weeks=1", headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["doses"] == ["insulina 08:00", "insulina 20:00", "Sintrom 19:00"]
    assert body["weeks"] == [
        {"week_start": "2027-01-11", "expected": 10, "confirmed": 2, "missed": 8}
    ]
    for query, status in (("weeks=0", 400), ("weeks=27", 400), ("weeks=x", 400)):
        bad = await hub_client.get(
            f"/api/console/residents/{rid}/adherence?{query}", headers=headers
        )
        assert bad.status == status
    missing = await hub_client.get("/api/console/residents/999999/adherence", headers=headers)
    assert missing.status == 404
    installer = await auth_headers(Role.INSTALLER)
    forbidden = await hub_client.get(f"/api/console/residents/{rid}/adherence", headers=installer)
    assert forbidden.status == 403


def test_doses_before_the_medication_was_in_the_plan_are_not_missed() -> None:
    listed_at = datetime(2027, 1, 13, 12, 0, tzinfo=UTC)  # Wednesday 13:00 in Barcelona
    [this] = weekly(SETTINGS, set(), NOW, 1, not_before=listed_at)
    # Wednesday 19:00 Sintrom and 20:00 insulin, Thursday 08:00 and 20:00 insulin.
    assert (this.expected, this.missed) == (4, 4)
