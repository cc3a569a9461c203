"""Where the alarm rules' plan comes from: the service's care plan, the resident's language
and contact list, unless the engine has a plan of its own; a change through the service
API reaches the running engine at once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from alerts import CarePlan, EscalationPolicy, RuleKind
from alerts.alarm import EscalationTarget
from alerts.escalation import Contact
from hub.alarms import store
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.plans import KnownResident, care_service, contact_of, rule_plan
from hub.app import SESSIONMAKER
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Contact as ContactRow
from hub.service.alarm_terms import AlarmTerms, PlanTerms
from tests.instants import (
    DST_AUTUMN,
    DST_SPRING,
    EVENING,
    LEAP_DAY,
    MORNING,
    NIGHT,
    NOON,
    YEAR_END,
)
from tests.service.helpers import Client, install, post, submit

MARTA = Contact("contact-1", "Marta", EscalationTarget.KEY_HOLDER, phone="600", auto_notify=True)


def _known(*, tablet: bool = True, live: bool = True) -> KnownResident:
    service = PlanTerms(time(9, 30), tablet, live, timedelta(minutes=10), timedelta(minutes=25))
    return KnownResident("es", service, (MARTA,))


def test_a_running_service_with_a_tablet_switches_the_daily_check_in_on() -> None:
    plan, policy = rule_plan("7", _known(), None)
    assert plan.language == "es"
    assert plan.check_in.enabled
    assert plan.check_in.deadlines == (time(9, 30),)
    assert policy.contacts == (MARTA,)
    # Contacts hear of an alarm still open after the plan's contact escalation time.
    assert policy.notify_delay == timedelta(minutes=10)
    no_service = KnownResident("ca", None, (MARTA,))
    assert rule_plan("7", no_service, None)[1].notify_delay == timedelta(minutes=15)


def test_the_service_plans_112_time_drives_the_automatic_hand_off() -> None:
    _, policy = rule_plan("7", _known(), None)
    assert policy.critical_112_after == timedelta(minutes=25)
    # An engine policy with a time of its own keeps it; without a service there is none.
    own = EscalationPolicy(critical_112_after=timedelta(minutes=5))
    assert rule_plan("7", _known(), (CarePlan("7"), own))[1].critical_112_after == timedelta(
        minutes=5
    )
    assert rule_plan("7", KnownResident("ca", None, ()), None)[1].critical_112_after is None


def test_no_tablet_or_not_installed_yet_means_no_check_in_alarm() -> None:
    assert not rule_plan("7", _known(tablet=False), None)[0].check_in.enabled
    assert not rule_plan("7", _known(live=False), None)[0].check_in.enabled


def test_an_engine_plan_of_its_own_wins_but_gets_the_contacts_if_it_has_none() -> None:
    own = CarePlan("7", language="en")
    plan, policy = rule_plan("7", _known(), (own, EscalationPolicy()))
    assert plan is own
    assert policy.contacts == (MARTA,)
    listed = Contact("c9", "Joan", EscalationTarget.FAMILY)
    _, kept = rule_plan("7", _known(), (own, EscalationPolicy(contacts=(listed,))))
    assert kept.contacts == (listed,)


def test_unknown_residents_get_the_service_defaults() -> None:
    plan, policy = rule_plan("home-4", None, None)
    assert plan == CarePlan("home-4")
    assert policy == EscalationPolicy()


def test_contacts_from_the_contact_list() -> None:
    key = ContactRow(
        id=3, name="Marta", phone="600111222", email="", relationship_="filla",
        is_key_holder=True, priority=1, language="ca",
    )  # fmt: skip
    neighbour = ContactRow(
        id=4, name="Pere", phone="600", email="p@example.org", relationship_="veí",
        is_key_holder=False, priority=2, language="xx",
    )  # fmt: skip
    unreachable = ContactRow(
        id=5, name="Joan", phone="", email="", relationship_="fill",
        is_key_holder=False, priority=3, language="es",
    )  # fmt: skip
    first, second, third = (contact_of(c) for c in (key, neighbour, unreachable))
    assert (first.relation, first.has_key, first.auto_notify) == (
        EscalationTarget.KEY_HOLDER,
        True,
        True,
    )
    assert first.channels == ("sms",)
    # A neighbour volunteer is called by the operator, not woken by the system.
    assert (second.relation, second.auto_notify, second.language) == (
        EscalationTarget.NEIGHBOUR,
        False,
        "ca",
    )
    assert second.channels == ("email", "sms")
    assert (third.relation, third.auto_notify) == (EscalationTarget.FAMILY, False)


async def test_service_changes_reach_the_running_engine(
    hub_client: Client, auth_headers: Any
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, _ = await submit(hub_client)
    assessed = await post(
        hub_client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "basic", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    resident_id = str(assessed["resident_id"])
    app = hub_client.server.app
    engine = app[ALARM_ENGINE]
    # Assessed, not installed: the contacts are known, the check-in is not live yet.
    cached = engine._cache[resident_id]
    assert not cached.plan.check_in.enabled
    [marta] = cached.policy.contacts
    assert (marta.name, marta.relation, marta.auto_notify) == (
        "Marta Puig",
        EscalationTarget.KEY_HOLDER,
        True,
    )
    assert cached.policy.notify_delay == timedelta(minutes=15)  # the basic level's
    assert cached.policy.critical_112_after == timedelta(minutes=30)  # the basic level's
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"check_in_deadline": "09:45", "escalate_to_112_after_min": 45},
    )
    assert engine._cache[resident_id].plan.check_in.deadlines == (time(9, 45),)
    assert engine._cache[resident_id].policy.critical_112_after == timedelta(minutes=45)
    # The rule state is stored, so the scheduler sees the resident's timers.
    async with app[SESSIONMAKER]() as session:
        assert await store.load_state(session, resident_id) is not None
        # The service context filled the alarm engine's port at setup.
        assert isinstance(care_service(app), AlarmTerms)
        plan, _ = await store.load_plan(session, resident_id, care_service(app))
    assert plan.check_in.deadlines == (time(9, 45),)


# Instants the installation is confirmed at, the next noon in Barcelona (the basic level's
# check-in deadline) in UTC, and the rules of the resident's open alarm once that deadline
# has passed with no "I'm OK". The motion sensor reports once, at installation; a morning
# activity window (07:00–10:00 local) closing without movement raises the inactivity alarm
# first, and the missed check-in joins it (same category).
_INACTIVE_THEN_MISSED = (RuleKind.INACTIVITY, RuleKind.MISSED_CHECK_IN)
INSTALLED_AT = [
    pytest.param(
        NIGHT,  # 03:00 CET
        datetime(2027, 1, 14, 11, 0, tzinfo=UTC),
        _INACTIVE_THEN_MISSED,
        id="night",
    ),
    pytest.param(
        MORNING,  # 08:30, inside the activity window
        datetime(2027, 1, 14, 11, 0, tzinfo=UTC),
        (RuleKind.MISSED_CHECK_IN,),
        id="morning",
    ),
    pytest.param(
        NOON,  # at the deadline: the next is tomorrow's
        datetime(2027, 1, 15, 11, 0, tzinfo=UTC),
        _INACTIVE_THEN_MISSED,
        id="noon",
    ),
    pytest.param(
        EVENING,  # 19:30 CET
        datetime(2027, 1, 15, 11, 0, tzinfo=UTC),
        _INACTIVE_THEN_MISSED,
        id="evening",
    ),
    pytest.param(
        DST_SPRING,  # 01:30 CET; at 02:00 clocks jump to 03:00
        datetime(2027, 3, 28, 10, 0, tzinfo=UTC),  # 12:00 CEST
        _INACTIVE_THEN_MISSED,
        id="dst-spring",
    ),
    pytest.param(
        DST_AUTUMN,  # 02:30 CEST; at 03:00 back to 02:00
        datetime(2027, 10, 31, 11, 0, tzinfo=UTC),  # 12:00 CET
        _INACTIVE_THEN_MISSED,
        id="dst-autumn",
    ),
    pytest.param(
        YEAR_END,  # 23:30 on New Year's Eve
        datetime(2028, 1, 1, 11, 0, tzinfo=UTC),
        _INACTIVE_THEN_MISSED,
        id="year-end",
    ),
    pytest.param(
        LEAP_DAY,  # 23:30 on 28 February
        datetime(2028, 2, 29, 11, 0, tzinfo=UTC),
        _INACTIVE_THEN_MISSED,
        id="leap-day",
    ),
]


@pytest.mark.parametrize(("clock_start", "deadline", "rules"), INSTALLED_AT)
async def test_once_installed_a_missed_check_in_raises_an_alarm_at_the_deadline(
    hub_client: Client,
    hub_sessionmaker: Any,
    hub_clock: ManualClock,
    auth_headers: Any,
    clock_start: datetime,
    deadline: datetime,
    rules: tuple[RuleKind, ...],
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    assert detail["service_state"] == "active"
    resident_id = str(detail["resident_id"])
    engine = hub_client.server.app[ALARM_ENGINE]
    plan = engine._cache[resident_id].plan
    assert plan.check_in.enabled
    assert plan.check_in.deadlines == (time(12, 0),)  # the basic level's default
    # Nobody presses "I'm OK": at the next noon in Barcelona the missed check-in is an alarm.

    async def open_rules() -> list[tuple[RuleKind, ...]]:
        await engine.run_due()
        async with hub_sessionmaker() as session:
            alarms = await store.list_alarms(session, status="open", category=None, limit=10)
        assert {a.resident_id for a in alarms} <= {resident_id}
        return [a.rules for a in alarms]

    hub_clock.advance(deadline - timedelta(minutes=1) - hub_clock())
    before = rules[:-1]  # what the morning window raised, if anything; no check-in alarm yet
    assert await open_rules() == ([before] if before else [])
    hub_clock.advance(timedelta(minutes=2))
    assert await open_rules() == [rules]
