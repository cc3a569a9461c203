"""Managers' figures and the SLA helpers they use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.service.errors import InvalidTransition
from hub.service.figures import (
    FaultFacts,
    ServiceFacts,
    compute_figures,
    median,
    percentile,
    share_within,
)
from hub.service.maintenance import close_order, open_order
from hub.service.retention import erase_personal_data_after, must_erase
from hub.service.sla import due_status, installation_due, next_review_due, review_reminder

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_figures_on_a_small_known_population() -> None:
    services = [
        ServiceFacts("referred", None, "", T0),
        ServiceFacts("work_order", "basic", "BCN-01", T0, T0),
        ServiceFacts("active", "basic", "BCN-01", T0, T0, T0 + 10 * H),
        ServiceFacts("active", "high", "BCN-02", T0, T0, T0 + 50 * H),
        ServiceFacts("suspended", "high", "BCN-02", T0, T0, T0 + 80 * H),
        ServiceFacts("discharged", "medium", "BCN-01", T0, T0, T0 + 100 * H),
    ]
    faults = [
        FaultFacts(T0),  # open, overdue at now
        FaultFacts(T0 + 60 * H),  # open, not yet due
        FaultFacts(T0, T0 + 20 * H),
        FaultFacts(T0, T0 + 49 * H),
    ]
    f = compute_figures(services, faults, now=T0 + 70 * H)
    assert (f.waiting_assessment, f.waiting_installation) == (1, 1)
    assert f.installations == 4
    assert f.install_median_hours == 65.0
    assert f.install_p90_hours == 100.0
    assert f.install_within_target_share == 0.5
    assert (f.faults_open, f.faults_overdue, f.faults_repaired) == (2, 1, 2)
    # Two repaired (one in time) and one open past its 48 h: a third in time, not a half.
    assert f.repaired_within_target_share == pytest.approx(1 / 3)
    assert f.installations_overdue == 0  # the work order is at 70 h of its 72
    assert f.active_by_level == {"basic": 1, "high": 1}
    assert f.active_by_area == {"BCN-01": 1, "BCN-02": 1}


def test_an_overdue_installation_counts_against_the_share_installed_in_time() -> None:
    """Issue 23: the figures said "installed within 72 h: 100 %" while the list showed an
    installation four days late: only finished installations were counted."""
    services = [
        ServiceFacts("active", "medium", "BCN-03", T0, T0, T0 + 30 * H),
        ServiceFacts("installing", "basic", "BCN-07", T0, T0 + 2 * H),  # granted, not done
        ServiceFacts("work_order", "high", "GIR-01", T0, T0 + 80 * H),  # in time still
        ServiceFacts("referred", None, "", T0),
    ]
    f = compute_figures(services, [], now=T0 + 98 * H)
    assert f.installations == 1
    assert f.installations_overdue == 1
    assert f.install_within_target_share == 0.5
    assert f.install_median_hours == 30.0  # times are of finished installations only
    # The same installation on its due hour is not late yet; past it, it is.
    assert compute_figures(services, [], now=T0 + 74 * H).install_within_target_share == 1.0
    assert compute_figures(services, [], now=T0 + 75 * H).install_within_target_share == 0.5
    # Nothing installed yet and one late: 0 %, not "no data".
    late_only = compute_figures(services[1:2], [], now=T0 + 98 * H)
    assert late_only.install_within_target_share == 0.0


def test_an_open_fault_past_its_target_counts_against_the_repair_share() -> None:
    faults = [FaultFacts(T0, T0 + 5 * H), FaultFacts(T0 + 10 * H)]
    assert compute_figures([], faults, T0 + 57 * H).repaired_within_target_share == 1.0
    assert compute_figures([], faults, T0 + 59 * H).repaired_within_target_share == 0.5


def test_no_data_gives_no_figures_not_zeros() -> None:
    f = compute_figures([], [], T0)
    assert f.install_median_hours is None
    assert f.install_within_target_share is None
    assert f.repaired_within_target_share is None


_HOURS = st.lists(
    st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=50
)


@given(_HOURS)
def test_percentiles_are_ordered_and_real(values: list[float]) -> None:
    p50, p90 = percentile(values, 50), percentile(values, 90)
    assert min(values) <= median(values) <= max(values)
    assert p50 <= p90
    assert p90 in values
    assert percentile(values, 100) == max(values)


@given(
    st.lists(st.integers(min_value=0, max_value=500), max_size=40),
    st.integers(min_value=0, max_value=10),
)
def test_share_within_is_a_fraction(hours: list[int], missed: int) -> None:
    share = share_within([timedelta(hours=h) for h in hours], timedelta(hours=72), missed)
    if not hours and not missed:
        assert share is None
    else:
        assert share is not None
        assert 0 <= share <= 1
        assert share == sum(h <= 72 for h in hours) / (len(hours) + missed)


def test_percentile_input_errors() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 120)


def test_sla_due_dates() -> None:
    due = installation_due(T0)
    assert due == T0 + 72 * H
    assert due_status(due, None, T0 + 71 * H) == "open"
    assert due_status(due, None, T0 + 73 * H) == "overdue"
    assert due_status(due, T0 + 72 * H, T0 + 99 * H) == "done_on_time"
    assert due_status(due, T0 + 73 * H, T0 + 99 * H) == "done_late"
    review = next_review_due(T0, None, timedelta(days=365))
    assert review == T0 + timedelta(days=365)
    assert next_review_due(T0, T0 + timedelta(days=100), timedelta(days=365)) == T0 + timedelta(
        days=465
    )
    assert not review_reminder(review, T0 + timedelta(days=300))
    assert review_reminder(review, T0 + timedelta(days=340))


def test_maintenance_orders() -> None:
    order = open_order("pd-1", "no_signal", T0)
    assert order.due_at == T0 + 48 * H
    assert order.status(T0 + 49 * H) == "overdue"
    done = close_order(order, T0 + 5 * H, "battery replaced")
    assert done.status(T0 + 99 * H) == "done_on_time"
    with pytest.raises(InvalidTransition):
        close_order(done, T0 + 6 * H)
    with pytest.raises(InvalidTransition):
        close_order(order, T0 - H)
    with pytest.raises(InvalidTransition):
        open_order("pd-1", "sad", T0)


def test_retention() -> None:
    assert erase_personal_data_after(T0, ever_active=False) == T0 + timedelta(days=365)
    assert erase_personal_data_after(T0, ever_active=True) == T0 + timedelta(days=5 * 365)
    assert not must_erase(None, True, False, T0)
    assert not must_erase(T0, False, False, T0 + timedelta(days=364))
    assert must_erase(T0, False, False, T0 + timedelta(days=365))
    assert not must_erase(T0, False, True, T0 + timedelta(days=999))
