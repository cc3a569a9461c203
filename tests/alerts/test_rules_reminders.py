"""Which reminders on the tablet a dose confirmed by the pill dispenser takes off it (ADR
0174): the one the tick sent, for that dose only, once; never the tablet's own answer."""

from __future__ import annotations

from datetime import time

from alerts import (
    CarePlan,
    DeviceType,
    InactivitySettings,
    MedicationSchedule,
    MedicationSettings,
    ResidentState,
    evaluate,
    initial_state,
    reminders_withdrawn,
    tick,
)
from protocol import MedicationTaken, Motion
from tests.alerts.helpers import HOME, RESIDENT, event, local, minutes

BOX = DeviceType.DISPENSER


def _plan(remind: bool = True) -> CarePlan:
    return CarePlan(
        RESIDENT,
        inactivity=InactivitySettings(enabled=False),
        medication=MedicationSettings(
            schedules=(
                MedicationSchedule("insulina", time(9, 0)),
                MedicationSchedule("sintrom", time(9, 0)),
                MedicationSchedule("vespre", time(21, 0)),
            ),
            ack_timeout=minutes(30),
            remind=remind,
        ),
    )


def _reminded() -> tuple[CarePlan, ResidentState, dict[str, str]]:
    """The plan, and the state once the 09:00 reminders went to the tablet (their ids)."""
    plan = _plan()
    state = initial_state(plan, HOME, local(12, 6))
    result = tick(plan, state, local(12, 9, 1))
    ids = {p.schedule: p.prompt_id for p in result.prompts}
    assert set(ids) == {"insulina", "sintrom"}
    return plan, result.state, ids


def test_the_box_naming_a_dose_withdraws_that_dose_s_reminder_only() -> None:
    plan, state, ids = _reminded()
    confirmed = event(MedicationTaken(schedule="insulina"), local(12, 9, 5), device_type=BOX)
    [withdrawal] = reminders_withdrawn(plan, state, confirmed)
    assert withdrawal.prompt_id == ids["insulina"]  # the id the tablet's prompt has
    assert (withdrawal.schedule, withdrawal.due) == ("insulina", local(12, 9))
    assert (withdrawal.home_id, withdrawal.resident_id) == (HOME, RESIDENT)


def test_a_compartment_or_a_box_naming_nothing_withdraws_every_dose_it_confirms() -> None:
    plan, state, ids = _reminded()
    for schedule in ("09:00", ""):
        taken = event(MedicationTaken(schedule=schedule), local(12, 9, 10), device_type=BOX)
        withdrawn = reminders_withdrawn(plan, state, taken)
        assert {w.prompt_id for w in withdrawn} == {ids["insulina"], ids["sintrom"]}


def test_a_second_confirmation_of_the_dose_withdraws_nothing_again() -> None:
    plan, state, _ = _reminded()
    first = event(MedicationTaken(schedule="insulina"), local(12, 9, 5), device_type=BOX)
    after = evaluate(plan, state, first).state
    again = event(MedicationTaken(schedule="insulina"), local(12, 9, 6), device_type=BOX)
    assert reminders_withdrawn(plan, after, again) == ()
    # The other dose is still on the screen: its own confirmation withdraws it.
    other = event(MedicationTaken(schedule="sintrom"), local(12, 9, 7), device_type=BOX)
    assert [w.schedule for w in reminders_withdrawn(plan, after, other)] == ["sintrom"]


def test_nothing_when_no_reminder_is_on_the_screen() -> None:
    plan, state, _ = _reminded()
    taken = MedicationTaken(schedule="insulina")
    # The tablet answered its own reminder.
    own = event(taken, local(12, 9, 5), device_type=DeviceType.TABLET)
    assert reminders_withdrawn(plan, state, own) == ()
    # The reminder expired (09:30), or was not sent yet (taken early: the tick sends none).
    assert reminders_withdrawn(plan, state, event(taken, local(12, 9, 31), device_type=BOX)) == ()
    early = initial_state(plan, HOME, local(12, 6))
    assert reminders_withdrawn(plan, early, event(taken, local(12, 8, 45), device_type=BOX)) == ()
    # A plan without reminders; a dose the plan does not know; not a confirmation.
    quiet = _plan(remind=False)
    assert reminders_withdrawn(quiet, state, event(taken, local(12, 9, 5), device_type=BOX)) == ()
    unknown = MedicationTaken(schedule="aspirina")
    assert reminders_withdrawn(plan, state, event(unknown, local(12, 9, 5), device_type=BOX)) == ()
    assert reminders_withdrawn(plan, state, event(Motion(), local(12, 9, 5), device_type=BOX)) == ()
