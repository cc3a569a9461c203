"""Medication adherence per week (issue 22, item 3): shared by the centre's card
(hub.console.adherence), the family app and the visor.

For each of the last weeks (Monday to Sunday, local time, the current one last) the doses the
care plan expected (only past ones: their grace is over), how many were confirmed
(``medication_taken`` from the tablet or a dispenser, on the dose's day; a dispenser's
confirmation naming only a time, or no dose, counts for the doses it resolves to) and how
many were missed. Pure counting in :func:`weekly`; :func:`resident_adherence` reads what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.careplan import MedicationSettings
from hub.alarms import store
from hub.alarms.plans import CareService
from hub.db.models import Device, Resident, StoredEvent
from hub.web.dates import ZONE as LOCAL_ZONE

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

    def view(self) -> dict[str, object]:
        """The week as the APIs give it."""
        return {
            "week_start": self.start.isoformat(),
            "expected": self.expected,
            "confirmed": self.confirmed,
            "missed": self.missed,
        }


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


async def resident_adherence(
    session: AsyncSession, resident: Resident, now: datetime, weeks: int, service: CareService
) -> tuple[list[str], list[Week]]:
    """The resident's doses (their keys) and adherence over the last ``weeks`` weeks
    (``service``: the app's :func:`hub.alarms.plans.care_service`)."""
    plan, _ = await store.load_plan(session, str(resident.id), service)
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
    # The tablet names the dose; a dispenser may give only its time or nothing: the same
    # resolution as the alarm engine's (MedicationSettings.confirmed_by).
    confirmed = {
        dose
        for ts, body in rows
        for dose in plan.medication.confirmed_by(
            str(body.get("schedule", "")), ts.astimezone(LOCAL_ZONE)
        )
    }
    # Doses count from the first care-plan version that listed medication.
    not_before = await service.medication_listed_since(session, resident.id)
    doses = [s.name for s in plan.medication.schedules]
    return doses, weekly(plan.medication, confirmed, now, weeks, not_before)
