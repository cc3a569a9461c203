"""Named instants for tests: the suite never starts from the machine's date or time of day.

Every instant is timezone-aware UTC; the comments give the time in Barcelona (Europe/Madrid),
where residents live. ``DEFAULT_START`` is where ``hub_clock`` starts unless a test
parametrizes ``clock_start``; ``TIMES_OF_DAY`` and ``AWKWARD_DAYS`` are the instants a
schedule test is parametrized over when the time of day or the calendar matters.

``machine_now`` is the one way a test may read the machine's clock, and only where the other
side reads it too (a process the test starts, such as a hub subprocess or coturn, or a
clock class whose job is to follow the machine's clock): say why next to each use.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

# Thursday 14 January 2027, 10:30 in Barcelona: an ordinary working morning.
DEFAULT_START = datetime(2027, 1, 14, 9, 30, tzinfo=UTC)

NIGHT = datetime(2027, 1, 14, 2, 0, tzinfo=UTC)  # 03:00
MORNING = datetime(2027, 1, 14, 7, 30, tzinfo=UTC)  # 08:30
NOON = datetime(2027, 1, 14, 11, 0, tzinfo=UTC)  # 12:00
EVENING = datetime(2027, 1, 14, 18, 30, tzinfo=UTC)  # 19:30
# Sunday 28 March 2027, 01:30 CET: at 02:00 the clocks jump to 03:00 (a 23-hour day).
DST_SPRING = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
# Sunday 31 October 2027, 02:30 CEST: at 03:00 the clocks go back to 02:00 (a 25-hour day).
DST_AUTUMN = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
YEAR_END = datetime(2027, 12, 31, 22, 30, tzinfo=UTC)  # 23:30 on New Year's Eve
LEAP_DAY = datetime(2028, 2, 28, 22, 30, tzinfo=UTC)  # 23:30 on 28 February 2028

TIMES_OF_DAY = [
    pytest.param(NIGHT, id="night"),
    pytest.param(MORNING, id="morning"),
    pytest.param(NOON, id="noon"),
    pytest.param(EVENING, id="evening"),
]
AWKWARD_DAYS = [
    pytest.param(DST_SPRING, id="dst-spring"),
    pytest.param(DST_AUTUMN, id="dst-autumn"),
    pytest.param(YEAR_END, id="year-end"),
    pytest.param(LEAP_DAY, id="leap-day"),
]


def machine_now() -> datetime:
    """The machine's clock, for a test whose other side reads it too (see the module doc)."""
    return datetime.now(UTC)
