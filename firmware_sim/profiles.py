"""Resident profiles: the parameters of a day's routine.

Times are minutes after local midnight. The bounds (``*_min``/``*_max``) are hard
clamps that make "normal day" guarantees true, which the alert engine can rely on:
a normal day never opens the front door at night, always checks in before the
deadline, never stays out of bed at night for longer than :data:`MAX_NORMAL_NIGHT_OUT_MIN`
and always gets up no later than ``wake_max``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Guarantees of a normal (incident-free) day, documented for the alert rules.
MAX_NORMAL_NIGHT_OUT_MIN = 20.0
NIGHT_START_MIN = 23 * 60.0  # 23:00 local: the front door stays closed until…
NIGHT_END_MIN = 6 * 60.0  # …06:00 local on a normal day.


class Profile(StrEnum):
    """The three reference residents."""

    ACTIVE = "active"
    FRAIL = "frail"
    COGNITIVE_DECLINE = "cognitive_decline"


@dataclass(frozen=True, slots=True)
class ProfileParams:
    """How one kind of resident lives a day (minutes after local midnight)."""

    name: str
    wake_mean: float
    wake_sd: float
    wake_min: float
    wake_max: float
    bed_mean: float
    bed_sd: float
    bed_min: float
    bed_max: float
    slowness: float  # multiplies the duration of active chores
    night_visits: float  # mean bathroom visits per night (Poisson)
    day_bathroom: float  # mean extra bathroom visits per day (Poisson)
    morning_outing: float  # probability
    afternoon_outing: float
    outing_min: float
    outing_max: float
    afternoon_tv: float  # probability of TV after lunch
    tea: float  # probability of an afternoon kettle
    check_in_deadline: float  # the tablet "I'm OK" deadline
    restless: float  # probability per day of a short extra kitchen visit at night


PROFILES: dict[Profile, ProfileParams] = {
    Profile.ACTIVE: ProfileParams(
        name="active",
        wake_mean=7 * 60,
        wake_sd=20,
        wake_min=6 * 60 + 15,
        wake_max=8 * 60 + 30,
        bed_mean=23 * 60,
        bed_sd=25,
        bed_min=22 * 60,
        bed_max=24 * 60 - 10,
        slowness=1.0,
        night_visits=0.6,
        day_bathroom=3,
        morning_outing=0.85,
        afternoon_outing=0.5,
        outing_min=45,
        outing_max=150,
        afternoon_tv=0.3,
        tea=0.4,
        check_in_deadline=11 * 60,
        restless=0.0,
    ),
    Profile.FRAIL: ProfileParams(
        name="frail",
        wake_mean=8 * 60,
        wake_sd=25,
        wake_min=7 * 60,
        wake_max=9 * 60 + 15,
        bed_mean=22 * 60,
        bed_sd=25,
        bed_min=21 * 60,
        bed_max=23 * 60,
        slowness=1.4,
        night_visits=1.5,
        day_bathroom=4,
        morning_outing=0.2,
        afternoon_outing=0.05,
        outing_min=30,
        outing_max=70,
        afternoon_tv=0.8,
        tea=0.6,
        check_in_deadline=11 * 60,
        restless=0.0,
    ),
    Profile.COGNITIVE_DECLINE: ProfileParams(
        name="cognitive_decline",
        wake_mean=7 * 60 + 45,
        wake_sd=50,
        wake_min=6 * 60 + 15,
        wake_max=9 * 60 + 45,
        bed_mean=22 * 60 + 30,
        bed_sd=50,
        bed_min=21 * 60,
        bed_max=24 * 60 - 10,
        slowness=1.2,
        night_visits=2.0,
        day_bathroom=4,
        morning_outing=0.4,
        afternoon_outing=0.15,
        outing_min=30,
        outing_max=90,
        afternoon_tv=0.7,
        tea=0.5,
        check_in_deadline=11 * 60 + 30,
        restless=0.3,
    ),
}


def profile_params(profile: Profile | str | ProfileParams) -> ProfileParams:
    """Resolve a profile name (or pass parameters through); ``ValueError`` names the choices."""
    if isinstance(profile, ProfileParams):
        return profile
    try:
        return PROFILES[Profile(profile)]
    except ValueError:
        choices = ", ".join(p.value for p in Profile)
        raise ValueError(f"unknown profile {profile!r} (expected one of {choices})") from None
