"""Open data for research: aggregated, anonymised tables per ABSS area and month.

Three tables, written as CSV and Parquet:

- ``residents_served``: residents with an active service during the month.
- ``alarms``: alarms by kind and outcome (count, and how many residents they came from).
- ``answer_times``: median and 90th percentile seconds to answer, share answered in 60 s
  (no alarm count here: with the ``alarms`` table it would give another total to subtract).

Disclosure control (k-anonymity on people, default k = 10, never below 3; ADR 0063):

1. Counting people, not events: every published row rests on at least ``k`` distinct
   residents. A row from fewer is **not published at all** (no keys: its area, month, kind and
   outcome would already say that someone had that alarm).
2. An area-month with fewer than ``k`` residents served is merged into the month's
   :data:`POOLED_AREA` (all small areas together); if the pool itself has fewer than ``k``
   residents it is omitted with everything it holds.
3. Secondary suppression against differencing across every table published together: for
   any published row A and any set of published rows B1..Bn whose residents are pairwise
   disjoint and all among A's, ``|A| - (|B1| + ... + |Bn|)`` (the residents of A in none of
   them) is 0 or at least ``k``. A violating row is withdrawn (the smallest of the set), until
   none is left; withdrawing a row never creates a new violation, so this ends.
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
# Below this even a "k-anonymous" table is a list of pairs of neighbours.
MIN_K = 3
# The coarser area that small area-months are merged into.
POOLED_AREA = "other-small-areas"
# How many disjoint sets of rows a differencing check may try under one row before it
# gives up and withdraws a row anyway (safe side; never reached by realistic tables).
_MAX_COMBINATIONS = 20_000


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
    """One output table: column names and its published rows."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    # The residents behind each row (kept in memory for checks, never written).
    people: list[frozenset[str]] = field(default_factory=list)
    # Whether the rows publish a count of those residents (differencing works on counts).
    counts_people: bool = True


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


def check_k(k: int) -> None:
    """Refuse a ``k`` below :data:`MIN_K` (a table of pairs is not anonymous)."""
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}, got {k}")


def _violation_under(
    a: int,
    people: Sequence[frozenset[str]],
    nested: Sequence[int],
    k: int,
    budget: int,
) -> list[int] | None:
    """A set of disjoint rows among ``nested`` that leaves 1..k-1 of row ``a``'s residents."""
    whole = people[a]
    # Most residents the rows from a position on could still cover: prunes hopeless branches.
    reach = [0] * (len(nested) + 1)
    for pos in range(len(nested) - 1, -1, -1):
        reach[pos] = reach[pos + 1] + len(people[nested[pos]])
    tried = 0
    stack: list[tuple[int, list[int], frozenset[str]]] = [(0, [], frozenset())]
    while stack:
        start, chosen, covered = stack.pop()
        tried += 1
        left = len(whole) - len(covered)
        if chosen and (0 < left < k or tried > budget):
            return [a, *chosen]
        if left == 0 or left - reach[start] >= k:
            continue
        for pos in range(start, len(nested)):
            b = nested[pos]
            if people[b].isdisjoint(covered):
                stack.append((pos + 1, [*chosen, b], covered | people[b]))
    return None


def _nested_rows(people: Sequence[frozenset[str]]) -> list[list[int]]:
    """For each row, the other non-empty rows whose residents are all among its own."""
    # A row inside A has its smallest resident in A: index rows by that one resident.
    by_anchor: dict[str, list[int]] = defaultdict(list)
    for index, members in enumerate(people):
        if members:
            by_anchor[min(members)].append(index)
    nested: list[list[int]] = []
    for a, whole in enumerate(people):
        inside = [
            b
            for resident in whole
            for b in by_anchor.get(resident, ())
            if b != a and len(people[b]) <= len(whole) and people[b] <= whole
        ]
        nested.append(sorted(inside, key=lambda b: (-len(people[b]), b)))
    return nested


def find_difference(
    people: Sequence[frozenset[str]], k: int, budget: int = _MAX_COMBINATIONS
) -> list[int] | None:
    """A disclosing combination of rows, or ``None``.

    Returns ``[a, b1, ..., bn]`` (indexes into ``people``) when the rows ``b1..bn`` have
    pairwise disjoint residents, all among row ``a``'s, and ``|a| - sum |bi|`` is between 1 and
    ``k - 1``: subtracting the published counts would single out fewer than ``k`` residents.
    Past ``budget`` combinations under one row it answers with the last one tried (safe side).
    """
    nested = _nested_rows(people)
    for a in range(len(people)):
        found = _violation_under(a, people, nested[a], k, budget)
        if found is not None:
            return found
    return None


def _withdraw_for_differencing(tables: Sequence[Table], k: int) -> None:
    """Secondary suppression across all ``tables`` together (see the module docstring)."""
    where = [
        (t, r)
        for t, table in enumerate(tables)
        if table.counts_people
        for r in range(len(table.rows))
    ]
    people = [tables[t].people[r] for t, r in where]
    nested = _nested_rows(people)
    withdrawn: set[int] = set()
    for a in sorted(range(len(people)), key=lambda i: (-len(people[i]), i)):
        if a in withdrawn:
            continue
        # Withdrawing a row only removes combinations, so a row that passes stays passing.
        while True:
            live = [b for b in nested[a] if b not in withdrawn]
            found = _violation_under(a, people, live, k, _MAX_COMBINATIONS)
            if found is None:
                break
            # The smallest subtracted row goes, alarm cells before area totals (the totals
            # are what most users need).
            withdrawn.add(min(found[1:], key=lambda i: (len(people[i]), -where[i][0], i)))
    for t, table in enumerate(tables):
        gone = {r for i, (tt, r) in enumerate(where) if tt == t and i in withdrawn}
        table.rows[:] = [row for r, row in enumerate(table.rows) if r not in gone]
        table.people[:] = [p for r, p in enumerate(table.people) if r not in gone]


def build_tables(
    services: Iterable[ServicePeriod],
    alarms: Iterable[AlarmFact],
    months: Sequence[str],
    k: int = DEFAULT_K,
) -> list[Table]:
    """The three tables for ``months`` (``YYYY-MM``), holding only rows safe to publish."""
    check_k(k)
    wanted = set(months)
    served: dict[tuple[str, str], set[str]] = defaultdict(set)
    last = date.fromisoformat(f"{max(months)}-01")
    for period in services:
        end = period.end or last
        for month in _months_between(period.start, end):
            if month in wanted:
                served[(period.abss_area, month)].add(period.resident_id)

    def coarse(area: str, month: str) -> str:
        # Small area-months (and alarms from an area-month nobody was served in) are pooled.
        return area if len(served.get((area, month), ())) >= k else POOLED_AREA

    pooled: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (area, month), members in served.items():
        pooled[(coarse(area, month), month)] |= members
    # A pool (or area) still under k is omitted with everything in it.
    kept = {key for key, members in pooled.items() if len(members) >= k}

    residents = Table("residents_served", ["abss_area", "month", "residents"])
    for (area, month), members in sorted(pooled.items()):
        if (area, month) in kept:
            residents.rows.append({"abss_area": area, "month": month, "residents": len(members)})
            residents.people.append(frozenset(members))

    by_cell: dict[tuple[str, str, str, str], list[AlarmFact]] = defaultdict(list)
    by_area_month: dict[tuple[str, str], list[AlarmFact]] = defaultdict(list)
    for alarm in alarms:
        month = _month(alarm.raised_at)
        area = coarse(alarm.abss_area, month)
        if month not in wanted or (area, month) not in kept:
            continue
        by_cell[(area, month, alarm.kind, alarm.outcome)].append(alarm)
        by_area_month[(area, month)].append(alarm)

    alarm_table = Table(
        "alarms", ["abss_area", "month", "alarm_kind", "outcome", "alarms", "residents"]
    )
    for (area, month, kind, outcome), facts in sorted(by_cell.items()):
        people = frozenset(a.resident_id for a in facts)
        if len(people) < k:
            continue  # not even the keys: they would say that someone had this alarm
        alarm_table.rows.append(
            {
                "abss_area": area,
                "month": month,
                "alarm_kind": kind,
                "outcome": outcome,
                "alarms": len(facts),
                "residents": len(people),
            }
        )
        alarm_table.people.append(people)

    answers = Table(
        "answer_times",
        ["abss_area", "month", "answer_p50_s", "answer_p90_s", "answered_within_60s_share"],
        counts_people=False,
    )
    for (area, month), facts in sorted(by_area_month.items()):
        seconds = [float(a.answer_seconds) for a in facts if a.answer_seconds is not None]
        people = frozenset(a.resident_id for a in facts if a.answer_seconds is not None)
        if len(people) < k:
            continue
        answers.rows.append(
            {
                "abss_area": area,
                "month": month,
                "answer_p50_s": round(statistics.median(seconds), 1),
                "answer_p90_s": round(_percentile(seconds, 0.9), 1),
                "answered_within_60s_share": round(
                    sum(1 for s in seconds if s <= 60) / len(seconds), 3
                ),
            }
        )
        answers.people.append(people)
    tables = [residents, alarm_table, answers]
    _withdraw_for_differencing(tables, k)
    return tables


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
                    "every row rests on at least k distinct residents; rows from fewer are "
                    "not published at all; area-months with fewer than k residents served "
                    f"are merged into '{POOLED_AREA}' (omitted if still fewer than k); rows "
                    "are withdrawn until no published count minus other published counts "
                    "leaves between 1 and k-1 residents, across all tables"
                ),
                "licence": "CC BY 4.0",
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    written.append(meta)
    return written
