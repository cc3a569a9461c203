"""Open data for research: aggregated, anonymised tables per ABSS area and month.

Three tables, written as CSV and Parquet:

- ``residents_served``: residents with an active service during the month.
- ``alarms``: alarms by kind and outcome (count, and how many residents they came from).
- ``answer_times``: median and 90th percentile seconds to answer, share answered in 60 s
  (no alarm count here: with the ``alarms`` table it would reveal suppressed cells).

Disclosure control (k-anonymity on people, default k = 10):

1. Every published number must come from at least ``k`` distinct residents; a cell from
   fewer is *suppressed* (empty value, ``suppressed = true``).
2. An area-month with fewer than ``k`` residents served is suppressed in every table.
3. Secondary suppression: within an area-month of the ``alarms`` table, a lone suppressed
   cell takes the next smallest cell with it, so a known total cannot reveal it by
   subtraction.
4. No identifiers: the only columns are area, month, codes and aggregates.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_K = 10


@dataclass(frozen=True)
class ServicePeriod:
    """A resident's service (active from ``start`` until ``end`` or still running)."""

    resident_id: str
    abss_area: str
    start: date
    end: date | None = None


@dataclass(frozen=True)
class AlarmFact:
    """One handled alarm."""

    resident_id: str
    abss_area: str
    raised_at: datetime
    kind: str
    outcome: str
    answer_seconds: float | None


@dataclass
class Table:
    """One output table: column names and rows (``None`` = suppressed value)."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    # The residents behind each row (kept in memory for checks, never written).
    people: list[frozenset[str]] = field(default_factory=list)


def _month(moment: date | datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _months_between(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(share * 100) - 1]


def build_tables(
    services: Iterable[ServicePeriod],
    alarms: Iterable[AlarmFact],
    months: Sequence[str],
    k: int = DEFAULT_K,
) -> list[Table]:
    """The three tables for ``months`` (``YYYY-MM``), with suppression applied."""
    if k < 2:
        raise ValueError("k must be at least 2")
    wanted = set(months)
    served: dict[tuple[str, str], set[str]] = defaultdict(set)
    last = date.fromisoformat(f"{max(months)}-01")
    for period in services:
        end = period.end or last
        for month in _months_between(period.start, end):
            if month in wanted:
                served[(period.abss_area, month)].add(period.resident_id)
    small = {key for key, people in served.items() if len(people) < k}

    residents = Table("residents_served", ["abss_area", "month", "residents", "suppressed"])
    for (area, month), members in sorted(served.items()):
        hidden = (area, month) in small
        residents.rows.append(
            {
                "abss_area": area,
                "month": month,
                "residents": None if hidden else len(members),
                "suppressed": hidden,
            }
        )
        residents.people.append(frozenset(members))

    by_cell: dict[tuple[str, str, str, str], list[AlarmFact]] = defaultdict(list)
    by_area_month: dict[tuple[str, str], list[AlarmFact]] = defaultdict(list)
    for alarm in alarms:
        month = _month(alarm.raised_at)
        if month not in wanted:
            continue
        by_cell[(alarm.abss_area, month, alarm.kind, alarm.outcome)].append(alarm)
        by_area_month[(alarm.abss_area, month)].append(alarm)

    alarm_table = Table(
        "alarms",
        ["abss_area", "month", "alarm_kind", "outcome", "alarms", "residents", "suppressed"],
    )
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (area, month, kind, outcome), facts in sorted(by_cell.items()):
        people = frozenset(a.resident_id for a in facts)
        hidden = len(people) < k or (area, month) in small
        groups[(area, month)].append(len(alarm_table.rows))
        alarm_table.rows.append(
            {
                "abss_area": area,
                "month": month,
                "alarm_kind": kind,
                "outcome": outcome,
                "alarms": None if hidden else len(facts),
                "residents": None if hidden else len(people),
                "suppressed": hidden,
            }
        )
        alarm_table.people.append(people)
    for indexes in groups.values():
        hidden_rows = [i for i in indexes if alarm_table.rows[i]["suppressed"]]
        visible = [i for i in indexes if not alarm_table.rows[i]["suppressed"]]
        if len(hidden_rows) == 1 and visible:
            victim = min(visible, key=lambda i: alarm_table.rows[i]["alarms"])
            alarm_table.rows[victim].update(alarms=None, residents=None, suppressed=True)

    answers = Table(
        "answer_times",
        [
            "abss_area",
            "month",
            "answer_p50_s",
            "answer_p90_s",
            "answered_within_60s_share",
            "suppressed",
        ],
    )
    for (area, month), facts in sorted(by_area_month.items()):
        timed = [a for a in facts if a.answer_seconds is not None]
        people = frozenset(a.resident_id for a in timed)
        hidden = len(people) < k or (area, month) in small or not timed
        seconds = [float(a.answer_seconds) for a in timed if a.answer_seconds is not None]
        answers.rows.append(
            {
                "abss_area": area,
                "month": month,
                "answer_p50_s": None if hidden else round(statistics.median(seconds), 1),
                "answer_p90_s": None if hidden else round(_percentile(seconds, 0.9), 1),
                "answered_within_60s_share": None
                if hidden
                else round(sum(1 for s in seconds if s <= 60) / len(seconds), 3),
                "suppressed": hidden,
            }
        )
        answers.people.append(people)
    return [residents, alarm_table, answers]


def facts_from_events(
    events: Iterable[Any], areas: dict[str, str]
) -> tuple[list[ServicePeriod], list[AlarmFact]]:
    """Service periods and alarms from outbox events (the latest state of each service)."""
    from integrations.wsocial.events import AlarmHandled, ServiceEvent

    latest: dict[str, ServiceEvent] = {}
    alarms: dict[str, AlarmFact] = {}
    for event in events:
        area = areas.get(event.resident_id, "unknown")
        if isinstance(event, ServiceEvent):
            previous = latest.get(event.service_id)
            if previous is None or event.occurred_at >= previous.occurred_at:
                latest[event.service_id] = event
        elif isinstance(event, AlarmHandled):
            answer = (
                None
                if event.answered_at is None
                else (event.answered_at - event.raised_at).total_seconds()
            )
            alarms[event.alarm_id] = AlarmFact(
                event.resident_id, area, event.raised_at, event.alarm_kind, event.outcome, answer
            )
    services = [
        ServicePeriod(
            e.resident_id,
            areas.get(e.resident_id, "unknown"),
            e.started_at.date(),
            e.ended_at.date() if e.ended_at else None,
        )
        for e in latest.values()
    ]
    return services, list(alarms.values())


_ARROW_TYPES = {
    "abss_area": pa.string(),
    "month": pa.string(),
    "alarm_kind": pa.string(),
    "outcome": pa.string(),
    "suppressed": pa.bool_(),
    "answer_p50_s": pa.float64(),
    "answer_p90_s": pa.float64(),
    "answered_within_60s_share": pa.float64(),
}


def write_tables(tables: Sequence[Table], out_dir: Path, k: int) -> list[Path]:
    """Write each table as ``NAME.csv`` and ``NAME.parquet``, plus ``metadata.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for table in tables:
        csv_path = out_dir / f"{table.name}.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=table.columns)
            writer.writeheader()
            for row in table.rows:
                writer.writerow({c: "" if row[c] is None else row[c] for c in table.columns})
        schema = pa.schema([(c, _ARROW_TYPES.get(c, pa.int64())) for c in table.columns])
        columns = {c: [row[c] for row in table.rows] for c in table.columns}
        parquet_path = out_dir / f"{table.name}.parquet"
        pq.write_table(pa.Table.from_pydict(columns, schema=schema), parquet_path)
        written += [csv_path, parquet_path]
    meta = out_dir / "metadata.json"
    meta.write_text(
        json.dumps(
            {
                "publisher": "Teleassist",
                "k_anonymity": k,
                "tables": {t.name: t.columns for t in tables},
                "suppression": (
                    "cells from fewer than k residents are empty with suppressed=true; "
                    "area-months with fewer than k residents served are suppressed "
                    "everywhere; a lone suppressed alarm cell hides the next smallest one"
                ),
                "licence": "CC BY 4.0",
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    written.append(meta)
    return written
