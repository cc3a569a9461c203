"""Which medication reminders on the tablet a confirmation from elsewhere ends (ADR 0174).

A dose confirmed only by the home's pill dispenser is counted at the hub, but the reminder
the tablet showed at the due time would stay until it expires: a resident who took the pill
from the box and still hears "time for your insulin" may take it twice. The hub takes that
reminder off the tablet (``protocol.PromptWithdrawn``); this module says which, purely.
"""

from __future__ import annotations

from alerts.careplan import CarePlan
from alerts.model import DeviceType, HomeEvent, PromptWithdrawal
from alerts.rules.common import at_local, local, prompt_id
from alerts.state import ResidentState
from protocol import MedicationTaken


def reminders_withdrawn(
    plan: CarePlan, before: ResidentState, event: HomeEvent
) -> tuple[PromptWithdrawal, ...]:
    """The reminders to take off the tablet because ``event`` confirms their dose, given
    the resident's state ``before`` it.

    Only a ``medication_taken`` that does not come from the tablet (which answered its own
    reminder), for a dose of the plan whose reminder was sent (``remind``, the dose runs that
    day, the due time passed) and has not expired, and that was not confirmed already: a
    second report of the same dose (the box opened twice, a copy of the message) finds it
    taken and withdraws nothing again.
    """
    body = event.body
    medication = plan.medication
    if (
        not isinstance(body, MedicationTaken)
        or event.device_type is DeviceType.TABLET
        or not medication.remind
    ):
        return ()
    at = max(event.at, before.cursor)
    schedules = {s.name: s for s in medication.schedules}
    withdrawn: list[PromptWithdrawal] = []
    for name, day in medication.confirmed_by(body.schedule, local(plan, at)):
        schedule = schedules.get(name)
        if schedule is None or not schedule.on(day):
            continue
        due = at_local(plan, day, schedule.due)
        if not due <= at < due + medication.ack_timeout:
            continue  # no reminder on the screen: not sent yet, or expired
        taken = before.taken_at(name)
        if taken is not None and taken >= due - medication.early:
            continue  # confirmed before: its reminder was withdrawn then, or never sent
        withdrawn.append(
            PromptWithdrawal(
                home_id=before.home_id,
                resident_id=before.resident_id,
                prompt_id=prompt_id(before.resident_id, f"medication|{name}", due),
                schedule=name,
                due=due,
            )
        )
    return tuple(withdrawn)
