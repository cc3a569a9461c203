"""Timer-driven rules: inactivity (period, windows, prompt), check-in, bed, temperature,
medication, device offline; deadlines and catch-up after downtime."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from alerts import (
    CarePlan,
    CheckInSettings,
    DeviceType,
    Evaluation,
    InactivitySettings,
    MedicationSchedule,
    MedicationSettings,
    ResidentState,
    RuleKind,
    TimeWindow,
    evaluate,
    initial_state,
    next_deadline,
    tick,
)
from protocol import (
    BedExit,
    BedReturn,
    CheckIn,
    MedicationMissed,
    MedicationTaken,
    Motion,
    PromptAnswer,
    Status,
    Telemetry,
    Temperature,
)
from tests.alerts.helpers import HOME, RESIDENT, event, local, minutes, run

NO_PROMPT = InactivitySettings(prompt_first=False, windows=())


def test_inactivity_period_alarm_after_the_configured_time() -> None:
    plan = CarePlan(
        RESIDENT,
        inactivity=InactivitySettings(period=timedelta(hours=2), windows=(), prompt_first=False),
    )
    state = initial_state(plan, HOME, local(12, 8))
    state = evaluate(plan, state, event(Motion(), local(12, 9, 10))).state
    assert next_deadline(plan, state) == local(12, 11, 10)
    early = tick(plan, state, local(12, 11, 9))
    assert early.detections == ()
    due = tick(plan, early.state, local(12, 11, 10))
    (found,) = due.detections
    assert found.rule is RuleKind.INACTIVITY
    assert found.explanation.text("en") == "No movement since 09:10 (2 h)"
    # Once alarmed it does not repeat until the resident moves again.
    assert tick(plan, due.state, local(12, 18)).detections == ()
    moved = evaluate(plan, due.state, event(Motion(), local(12, 18, 30))).state
    assert [d.rule for d in tick(plan, moved, local(12, 20, 30)).detections] == [
        RuleKind.INACTIVITY
    ]


def test_inactivity_prompt_first_then_alarm_if_unanswered() -> None:
    plan = CarePlan(RESIDENT, inactivity=InactivitySettings(period=timedelta(hours=1), windows=()))
    state = initial_state(plan, HOME, local(12, 8))
    first = tick(plan, state, local(12, 9))
    assert first.detections == ()
    (prompt,) = first.prompts
    assert prompt.kind == "inactivity"
    assert prompt.expires == local(12, 9, 5)
    assert "08:00" in prompt.explanation.text("ca")
    assert next_deadline(plan, first.state) == local(12, 9, 5)
    second = tick(plan, first.state, local(12, 9, 5))
    (found,) = second.detections
    assert found.rule is RuleKind.INACTIVITY
    assert found.explanation.text("en").endswith("no answer to the tablet prompt")


def test_inactivity_prompt_answered_fine_raises_nothing() -> None:
    plan = CarePlan(RESIDENT, inactivity=InactivitySettings(period=timedelta(hours=1), windows=()))
    state = initial_state(plan, HOME, local(12, 8))
    first = tick(plan, state, local(12, 9))
    answer = PromptAnswer(prompt_id=first.prompts[0].prompt_id, answer="fine")
    after = evaluate(plan, first.state, event(answer, local(12, 9, 2)))
    assert after.detections == ()
    assert after.state.prompt is None
    assert tick(plan, after.state, local(12, 9, 30)).detections == ()


def test_inactivity_window_morning_with_usual_time() -> None:
    plan = CarePlan(RESIDENT, inactivity=InactivitySettings(prompt_first=False))
    state = initial_state(plan, HOME, local(1, 0))
    # Teach the baseline: up at about 08:15 every day for 10 days.
    for day in range(1, 11):
        morning = [event(Motion(), local(day, 8, m)) for m in (15, 20, 25)]
        state = run(plan, state, *morning, event(Motion(), local(day, 21, 0)))[-1].state
    state = evaluate(plan, state, event(Motion(), local(11, 7, 40))).state
    # 07:40 is inside the 07:00–10:00 window: no alarm.
    assert tick(plan, state, local(11, 10, 1)).detections == ()
    quiet = evaluate(plan, state, event(Motion(), local(11, 22, 30))).state
    result = tick(plan, quiet, local(12, 10, 0))
    (found,) = result.detections
    assert found.rule is RuleKind.INACTIVITY
    assert found.explanation.text("en") == (
        "No movement between 07:00 and 10:00; last movement 11/01 22:30; usually up by 08:15"
    )


def test_missed_check_in_and_a_check_in_in_time() -> None:
    plan = CarePlan(
        RESIDENT,
        inactivity=InactivitySettings(enabled=False),
        check_in=CheckInSettings(enabled=True, deadlines=(time(11, 0),)),
    )
    state = initial_state(plan, HOME, local(11, 22))
    ok = evaluate(plan, state, event(CheckIn(), local(12, 9, 30))).state
    assert tick(plan, ok, local(12, 11, 30)).detections == ()
    missed = tick(plan, state, local(12, 11, 0))
    (found,) = missed.detections
    assert found.rule is RuleKind.MISSED_CHECK_IN
    assert "11:00" in found.explanation.text("es")
    # A check-in too early (before the window opens) does not count for the deadline.
    early = evaluate(plan, state, event(CheckIn(), local(11, 23, 30))).state
    assert [d.rule for d in tick(plan, early, local(12, 11)).detections] == [
        RuleKind.MISSED_CHECK_IN
    ]


def test_out_of_bed_at_night_and_not_back() -> None:
    plan = CarePlan(RESIDENT, inactivity=NO_PROMPT)
    state = initial_state(plan, HOME, local(12, 22))
    state = evaluate(plan, state, event(BedExit(), local(13, 3, 0))).state
    assert next_deadline(plan, state) == local(13, 3, 30)
    result = tick(plan, state, local(13, 3, 30))
    assert [d.rule for d in result.detections] == [RuleKind.BED_NOT_RETURNED]
    back = evaluate(plan, state, event(BedReturn(), local(13, 3, 20))).state
    assert tick(plan, back, local(13, 5)).detections == ()


def test_getting_up_near_the_end_of_the_night_is_not_wandering() -> None:
    plan = CarePlan(RESIDENT, inactivity=NO_PROMPT)
    state = initial_state(plan, HOME, local(12, 22))
    state = evaluate(plan, state, event(BedExit(), local(13, 6, 50))).state
    result = tick(plan, state, local(13, 8))
    assert result.detections == ()
    assert result.state.bed_out_since is None


def test_temperature_out_of_range_for_longer_than_the_duration() -> None:
    plan = CarePlan(RESIDENT, inactivity=NO_PROMPT)
    state = initial_state(plan, HOME, local(12, 6))
    cold = run(
        plan,
        state,
        event(Temperature(celsius=14.5, room="living"), local(12, 9)),
        event(Telemetry(kind="temperature", value=14.0, unit="C", room="living"), local(12, 9, 20)),
    )[-1].state
    assert next_deadline(plan, cold) == local(12, 9, 30)
    (found,) = tick(plan, cold, local(12, 9, 30)).detections
    assert found.rule is RuleKind.TEMPERATURE
    assert found.explanation.text("en") == (
        "Temperature (living room) 14.0 °C since 09:00 (minimum 16 °C)"
    )
    warm = evaluate(plan, cold, event(Temperature(celsius=20.0, room="living"), local(12, 9, 25)))
    assert tick(plan, warm.state, local(12, 12)).detections == ()


def test_medication_not_acknowledged() -> None:
    plan = CarePlan(
        RESIDENT,
        inactivity=NO_PROMPT,
        medication=MedicationSettings(schedules=(MedicationSchedule("morning", time(9, 0)),)),
    )
    state = initial_state(plan, HOME, local(12, 6))
    taken = evaluate(plan, state, event(MedicationTaken(schedule="morning"), local(12, 9, 10)))
    assert tick(plan, taken.state, local(12, 12)).detections == ()
    (found,) = tick(plan, state, local(12, 10)).detections
    assert found.rule is RuleKind.MEDICATION
    assert "morning" in found.explanation.text("ca")


def _two_doses_at_nine_and_one_at_night() -> CarePlan:
    return CarePlan(
        RESIDENT,
        inactivity=NO_PROMPT,
        medication=MedicationSettings(
            schedules=(
                MedicationSchedule("insulin 09:00", time(9, 0)),
                MedicationSchedule("sintrom 09:00", time(9, 0), days=(0,)),  # Mondays
                MedicationSchedule("insulin 21:00", time(21, 0)),
            )
        ),
    )


def _missed(plan: CarePlan, taken: MedicationTaken, at: datetime, until: datetime) -> set[str]:
    """The doses reported missed by ``until`` after a dispenser's ``taken`` at ``at``."""
    state = initial_state(plan, HOME, local(12, 6))
    dispenser = event(taken, at, device="h1-dispenser", device_type=DeviceType.DISPENSER)
    applied = evaluate(plan, state, dispenser)
    found = (*applied.detections, *tick(plan, applied.state, until).detections)
    return {str(f.explanation.param("schedule")) for f in found if f.rule is RuleKind.MEDICATION}


def test_a_dispenser_that_names_no_dose_confirms_the_doses_due_nearest() -> None:
    plan = _two_doses_at_nine_and_one_at_night()
    # 12 January 2026 is a Monday: both 09:00 doses are due; the box was opened at 08:40.
    assert _missed(plan, MedicationTaken(schedule=""), local(12, 8, 40), local(12, 12)) == set()
    # Opened at 10:30, outside every dose's window (09:00 + 60 min): it confirms nothing.
    late = _missed(plan, MedicationTaken(schedule=""), local(12, 10, 30), local(12, 12))
    assert late == {"insulin 09:00", "sintrom 09:00"}
    # In the evening window it confirms the evening dose, not the morning ones.
    evening = _missed(plan, MedicationTaken(schedule=""), local(12, 20, 30), local(12, 23))
    assert evening == {"insulin 09:00", "sintrom 09:00"}


def test_a_dispenser_that_names_the_time_confirms_every_dose_of_that_time() -> None:
    plan = _two_doses_at_nine_and_one_at_night()
    compartment = MedicationTaken(schedule="09:00")
    assert _missed(plan, compartment, local(12, 8, 50), local(12, 12)) == set()
    # The evening compartment does not confirm the morning doses.
    evening = _missed(plan, MedicationTaken(schedule="21:00"), local(12, 8, 50), local(12, 12))
    assert evening == {"insulin 09:00", "sintrom 09:00"}
    # A named dose still confirms only itself.
    named = _missed(
        plan, MedicationTaken(schedule="insulin 09:00"), local(12, 8, 50), local(12, 12)
    )
    assert named == {"sintrom 09:00"}


def test_a_dispenser_s_missed_report_goes_where_the_plan_says_unless_confirmed() -> None:
    plan = _two_doses_at_nine_and_one_at_night()
    state = initial_state(plan, HOME, local(12, 6))
    box = "h1-dispenser"

    def missed(plan: CarePlan, state: ResidentState, schedule: str, at: datetime) -> Evaluation:
        item = event(MedicationMissed(schedule=schedule), at, box, DeviceType.DISPENSER)
        return evaluate(plan, state, item)

    # The centre (the default): an alarm now, naming the compartment's doses.
    (found,) = missed(plan, state, "09:00", local(12, 9, 40)).detections
    assert found.rule is RuleKind.MEDICATION
    assert found.explanation.param("schedule") == "insulin 09:00, sintrom 09:00"
    # Already confirmed on the tablet: the box's report is not a missed dose.
    tablet = event(MedicationTaken(schedule="insulin 09:00"), local(12, 9, 5))
    confirmed = evaluate(plan, state, tablet).state
    (only,) = missed(plan, confirmed, "09:00", local(12, 9, 40)).detections
    assert only.explanation.param("schedule") == "sintrom 09:00"
    assert missed(plan, confirmed, "insulin 09:00", local(12, 9, 40)).detections == ()
    # The family: a notice per dose (the same dose the grace timer would tell), no alarm.
    family = replace(plan, medication=replace(plan.medication, missed_to="family"))
    told = missed(family, state, "", local(12, 9, 40))
    assert told.detections == ()
    assert [(d.schedule, d.due) for d in told.missed_doses] == [
        ("insulin 09:00", local(12, 9)),
        ("sintrom 09:00", local(12, 9)),
    ]
    # A dose the plan does not know: the centre looks, whatever the plan says.
    (stray,) = missed(family, state, "vitamin D", local(12, 9, 40)).detections
    assert stray.explanation.param("schedule") == "vitamin D"


def test_which_doses_a_confirmation_means() -> None:
    settings = _two_doses_at_nine_and_one_at_night().medication
    monday, tuesday = local(12, 0).date(), local(13, 0).date()
    assert settings.confirmed_by("", local(13, 9, 30)) == (("insulin 09:00", tuesday),)
    assert settings.confirmed_by("09:00", local(12, 7, 0)) == (
        ("insulin 09:00", monday),
        ("sintrom 09:00", monday),
    )
    assert settings.confirmed_by("07:00", local(12, 7, 0)) == ()
    assert settings.confirmed_by("", local(12, 15, 0)) == ()
    # Near midnight: 00:30 is within the evening dose's grace only if it were 22:00 or later.
    assert settings.confirmed_by("", local(13, 0, 30)) == ()
    assert settings.confirmed_by("", local(12, 21, 55)) == (("insulin 21:00", monday),)
    assert settings.confirmed_by("old name", local(12, 9)) == (("old name", monday),)


def test_device_offline_after_grace_and_back_online_in_time() -> None:
    plan = CarePlan(RESIDENT, inactivity=NO_PROMPT)
    state = initial_state(plan, HOME, local(12, 6))
    off = evaluate(
        plan, state, event(Status(state="offline", reason="will"), local(12, 9), device="pir-1")
    ).state
    assert next_deadline(plan, off) == local(12, 9, 15)
    (found,) = tick(plan, off, local(12, 9, 20)).detections
    assert found.rule is RuleKind.DEVICE_OFFLINE
    assert found.device_id == "pir-1"
    back = evaluate(plan, off, event(Status(state="online"), local(12, 9, 5), device="pir-1"))
    assert tick(plan, back.state, local(12, 10)).detections == ()


def test_a_timer_due_while_down_fires_at_the_next_tick() -> None:
    plan = CarePlan(
        RESIDENT,
        inactivity=NO_PROMPT,
        check_in=CheckInSettings(enabled=True, deadlines=(time(11, 0),)),
    )
    state = initial_state(plan, HOME, local(12, 6))
    # The hub was down from 10:00 to 15:00: the 11:00 deadline fires at start-up.
    state = tick(plan, state, local(12, 10)).state
    result = tick(plan, state, local(12, 15))
    assert [d.rule for d in result.detections] == [RuleKind.MISSED_CHECK_IN]
    assert result.detections[0].at == local(12, 11)


def test_catch_up_is_bounded_after_a_long_outage() -> None:
    plan = CarePlan(
        RESIDENT,
        inactivity=NO_PROMPT,
        check_in=CheckInSettings(enabled=True, deadlines=(time(11, 0),)),
    )
    plan = CarePlan(
        RESIDENT,
        inactivity=InactivitySettings(enabled=False),
        check_in=CheckInSettings(enabled=True, deadlines=(time(11, 0),)),
    )
    state = initial_state(plan, HOME, local(1, 6))
    result = tick(plan, state, local(20, 12))
    # Only the last 24 h are replayed: one missed check-in, not nineteen.
    assert [d.at for d in result.detections] == [local(20, 11)]


def test_tick_in_the_past_changes_nothing_and_windows_must_not_cross_midnight() -> None:
    plan = CarePlan(RESIDENT)
    state = initial_state(plan, HOME, local(12, 6))
    assert tick(plan, state, local(12, 5)).state == state
    import pytest

    from alerts import CarePlanError

    with pytest.raises(CarePlanError, match="crosses midnight"):
        InactivitySettings(windows=(TimeWindow(time(22), time(2)),))
    with pytest.raises(CarePlanError, match="at least"):
        InactivitySettings(period=minutes(29))


def test_device_declared_offline_by_supervision_alarms_without_extra_grace() -> None:
    plan = CarePlan(RESIDENT, inactivity=NO_PROMPT)
    state = initial_state(plan, HOME, local(12, 6))
    status = Status(state="offline", reason="supervision")
    off = evaluate(plan, state, event(status, local(12, 9), device="pir-2")).state
    assert next_deadline(plan, off) == local(12, 9)
    (found,) = tick(plan, off, local(12, 9, 0)).detections
    assert found.rule is RuleKind.DEVICE_OFFLINE


def test_back_to_bed_after_an_early_visit_and_never_up_is_inactivity() -> None:
    plan = CarePlan(RESIDENT, inactivity=InactivitySettings(prompt_first=False))
    state = initial_state(plan, HOME, local(12, 22))
    state = run(
        plan,
        state,
        event(BedExit(), local(13, 7, 5)),
        event(Motion(), local(13, 7, 6)),
        event(BedReturn(), local(13, 7, 15)),
        event(Motion(), local(13, 7, 16)),
    )[-1].state
    (found,) = tick(plan, state, local(13, 10)).detections
    assert found.rule is RuleKind.INACTIVITY
    assert found.explanation.text("en") == "In bed since 07:15; not up by 10:00"
    # Up again later in the morning: no alarm.
    up = run(plan, state, event(BedExit(), local(13, 8, 30)))[-1].state
    assert tick(plan, up, local(13, 10)).detections == ()
