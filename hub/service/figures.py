"""Managers' figures, as pure functions over plain records (the adapter loads them)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.service.codes import WAITING_INSTALLATION, ServiceState
from hub.service.sla import INSTALLATION_TARGET, REPAIR_TARGET


@dataclass(frozen=True)
class ServiceFacts:
    """What the figures need to know about one service."""

    state: ServiceState
    care_level: str | None
    abss_area: str
    referred_at: datetime
    granted_at: datetime | None = None
    activated_at: datetime | None = None


@dataclass(frozen=True)
class FaultFacts:
    """One maintenance order."""

    reported_at: datetime
    repaired_at: datetime | None = None


@dataclass(frozen=True)
class Figures:
    """The managers' page."""

    waiting_assessment: int
    waiting_installation: int
    installations: int
    install_median_hours: float | None
    install_p90_hours: float | None
    install_within_target_share: float | None
    # Installations still waiting past their target: they count against the share above
    # (an overdue installation must not leave "installed within 72 h: 100 %" standing).
    installations_overdue: int
    faults_open: int
    faults_overdue: int
    faults_repaired: int
    repaired_within_target_share: float | None
    active_by_level: dict[str, int] = field(default_factory=dict)
    active_by_area: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100) of a non-empty sequence: always one of
    the values, so "p90 = 70 h" means a real installation took 70 h."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0 and 100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The usual median (mean of the two middle values for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def share_within(
    durations: Sequence[timedelta], target: timedelta, missed: int = 0
) -> float | None:
    """Fraction (0–1) of ``durations`` not above ``target``, counting ``missed`` more that
    are already past it without an end; ``None`` for none at all."""
    total = len(durations) + missed
    if not total:
        return None
    return sum(1 for d in durations if d <= target) / total


def _hours(d: timedelta) -> float:
    return d.total_seconds() / 3600


def compute_figures(
    services: Iterable[ServiceFacts],
    faults: Iterable[FaultFacts],
    now: datetime,
    installation_target: timedelta = INSTALLATION_TARGET,
    repair_target: timedelta = REPAIR_TARGET,
) -> Figures:
    """Every figure of the managers' page at ``now``."""
    waiting_assessment = waiting_installation = 0
    install_times: list[timedelta] = []
    overdue_installations = 0
    by_level: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    for s in services:
        if s.state == "referred":
            waiting_assessment += 1
        elif s.state in WAITING_INSTALLATION:
            waiting_installation += 1
            if s.granted_at is not None and now > s.granted_at + installation_target:
                overdue_installations += 1
        if s.granted_at is not None and s.activated_at is not None:
            install_times.append(s.activated_at - s.granted_at)
        if s.state == "active":
            by_level[s.care_level or "?"] += 1
            by_area[s.abss_area or "?"] += 1
    hours = [_hours(d) for d in install_times]

    open_faults = overdue = 0
    repair_times: list[timedelta] = []
    for f in faults:
        if f.repaired_at is None:
            open_faults += 1
            if now > f.reported_at + repair_target:
                overdue += 1
        else:
            repair_times.append(f.repaired_at - f.reported_at)

    return Figures(
        waiting_assessment=waiting_assessment,
        waiting_installation=waiting_installation,
        installations=len(install_times),
        install_median_hours=median(hours) if hours else None,
        install_p90_hours=percentile(hours, 90) if hours else None,
        install_within_target_share=share_within(
            install_times, installation_target, overdue_installations
        ),
        installations_overdue=overdue_installations,
        faults_open=open_faults,
        faults_overdue=overdue,
        faults_repaired=len(repair_times),
        # An open fault past its 48 h is a missed target too, like an overdue installation.
        repaired_within_target_share=share_within(repair_times, repair_target, overdue),
        active_by_level=dict(sorted(by_level.items())),
        active_by_area=dict(sorted(by_area.items())),
    )
