"""The service state machine: every transition, every refused one, and is_paused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.service import lifecycle as lc
from hub.service.checklist import confirm_first_message, mark_item, new_checklist, pair_device
from hub.service.errors import (
    AssessmentRequired,
    ChecklistIncomplete,
    InvalidDate,
    InvalidTransition,
    ReasonRequired,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _complete_checklist(at: datetime) -> lc.Checklist:
    checklist = new_checklist(("gateway", "pendant"))
    checklist = pair_device(checklist, "gateway", "gw-1", at)
    checklist = pair_device(checklist, "pendant", "pd-1", at)
    checklist = confirm_first_message(checklist, "gw-1", at)
    checklist = confirm_first_message(checklist, "pd-1", at)
    for item in ("test_alarm", "tablet_provisioned", "key_safe_recorded", "resident_trained"):
        checklist = mark_item(checklist, item, at)
    return checklist


def _active() -> lc.Service:
    service = lc.refer("TA-2026-AAAAAA", T0).service
    service = lc.assess(service, "medium", T0 + timedelta(hours=1)).service
    service = lc.order_installation(service, T0 + timedelta(hours=2)).service
    service = lc.start_installation(service, T0 + timedelta(hours=20)).service
    return lc.activate(service, _complete_checklist(T0), T0 + timedelta(hours=22)).service


def test_happy_path_records_every_change() -> None:
    service = _active()
    assert service.state == "active"
    assert service.granted_at == T0 + timedelta(hours=1)
    assert service.care_level == "medium"
    t = lc.suspend(service, "hospital_stay", date(2026, 3, 20), T0 + timedelta(days=3))
    assert (t.change.from_state, t.change.to_state) == ("active", "suspended")
    assert t.change.details == {"reason": "hospital_stay", "resume_on": "2026-03-20"}
    t = lc.resume(t.service, T0 + timedelta(days=10))
    assert t.service.state == "active"
    assert t.service.suspensions[0].ended_at == T0 + timedelta(days=10)
    t = lc.discharge(t.service, "moved_to_care_home", T0 + timedelta(days=40))
    assert t.service.state == "discharged"
    assert t.change.details == {"reason": "moved_to_care_home"}


def test_installing_before_assessment_is_refused() -> None:
    referred = lc.refer("TA-2026-AAAAAA", T0).service
    with pytest.raises(AssessmentRequired):
        lc.start_installation(referred, T0)
    with pytest.raises(AssessmentRequired):
        lc.order_installation(referred, T0)
    with pytest.raises(AssessmentRequired):
        lc.activate(referred, _complete_checklist(T0), T0)
    assessed = lc.assess(referred, "basic", T0).service
    with pytest.raises(AssessmentRequired):  # no work order yet either
        lc.start_installation(assessed, T0)


@pytest.mark.parametrize("reason", [None, "", "bored", "hospital_stay"])
def test_discharge_needs_a_coded_reason(reason: str | None) -> None:
    with pytest.raises(ReasonRequired) as err:
        lc.discharge(_active(), reason, T0 + timedelta(days=5))
    assert "deceased" in str(err.value)


def test_discharge_twice_is_refused() -> None:
    gone = lc.discharge(_active(), "deceased", T0 + timedelta(days=5)).service
    with pytest.raises(InvalidTransition):
        lc.discharge(gone, "deceased", T0 + timedelta(days=6))


def test_discharge_of_a_suspended_service_closes_the_suspension() -> None:
    paused = lc.suspend(_active(), "holiday_with_family", date(2026, 4, 1), T0 + timedelta(days=2))
    gone = lc.discharge(paused.service, "withdrew", T0 + timedelta(days=4)).service
    assert gone.suspensions[-1].ended_at == T0 + timedelta(days=4)
    assert not lc.is_paused(gone, T0 + timedelta(days=5))


def test_activation_needs_the_whole_checklist() -> None:
    service = lc.refer("TA-2026-AAAAAA", T0).service
    service = lc.assess(service, "basic", T0).service
    service = lc.order_installation(service, T0).service
    service = lc.start_installation(service, T0).service
    partial = pair_device(new_checklist(("gateway", "pendant")), "gateway", "gw-1", T0)
    with pytest.raises(ChecklistIncomplete) as err:
        lc.activate(service, partial, T0)
    assert "device:gateway" in err.value.missing  # paired but never heard from
    assert "resident_trained" in err.value.missing


def test_suspension_rules() -> None:
    active = _active()
    at = T0 + timedelta(days=3)
    with pytest.raises(ReasonRequired):
        lc.suspend(active, "deceased", date(2026, 4, 1), at)
    with pytest.raises(InvalidDate):
        lc.suspend(active, "hospital_stay", None, at)
    with pytest.raises(InvalidDate):
        lc.suspend(active, "hospital_stay", at.date(), at)
    with pytest.raises(InvalidTransition):
        lc.resume(active, at)
    referred = lc.refer("TA-2026-BBBBBB", T0).service
    with pytest.raises(InvalidTransition):
        lc.suspend(referred, "hospital_stay", date(2026, 4, 1), at)


def test_assess_twice_and_unknown_level_are_refused() -> None:
    referred = lc.refer("TA-2026-AAAAAA", T0).service
    with pytest.raises(InvalidTransition):
        lc.assess(referred, "extreme", T0)
    assessed = lc.assess(referred, "high", T0).service
    with pytest.raises(InvalidTransition):
        lc.assess(assessed, "basic", T0)
    changed = lc.change_care_level(assessed, "basic", T0)
    assert changed.service.care_level == "basic"
    assert changed.change.details == {"care_level": "basic", "previous": "high"}
    with pytest.raises(InvalidTransition):
        lc.change_care_level(referred, "basic", T0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidDate):
        lc.refer("TA-2026-AAAAAA", datetime(2026, 1, 1))


# Any sequence of actions either succeeds with a state the graph allows or raises a typed
# error leaving the previous service untouched (it is frozen).
_ACTIONS = st.lists(
    st.sampled_from(["assess", "order", "install", "activate", "suspend", "resume", "discharge"]),
    max_size=12,
)
_ALLOWED = {
    ("referred", "assessed"),
    ("assessed", "work_order"),
    ("work_order", "installing"),
    ("installing", "active"),
    ("active", "suspended"),
    ("suspended", "active"),
}


def _step(action: str, s: lc.Service, at: datetime) -> lc.Transition:
    if action == "assess":
        return lc.assess(s, "basic", at)
    if action == "order":
        return lc.order_installation(s, at)
    if action == "install":
        return lc.start_installation(s, at)
    if action == "activate":
        return lc.activate(s, _complete_checklist(at), at)
    if action == "suspend":
        return lc.suspend(s, "hospital_stay", (at + timedelta(days=9)).date(), at)
    if action == "resume":
        return lc.resume(s, at)
    return lc.discharge(s, "withdrew", at)


@given(_ACTIONS)
def test_random_action_sequences_follow_the_graph(actions: list[str]) -> None:
    service = lc.refer("TA-2026-AAAAAA", T0).service
    at = T0
    for action in actions:
        at += timedelta(days=1)
        try:
            t = _step(action, service, at)
        except InvalidTransition:
            continue
        edge = (t.change.from_state, t.change.to_state)
        assert edge in _ALLOWED or t.change.to_state == "discharged", edge
        service = t.service
        if service.state == "discharged":
            assert service.discharged_at == at
        assert lc.is_paused(service, at) == (service.state == "suspended")
