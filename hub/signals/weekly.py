"""The weekly social-record job for one resident: summaries, signals and flag changes.

The hub's weekly job (:mod:`hub.signals.job`) gathers the resident's weekly counts
(:class:`WeeklyInputs`: activity and night events from the stored device events,
check-ins, alarms and falls, messages, calls and group sessions from the family network;
:mod:`hub.signals.gather`, :mod:`hub.signals.weekdata`) and enqueues :func:`week_events`.
Event ids are derived from resident, week and signal, so running the job twice for the
same week enqueues nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub.outbox.store import enqueue
from integrations.wsocial.events import (
    ActivitySummary,
    AnySocialEvent,
    CheckInSummary,
    RiskFlag,
    RiskKind,
)
from integrations.wsocial.signals import Thresholds, WeeklyInputs, assess_resident

DEFAULT_THRESHOLDS = Thresholds()


def week_events(
    resident_id: str,
    weeks: Sequence[WeeklyInputs],
    *,
    lives_alone: bool,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    activity_sensors: bool = True,
    flags_sent: Mapping[RiskKind, RiskFlag] | None = None,
) -> list[tuple[str, AnySocialEvent]]:
    """(event id, event) for the LAST of ``weeks`` (the earlier ones are its baseline).

    Without ``activity_sensors`` (no motion, door or bed sensor) there is no activity summary.
    ``flags_sent`` is the last flag the social record got for each risk; a flag standing at the
    end of ``weeks``, set in an earlier week and never sent (the job's first run for this
    resident, or set after the last one sent was cleared) is sent too, with the id its own week
    would have given it.
    """
    if not weeks:
        return []
    assessment = assess_resident(resident_id, weeks, lives_alone=lives_alone, thresholds=thresholds)
    week = max(weeks, key=lambda w: w.week_start)
    result = assessment.weeks[-1]
    end = datetime.combine(week.week_start + timedelta(days=7), time(0), tzinfo=UTC)
    tag = f"{resident_id}-{week.week_start:%Y%m%d}"
    events: list[tuple[str, AnySocialEvent]] = []
    if week.check_ins_expected:
        # No summary for a resident without daily check-ins: "0 of 1" would be untrue.
        events.append(
            (
                f"checkins-{tag}",
                CheckInSummary(
                    resident_id=resident_id,
                    occurred_at=end,
                    week_start=week.week_start,
                    expected=week.check_ins_expected,
                    done=week.check_ins_done,
                ),
            )
        )
    if activity_sensors:
        events.append(
            (
                f"activity-{tag}",
                ActivitySummary(
                    resident_id=resident_id,
                    occurred_at=end,
                    week_start=week.week_start,
                    active_hours_per_day=week.active_hours_per_day,
                    night_events_per_night=week.night_events_per_night,
                    alarms=week.alarms,
                ),
            )
        )
    events += [(f"signal-{s.risk}-{tag}", s) for s in result.raised]
    events += [
        (f"flag-{f.risk}-{'on' if f.active else 'off'}-{tag}", f) for f in result.flag_changes
    ]
    if flags_sent is not None:
        changed = {f.risk for f in result.flag_changes}
        for risk, since in assessment.active_flags.items():
            last = flags_sent.get(risk)
            if risk in changed:
                continue
            if last is not None and (last.active or last.until is None or since <= last.until):
                continue  # the record has it on, or cleared after this setting
            set_week = since.date() - timedelta(days=7)  # ``since`` is that week's end
            flag = RiskFlag(
                resident_id=resident_id, occurred_at=since, risk=risk, active=True, since=since
            )
            events.append((f"flag-{risk}-on-{resident_id}-{set_week:%Y%m%d}", flag))
    return [(event_id[:64], event) for event_id, event in events]


async def enqueue_week(
    session: AsyncSession,
    resident_id: str,
    weeks: Sequence[WeeklyInputs],
    *,
    lives_alone: bool,
    now: datetime | None = None,
) -> int:
    """Enqueue the last week's events in the caller's transaction; return how many.

    None for a resident without consent to the social record (see :func:`enqueue`).
    """
    added = 0
    for event_id, event in week_events(resident_id, weeks, lives_alone=lives_alone):
        if await enqueue(session, event, event_id=event_id, now=now) is not None:
            added += 1
    return added
