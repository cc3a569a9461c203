"""Medication adherence per week, for the centre (issue 22, item 3).

``GET /api/console/residents/{id}/adherence?weeks=4``: for each of the last weeks (Monday to
Sunday, local time, the current one last) the doses the care plan expected (only past ones:
their grace is over), how many were confirmed (``medication_taken`` from the tablet or a
dispenser, on the dose's day) and how many were missed. Pure counting in :func:`weekly`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.careplan import MedicationSettings
from hub.alarms import store
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth import Role, requires
from hub.console.residents import LOCAL_ZONE
from hub.db.models import Device, Resident, StoredEvent
from hub.http import ApiError
from hub.service.models import CarePlanRow, ServiceRow

READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)
MAX_WEEKS = 26


@dataclass(frozen=True, slots=True)
class Week:
    """One week's doses: expected (grace over), confirmed, missed."""

    start: date
    expected: int
    confirmed: int

    @property
    def missed(self) -> int:
        """Expected doses not confirmed."""
        return self.expected - self.confirmed


def weekly(
    settings: MedicationSettings,
    confirmed: set[tuple[str, date]],
    now: datetime,
    weeks: int,
    not_before: datetime | None = None,
) -> list[Week]:
    """Count each past dose of the schedules over the last ``weeks`` weeks (pure); doses
    due before ``not_before`` (the medication was not in the plan yet) are not counted."""
    today = now.astimezone(LOCAL_ZONE).date()
    monday = today - timedelta(days=today.weekday())
    out = []
    for back in range(weeks - 1, -1, -1):
        start = monday - timedelta(weeks=back)
        expected = done = 0
        for offset in range(7):
            day = start + timedelta(days=offset)
            for schedule in settings.schedules:
                due = datetime.combine(day, schedule.due, LOCAL_ZONE)
                if not schedule.on(day) or due + settings.ack_timeout > now:
                    continue
                if not_before is not None and due < not_before:
                    continue
                expected += 1
                done += (schedule.name, day) in confirmed
        out.append(Week(start, expected, done))
    return out


@requires(*READERS)
async def adherence(request: web.Request) -> web.Response:
    """The resident's medication adherence per week."""
    try:
        resident_id = int(request.match_info["resident_id"])
        weeks = int(request.query.get("weeks", "4"))
    except ValueError:
        raise ApiError(400, "invalid_request", "resident and weeks are numbers") from None
    if not 1 <= weeks <= MAX_WEEKS:
        raise ApiError(400, "invalid_request", f"weeks is 1 to {MAX_WEEKS}")
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        resident = await session.get(Resident, resident_id)
        if resident is None:
            raise ApiError(404, "not_found", "no such resident")
        plan, _ = await store.load_plan(session, str(resident_id))
        since = datetime.combine(
            now.astimezone(LOCAL_ZONE).date() - timedelta(weeks=weeks + 1), time(0), LOCAL_ZONE
        )
        devices = select(Device.id).where(Device.home_id == resident.home_id)
        rows = await session.execute(
            select(StoredEvent.ts, StoredEvent.body).where(
                StoredEvent.device_id.in_(devices),
                StoredEvent.type == "medication_taken",
                StoredEvent.ts >= since,
            )
        )
        confirmed = {
            (str(body.get("schedule", "")), ts.astimezone(LOCAL_ZONE).date()) for ts, body in rows
        }
        # Doses count from the first care-plan version that listed medication.
        not_before = await _first_listed(session, resident_id)
    result: list[dict[str, Any]] = [
        {
            "week_start": w.start.isoformat(),
            "expected": w.expected,
            "confirmed": w.confirmed,
            "missed": w.missed,
        }
        for w in weekly(plan.medication, confirmed, now, weeks, not_before)
    ]
    return web.json_response(
        {"doses": [s.name for s in plan.medication.schedules], "weeks": result}
    )


async def _first_listed(session: AsyncSession, resident_id: int) -> datetime | None:
    """When the resident's care plan first listed medication (None: never through a care
    plan, e.g. an engine plan of its own)."""
    versions = await session.execute(
        select(CarePlanRow.created_at, CarePlanRow.rules)
        .join(ServiceRow, ServiceRow.id == CarePlanRow.service_id)
        .where(ServiceRow.resident_id == resident_id)
        .order_by(CarePlanRow.created_at)
    )
    return next((at for at, rules in versions if (rules or {}).get("medications")), None)


def setup(app: web.Application) -> None:
    """Add the adherence route."""
    app.router.add_get("/api/console/residents/{resident_id}/adherence", adherence)
