"""Service figures for the supervisor: answer times, alarms per operator, by type and outcome.

Pure functions over :class:`AlarmRecord` values (built from the alarm tables by
:func:`load_records`). Definitions (docs/console.md):

- answer-time figures count CARE alarms only; technical ones are counted apart;
- an alarm is "accepted within T" if an operator accepted it at most T seconds after it was
  raised; an alarm closed without acceptance (the resident cancelled it) before T needs no
  answer and counts as within T; an alarm still waiting after T, or accepted later, does not;
- percentiles use the nearest-rank method over accepted alarms;
- time to voice contact: raised → the operator first spoke with the resident (the
  tablet's speech connection carried voice, or a phone call reached them);
- "answered within T" is the TSA-style target measured on what the resident lives: voice
  contact for a home with a speech unit (a paired tablet), acceptance otherwise, with the
  same closed-without-answer and still-waiting rules.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

TARGET_60S = 0.975  # the UK telecare standard (TSA) asks 97.5 % within 60 s
TARGET_180S = 0.99  # ... and 99 % within 180 s


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """What the figures need of one alarm."""

    id: str
    rule: str
    category: str
    priority: int
    raised_at: datetime
    accepted_at: datetime | None
    accepted_by: str | None
    resolved_at: datetime | None
    outcome: str | None
    voice_contact_at: datetime | None = None
    speech_unit: bool = False  # the home has a tablet the centre can speak through

    @property
    def seconds_to_voice(self) -> float | None:
        """Seconds from raised to the first voice contact."""
        if self.voice_contact_at is None:
            return None
        return max(0.0, (self.voice_contact_at - self.raised_at).total_seconds())

    @property
    def seconds_to_accept(self) -> float | None:
        """Seconds from raised to accepted."""
        if self.accepted_at is None:
            return None
        return max(0.0, (self.accepted_at - self.raised_at).total_seconds())

    @property
    def seconds_to_resolve(self) -> float | None:
        """Seconds from raised to resolved."""
        if self.resolved_at is None:
            return None
        return max(0.0, (self.resolved_at - self.raised_at).total_seconds())


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def within(record: AlarmRecord, seconds: float, now: datetime, *, voice: bool = False) -> bool:
    """Answered (or closed with nothing to answer) within ``seconds`` of being raised.

    ``voice``: answered means voice contact, for a home with a speech unit.
    """
    took = record.seconds_to_voice if voice and record.speech_unit else record.seconds_to_accept
    if took is not None:
        return took <= seconds
    closed = record.seconds_to_resolve
    if closed is not None:
        return closed <= seconds
    return (now - record.raised_at).total_seconds() <= seconds


def _share(hits: int, total: int) -> float | None:
    return None if total == 0 else hits / total


def service_figures(records: Iterable[AlarmRecord], now: datetime) -> dict[str, Any]:
    """The supervisor's figures for ``records`` (one period)."""
    all_records = list(records)
    care = [r for r in all_records if r.category == "care"]
    accept_times = [t for r in care if (t := r.seconds_to_accept) is not None]
    voice_times = [t for r in care if (t := r.seconds_to_voice) is not None]
    speaking = [r for r in care if r.speech_unit]
    resolve_times = [t for r in all_records if (t := r.seconds_to_resolve) is not None]
    outcomes_care = Counter(r.outcome or "open" for r in care)
    operators: dict[str, list[float]] = {}
    resolved_by_operator: Counter[str] = Counter()
    for r in all_records:
        if r.accepted_by is not None and r.seconds_to_accept is not None:
            operators.setdefault(r.accepted_by, []).append(r.seconds_to_accept)
            if r.resolved_at is not None:
                resolved_by_operator[r.accepted_by] += 1
    # Each share with the count it comes from, so a screen can say "4 of 6" beside "66.7 %".
    hits = {
        "accepted_within_60s": sum(within(r, 60, now) for r in care),
        "accepted_within_180s": sum(within(r, 180, now) for r in care),
        "answered_within_60s": sum(within(r, 60, now, voice=True) for r in care),
        "answered_within_180s": sum(within(r, 180, now, voice=True) for r in care),
    }
    return {
        "alarms": len(all_records),
        "care_alarms": len(care),
        "technical_alarms": len(all_records) - len(care),
        "open": sum(1 for r in all_records if r.resolved_at is None),
        "care_open": sum(1 for r in care if r.resolved_at is None),
        **{name: _share(n, len(care)) for name, n in hits.items()},
        **{f"{name}_n": n for name, n in hits.items()},
        "target_60s": TARGET_60S,
        "target_180s": TARGET_180S,
        "median_accept_s": percentile(accept_times, 0.5),
        "p95_accept_s": percentile(accept_times, 0.95),
        "speech_unit_alarms": len(speaking),
        "voice_contacts": len(voice_times),
        "median_voice_s": percentile(voice_times, 0.5),
        "p95_voice_s": percentile(voice_times, 0.95),
        "median_resolve_s": percentile(resolve_times, 0.5),
        "p95_resolve_s": percentile(resolve_times, 0.95),
        "by_operator": [
            {
                "operator": name,
                "accepted": len(times),
                "resolved": resolved_by_operator[name],
                "median_accept_s": percentile(times, 0.5),
            }
            for name, times in sorted(operators.items())
        ],
        # Both tables count care AND technical alarms: each row says which kind (by_rule)
        # or how many of each (by_outcome), so their totals are never mistaken for care_alarms.
        "by_rule": [
            {"rule": rule, "category": category, "count": n}
            for (rule, category), n in Counter(
                (r.rule, r.category) for r in all_records
            ).most_common()
        ],
        "by_outcome": [
            {
                "outcome": outcome,
                "count": n,
                "care": outcomes_care[outcome],
                "technical": n - outcomes_care[outcome],
            }
            for outcome, n in Counter(r.outcome or "open" for r in all_records).most_common()
        ],
    }


CSV_COLUMNS = (
    "alarm_id",
    "raised_at_utc",
    "rule",
    "category",
    "priority",
    "accepted_at_utc",
    "seconds_to_accept",
    "accepted_by",
    "resolved_at_utc",
    "seconds_to_resolve",
    "outcome",
    "voice_contact_at_utc",
    "seconds_to_voice",
    "speech_unit",
)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def to_csv(records: Iterable[AlarmRecord]) -> str:
    """One row per alarm (UTC times, seconds), for spreadsheets and the service's reports."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow(
            [
                r.id,
                _iso(r.raised_at),
                r.rule,
                r.category,
                r.priority,
                _iso(r.accepted_at),
                _number(r.seconds_to_accept),
                r.accepted_by or "",
                _iso(r.resolved_at),
                _number(r.seconds_to_resolve),
                r.outcome or "",
                _iso(r.voice_contact_at),
                _number(r.seconds_to_voice),
                "yes" if r.speech_unit else "no",
            ]
        )
    return out.getvalue()


async def load_records(session: AsyncSession, start: datetime, end: datetime) -> list[AlarmRecord]:
    """Alarms raised in ``[start, end)`` with their first acceptance and resolution."""
    from hub.alarms.models import AlarmHistoryRow, AlarmRow
    from hub.family.models import TabletCredential

    rows = (
        await session.scalars(
            select(AlarmRow)
            .where(AlarmRow.raised_at >= start, AlarmRow.raised_at < end)
            .order_by(AlarmRow.raised_at)
        )
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    events = (
        await session.scalars(
            select(AlarmHistoryRow)
            .where(
                AlarmHistoryRow.alarm_id.in_(ids),
                AlarmHistoryRow.action.in_(("accepted", "resolved")),
            )
            .order_by(AlarmHistoryRow.alarm_id, AlarmHistoryRow.seq)
        )
    ).all()
    accepted: dict[str, AlarmHistoryRow] = {}
    resolved: dict[str, AlarmHistoryRow] = {}
    for event in events:
        target = accepted if event.action == "accepted" else resolved
        target.setdefault(event.alarm_id, event)
    # A home "has a speech unit" when its resident's tablet is paired now (the pairing's
    # history is not kept; a tablet paired later counts for earlier alarms too).
    talking = {
        str(rid)
        for rid in await session.scalars(
            select(TabletCredential.resident_id).where(
                TabletCredential.resident_id.in_(
                    [int(r.resident_id) for r in rows if r.resident_id.isdigit()]
                )
            )
        )
    }
    records = []
    for row in rows:
        acc = accepted.get(row.id)
        res = resolved.get(row.id)
        records.append(
            AlarmRecord(
                id=row.id,
                rule=row.rule,
                category=row.category,
                priority=row.priority,
                raised_at=row.raised_at,
                accepted_at=acc.at if acc else None,
                accepted_by=(acc.actor_name or acc.actor_id) if acc else None,
                resolved_at=res.at if res else None,
                outcome=row.outcome,
                voice_contact_at=_voice_contact(row.data),
                speech_unit=row.resident_id in talking,
            )
        )
    return records


def _voice_contact(data: dict[str, Any]) -> datetime | None:
    """The stored alarm's first voice contact (``alerts.Alarm.voice_contact_at``)."""
    value = data.get("voice_contact_at") if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
