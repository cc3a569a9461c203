"""A missed dose told to the family instead of (or besides) the centre, per the plan and the
circle's consent (issue 22, item 3; ADR 0152). Fixed instants throughout."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts import CarePlan, RuleKind, initial_state, tick
from hub.alarms import store as alarm_store
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.missed_doses import as_alarms
from hub.auth import Role
from hub.clock import ManualClock
from hub.family.consent import Scope, encode_scopes
from hub.family.missed_dose_refs import dose_of
from hub.family.models import AlarmNotice, CircleLink
from hub.family.parties import user_party
from hub.service.alarm_terms import PlanTerms, with_rules
from hub.service.errors import InvalidCarePlan
from hub.service.rules import effective_rules, parse_rule_changes
from tests.alerts.helpers import HOME, RESIDENT, local
from tests.hub.fixtures import TEST_PASSWORD
from tests.instants import NIGHT
from tests.service.helpers import Client, install, post, submit

NOON = time(12, 0)
INSULIN = {"name": "insulina", "times": ["08:00"]}


def _plan(missed_to: str) -> CarePlan:
    rules = {
        "medications": [INSULIN],
        "medication_grace_min": 30,
        "medication_missed_to": missed_to,
        "inactivity": False,
        "check_in": False,
        "baseline": False,
    }
    overrides = parse_rule_changes(rules, {}, NOON)
    service = PlanTerms(NOON, True, True, rules=effective_rules(NOON, overrides))
    return with_rules(CarePlan(RESIDENT), service)


@pytest.mark.parametrize(
    ("missed_to", "alarm", "family"),
    [("centre", True, False), ("family", False, True), ("both", True, True)],
)
def test_the_plan_says_who_hears_of_a_missed_dose(
    missed_to: str, alarm: bool, family: bool
) -> None:
    plan = _plan(missed_to)
    state = initial_state(plan, HOME, local(12, 6))
    due = tick(plan, state, local(12, 8, 0))
    assert tick(plan, due.state, local(12, 8, 29)).missed_doses == ()
    missed = tick(plan, due.state, local(12, 8, 30))
    assert bool(missed.detections) is alarm
    assert bool(missed.missed_doses) is family
    if family:
        (dose,) = missed.missed_doses
        assert (dose.schedule, dose.due, dose.at) == (
            "insulina 08:00",
            local(12, 8),
            local(12, 8, 30),
        )
        # Nobody in the family to tell: the centre hears of it, once.
        (raised,) = as_alarms(missed).detections
        assert raised.rule is RuleKind.MEDICATION
        assert as_alarms(missed).missed_doses == ()


def test_an_unknown_destination_is_refused() -> None:
    with pytest.raises(InvalidCarePlan) as refused:
        parse_rule_changes({"medication_missed_to": "neighbour"}, {}, NOON)
    assert "medication_missed_to" in str(refused.value)


def test_a_dose_reference_reads_back() -> None:
    assert dose_of("dose:202701140700:insulina 08:00") == {
        "schedule": "insulina 08:00",
        "due": "2027-01-14T07:00:00+00:00",
    }
    assert dose_of("b3c1f0") is None
    assert dose_of("dose:garbage:x") is None


@pytest.mark.parametrize("clock_start", [NIGHT])  # 03:00 in Barcelona, Thursday 14 January 2027
async def test_in_the_running_hub_the_family_hears_of_a_missed_dose_and_the_centre_does_not(
    hub_client: Client,
    hub_sessionmaker: Any,
    hub_clock: ManualClock,
    auth_headers: Any,
    make_user: Any,
    token_for: Any,
    clock_start: datetime,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    resident_id = int(detail["resident_id"])
    rules = {
        "medications": [INSULIN],
        "medication_grace_min": 30,
        "medication_missed_to": "family",
        "inactivity": False,
        "check_in": False,
        "baseline": False,
    }
    await post(
        hub_client, f"/api/service/referrals/{reference}/care-plan", coordinator, {"rules": rules}
    )
    # Her son hears of alarms; her niece shares only the agenda.
    son = await make_user(Role.FAMILY, username="fill")
    niece = await make_user(Role.FAMILY, username="neboda")
    async with hub_sessionmaker() as session:
        session.add_all(
            [
                CircleLink(
                    resident_id=resident_id,
                    member=user_party(son.id),
                    consent=encode_scopes([Scope.ALARMS]),
                ),
                CircleLink(
                    resident_id=resident_id,
                    member=user_party(niece.id),
                    consent=encode_scopes([Scope.AGENDA]),
                ),
            ]
        )
        await session.commit()
    engine = hub_client.server.app[ALARM_ENGINE]

    async def open_alarms() -> list[Any]:
        async with hub_sessionmaker() as session:
            alarms = await alarm_store.list_alarms(session, status="open", category=None, limit=9)
        return [a for a in alarms if a.resident_id == str(resident_id)]

    hub_clock.advance(datetime(2027, 1, 14, 7, 0, tzinfo=UTC) - hub_clock())  # 08:00 local
    await engine.run_due()
    hub_clock.advance(timedelta(minutes=30))  # 08:30: not confirmed within the grace
    await engine.run_due()
    assert await open_alarms() == []
    login = await hub_client.post(
        "/api/auth/login", json={"username": "fill", "password": TEST_PASSWORD}
    )
    son_headers = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    notices = await (
        await hub_client.get(
            f"/api/family/residents/{resident_id}/alarm-notices", headers=son_headers
        )
    ).json()
    (notice,) = notices
    assert (notice["event_type"], notice["state"]) == ("medication_missed", "closed")
    assert notice["dose"] == {"schedule": "insulina 08:00", "due": "2027-01-14T07:00:00+00:00"}
    assert notice["steps"] == []
    niece_token = await token_for(Role.FAMILY)  # someone not in the circle at all
    refused = await hub_client.get(
        f"/api/family/residents/{resident_id}/alarm-notices",
        headers={"Authorization": f"Bearer {niece_token}"},
    )
    assert refused.status in (403, 404)

    # Her son stops hearing of alarms: the next missed dose is an alarm for the centre.
    async with hub_sessionmaker() as session:
        link = await session.scalar(
            select(CircleLink).where(CircleLink.member == user_party(son.id))
        )
        assert link is not None
        link.consent = encode_scopes([Scope.AGENDA])
        await session.commit()
    hub_clock.advance(datetime(2027, 1, 15, 7, 30, tzinfo=UTC) - hub_clock())  # Friday 08:30
    await engine.run_due()
    (alarm,) = await open_alarms()
    assert alarm.rules == (RuleKind.MEDICATION,)
    async with hub_sessionmaker() as session:
        stored = set(await session.scalars(select(AlarmNotice.alarm_ref)))
    # Thursday's dose was told once, Friday's not at all (its alarm's notice, which the
    # alarm bridge may write in the background, reaches nobody).
    assert {ref for ref in stored if ref.startswith("dose:")} == {
        "dose:202701140700:insulina 08:00"
    }
