"""Medication end to end on the hub's side (issue 22, item 3): schedules in the care plan,
the tablet's reminder at each dose's time (once, whichever worker fires it), a dose confirmed
(MedicationTaken) or missed (an alarm after the grace). Fixed instants throughout."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from alerts import Action, CarePlan, HomeEvent, RuleKind, evaluate, initial_state, tick
from alerts.model import DeviceType, PromptRequest
from hub.alarms import store as alarm_store
from hub.alarms.engine import AlarmEngine, NoEffects
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.live import AlarmLive
from hub.auth import Role
from hub.clock import ManualClock
from hub.service.alarm_terms import AlarmTerms, PlanTerms, with_rules
from hub.service.errors import InvalidCarePlan
from hub.service.rules import effective_rules, parse_rule_changes
from protocol import MedicationTaken
from tests.alerts.helpers import HOME, RESIDENT, event, local
from tests.instants import NIGHT
from tests.service.helpers import Client, install, post, submit

NOON = time(12, 0)
INSULIN = {"name": "insulina", "times": ["08:00", "20:00"]}


def _plan(**rules: Any) -> CarePlan:
    overrides = parse_rule_changes(rules, {}, NOON)
    service = PlanTerms(NOON, True, True, rules=effective_rules(NOON, overrides))
    return with_rules(CarePlan(RESIDENT), service)


def _quiet(**rules: Any) -> CarePlan:
    return _plan(inactivity=False, check_in=False, baseline=False, **rules)


def test_a_reminder_at_each_dose_and_an_alarm_when_missed() -> None:
    plan = _quiet(medications=[INSULIN], medication_grace_min=45)
    state = initial_state(plan, HOME, local(12, 6))  # Monday 12 January 2026
    early = tick(plan, state, local(12, 7, 59))
    assert early.prompts == ()
    due = tick(plan, state, local(12, 8, 0))
    (reminder,) = due.prompts
    assert (reminder.kind, reminder.schedule) == ("medication", "insulina 08:00")
    assert reminder.expires == local(12, 8, 45)
    assert reminder.explanation.text("ca") == "És l'hora de la medicació: insulina 08:00"
    assert tick(plan, due.state, local(12, 8, 44)).detections == ()
    (missed,) = tick(plan, due.state, local(12, 8, 45)).detections
    assert missed.rule is RuleKind.MEDICATION
    taken = evaluate(
        plan, due.state, event(MedicationTaken(schedule="insulina 08:00"), local(12, 8, 10))
    ).state
    assert tick(plan, taken, local(12, 9, 0)).detections == ()
    # The evening dose is its own: the morning's confirmation does not cover it.
    evening = tick(plan, taken, local(12, 20, 0))
    assert [p.schedule for p in evening.prompts] == ["insulina 20:00"]
    assert [d.rule for d in tick(plan, evening.state, local(12, 20, 45)).detections] == [
        RuleKind.MEDICATION
    ]


def test_a_dose_confirmed_early_is_not_reminded() -> None:
    plan = _quiet(medications=[{"name": "Sintrom", "times": ["09:00"]}])
    state = initial_state(plan, HOME, local(12, 6))
    taken = evaluate(
        plan, state, event(MedicationTaken(schedule="Sintrom 09:00"), local(12, 8, 30))
    )
    after = tick(plan, taken.state, local(12, 10, 30))
    assert after.prompts == ()
    assert after.detections == ()


def test_weekdays_and_the_course_s_first_and_last_day() -> None:
    course = {
        "name": "antibiòtic",
        "times": ["09:00"],
        "days": ["mon", "wed", "fri"],
        "start": "2026-01-14",  # a Wednesday
        "end": "2026-01-16",  # a Friday
    }
    plan = _quiet(medications=[course], medication_grace_min=30)
    state = initial_state(plan, HOME, local(11, 23))
    reminded: list[datetime] = []
    for day in range(12, 20):
        result = tick(plan, state, local(day, 23, 59))
        reminded += [p.sent_at for p in result.prompts]
        state = result.state
    # Monday 12 is before the start, Thursday 15 is not a day of it, Monday 19 is after.
    assert reminded == [local(14, 9), local(16, 9)]


@pytest.mark.parametrize(
    ("medications", "message"),
    [
        ([{"name": "", "times": ["08:00"]}], "name is 1 to 30 characters"),
        ([{"name": "x" * 31, "times": ["08:00"]}], "name is 1 to 30 characters"),
        ([{"name": "insulina", "times": []}], "from 1 to 6 times a day"),
        ([{"name": "insulina", "times": ["8h"]}], "must be a time of day HH:MM"),
        ([{"name": "insulina", "times": ["24:30"]}], "outside the day"),
        ([{"name": "insulina", "times": ["08:00"], "days": ["lunes"]}], "days are mon, tue"),
        ([{"name": "insulina", "times": ["08:00"], "start": "14/01/2027"}], "YYYY-MM-DD"),
        (
            [{"name": "insulina", "times": ["08:00"], "start": "2027-02-01", "end": "2027-01-01"}],
            "the last day is before the first",
        ),
        ([INSULIN, INSULIN], "listed twice at one time"),
        ([{"name": f"m{n}", "times": ["08:00"]} for n in range(11)], "at most 10 medicines"),
        ([{"name": "insulina", "times": ["08:00"], "dose": "2 UI"}], "each medicine is"),
        ("insulina", "must be a list of medicines"),
    ],
)
def test_bad_medication_schedules_are_refused(medications: Any, message: str) -> None:
    with pytest.raises(InvalidCarePlan) as refused:
        parse_rule_changes({"medications": medications}, {}, NOON)
    assert message in str(refused.value)


def test_grace_is_checked() -> None:
    with pytest.raises(InvalidCarePlan, match="missed after 10 to 240 minutes, not 5"):
        parse_rule_changes({"medication_grace_min": 5}, {}, NOON)


def test_a_schedule_is_stored_the_way_it_is_read() -> None:
    course = {"name": " Sintrom ", "times": "21:00, 09:00", "days": ["fri", "mon"]}
    stored = parse_rule_changes({"medications": [course]}, {}, NOON)
    assert stored["medications"] == [
        {"name": "Sintrom", "times": ["09:00", "21:00"], "days": ["mon", "fri"], "start": None,
         "end": None}
    ]  # fmt: skip
    plan = with_rules(
        CarePlan(RESIDENT), PlanTerms(NOON, True, True, rules=effective_rules(NOON, stored))
    )
    assert [(s.name, s.due, s.days) for s in plan.medication.schedules] == [
        ("Sintrom 09:00", time(9), (0, 4)),
        ("Sintrom 21:00", time(21), (0, 4)),
    ]
    assert plan.medication.remind
    assert date(2027, 1, 15).weekday() == 4  # the schedule's "fri"


class _Prompts(NoEffects):
    """Effects that keep the tablet prompts the engine sends."""

    def __init__(self) -> None:
        self.sent: list[PromptRequest] = []

    async def prompt(self, request: PromptRequest) -> None:
        self.sent.append(request)


@pytest.mark.parametrize("clock_start", [NIGHT])  # 03:00 in Barcelona, Thursday 14 January 2027
async def test_in_the_running_hub_the_reminder_goes_once_and_a_missed_dose_is_an_alarm(
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
        {
            "rules": {
                "medications": [INSULIN],
                "medication_grace_min": 30,
                "inactivity": False,
                "check_in": False,
                "baseline": False,
            }
        },
    )
    engine = hub_client.server.app[ALARM_ENGINE]
    first = engine.effects = _Prompts()
    # A second hub worker on the same database: the dose's timer is claimed by one of them.
    second_effects = _Prompts()
    second = AlarmEngine(
        hub_sessionmaker, hub_clock, AlarmLive(), second_effects, care_service=AlarmTerms()
    )

    async def open_rules() -> list[tuple[RuleKind, ...]]:
        async with hub_sessionmaker() as session:
            alarms = await alarm_store.list_alarms(session, status="open", category=None, limit=9)
        return [a.rules for a in alarms if a.resident_id == resident_id]

    hub_clock.advance(datetime(2027, 1, 14, 6, 59, tzinfo=UTC) - hub_clock())  # 07:59 local
    await engine.run_due()
    await second.run_due()
    assert first.sent == second_effects.sent == []
    hub_clock.advance(timedelta(minutes=1))  # 08:00 local: the morning dose
    await engine.run_due()
    await second.run_due()
    reminders = first.sent + second_effects.sent
    assert [(p.kind, p.schedule) for p in reminders] == [("medication", "insulina 08:00")]
    assert reminders[0].resident_id == resident_id
    hub_clock.advance(timedelta(minutes=29))
    await engine.run_due()
    assert await open_rules() == []
    hub_clock.advance(timedelta(minutes=1))  # 08:30: not confirmed within the grace
    await engine.run_due()
    await second.run_due()
    assert await open_rules() == [(RuleKind.MEDICATION,)]
    # The evening dose confirmed from the tablet: no second alarm joins it.
    home_id = engine._cache[resident_id].state.home_id
    hub_clock.advance(datetime(2027, 1, 14, 19, 0, tzinfo=UTC) - hub_clock())  # 20:00 local
    await engine.run_due()
    await engine.handle_event(
        HomeEvent(
            home_id=home_id,
            resident_id=resident_id,
            device_id=f"{reference.lower()}-2",
            device_type=DeviceType.TABLET,
            message_id="med-taken-1",
            at=hub_clock(),
            body=MedicationTaken(schedule="insulina 20:00"),
        )
    )
    hub_clock.advance(timedelta(hours=1))
    await engine.run_due()
    async with hub_sessionmaker() as session:
        alarms = await alarm_store.list_alarms(session, status="open", category=None, limit=9)
    (alarm,) = [a for a in alarms if a.resident_id == resident_id]
    assert alarm.entries(Action.EVENT_ATTACHED) == ()  # the morning's dose only
    assert [p.schedule for p in first.sent][-1:] == ["insulina 20:00"]
    # Not confirmed the next morning: the missed dose joins the open medication alarm.
    hub_clock.advance(datetime(2027, 1, 15, 7, 30, tzinfo=UTC) - hub_clock())  # 08:30 local
    await engine.run_due()
    async with hub_sessionmaker() as session:
        loaded = await alarm_store.load_alarm(session, alarm.id)
    assert loaded is not None
    assert len(loaded[1].entries(Action.EVENT_ATTACHED)) == 1
