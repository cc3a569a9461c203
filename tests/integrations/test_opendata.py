"""Open data: the tables, the files, and the proof that no row can single out a resident."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.wsocial.cli import demo_facts
from integrations.wsocial.opendata import (
    POOLED_AREA,
    AlarmFact,
    ServicePeriod,
    Table,
    build_tables,
    find_difference,
    write_tables,
)
from teleassist.cli import main

MONTHS = ["2026-06", "2026-07", "2026-08"]
K = 10


def _adversarial() -> tuple[list[ServicePeriod], list[AlarmFact]]:
    """A big area with one very active resident, and a tiny area of three people."""
    services = [ServicePeriod(f"big-{i}", "BIG", date(2026, 1, 1)) for i in range(40)]
    services += [ServicePeriod(f"tiny-{i}", "TINY", date(2026, 1, 1)) for i in range(3)]
    t = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    alarms = [
        AlarmFact(f"big-{i}", "BIG", t + timedelta(hours=i), "panic", "false_alarm", 20.0)
        for i in range(40)
    ]
    # One resident, fifty smoke alarms: many events, one person.
    alarms += [
        AlarmFact("big-0", "BIG", t + timedelta(minutes=i), "smoke", "contact_visit", 30.0)
        for i in range(50)
    ]
    alarms += [
        AlarmFact(f"tiny-{i}", "TINY", t + timedelta(hours=i), "fall", "emergency_services", 99.0)
        for i in range(3)
    ]
    return services, alarms


COUNTED = ("residents_served", "alarms")


def _published_people(tables: list[Table]) -> list[tuple[str, dict[str, Any], frozenset[str]]]:
    return [
        (table.name, row, people)
        for table in tables
        for row, people in zip(table.rows, table.people, strict=True)
    ]


def _assert_safe(
    tables: list[Table], k: int, services: list[ServicePeriod], alarms: list[AlarmFact]
) -> None:
    """Checked from the raw facts, not from the module's own bookkeeping."""
    served: dict[tuple[str, str], set[str]] = {}
    for period in services:
        for month in _months(tables):
            first = date.fromisoformat(f"{month}-01")
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            if period.start <= last and (period.end is None or period.end >= first):
                served.setdefault((period.abss_area, month), set()).add(period.resident_id)
    cells: dict[tuple[str, str, str, str], set[str]] = {}
    for alarm in alarms:
        key = (alarm.abss_area, f"{alarm.raised_at:%Y-%m}", alarm.kind, alarm.outcome)
        cells.setdefault(key, set()).add(alarm.resident_id)
    published_areas = {
        (row["abss_area"], row["month"])
        for row in tables[0].rows
        if row["abss_area"] != POOLED_AREA
    }
    for name, row, people in _published_people(tables):
        assert len(people) >= k, (name, row)
        assert "suppressed" not in row
        area, month = row["abss_area"], row["month"]
        if area == POOLED_AREA:
            # The pool holds only residents of areas not published on their own that month.
            for (other, m), members in served.items():
                if m == month and (other, m) in published_areas:
                    assert not (people & members), (name, row)
            continue
        assert len(served.get((area, month), ())) >= k, (name, row)
        if name == "residents_served":
            assert people == served[(area, month)]
            assert row["residents"] == len(people)
        elif name == "alarms":
            assert people == cells[(area, month, row["alarm_kind"], row["outcome"])]
            assert row["residents"] == len(people)
    _assert_no_differencing(tables, k)


def _assert_no_differencing(tables: list[Table], k: int) -> None:
    """Brute force: no published count minus one or two others leaves 1..k-1 residents."""
    counted = [p for name, _, p in _published_people(tables) if name in COUNTED]
    for a, whole in enumerate(counted):
        inside = [b for b, part in enumerate(counted) if b != a and part <= whole]
        for b in inside:
            assert not 0 < len(whole) - len(counted[b]) < k, (whole, counted[b])
            for c in inside:
                if c > b and counted[b].isdisjoint(counted[c]):
                    left = len(whole) - len(counted[b]) - len(counted[c])
                    assert not 0 < left < k, (whole, counted[b], counted[c])


def _months(tables: list[Table]) -> set[str]:
    return {row["month"] for table in tables for row in table.rows} or set(MONTHS)


@pytest.mark.parametrize("seed", [1, 2])
def test_demo_population_tables_are_k_anonymous(seed: int) -> None:
    services, alarms = demo_facts(MONTHS, seed)
    tables = build_tables(services, alarms, MONTHS, k=K)
    _assert_safe(tables, K, services, alarms)
    served = tables[0]
    areas = {r["abss_area"] for r in served.rows}
    assert "ABSS-BCN-01" in areas
    assert "ABSS-VAL-01" not in areas  # six residents: pooled, and the pool alone is too small
    assert POOLED_AREA not in areas
    assert {r["month"] for r in served.rows} == set(MONTHS)
    assert tables[1].rows
    assert tables[2].rows


def test_one_person_many_alarms_and_tiny_areas_are_not_published() -> None:
    services, alarms = _adversarial()
    tables = build_tables(services, alarms, ["2026-06"], k=K)
    _assert_safe(tables, K, services, alarms)
    served, alarm_table, answers = tables
    assert [(r["abss_area"], r["residents"]) for r in served.rows] == [("BIG", 40)]
    # 50 smoke alarms, but one person: not even the row's keys are published.
    assert [r["alarm_kind"] for r in alarm_table.rows] == ["panic"]
    assert "TINY" not in {r["abss_area"] for t in tables for r in t.rows}
    assert [r["abss_area"] for r in answers.rows] == ["BIG"]
    assert "answered_alarms" not in answers.columns


FALL, HOSPITAL = "fall", "hospital_transfer"
JUNE = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
JULY = datetime(2026, 7, 8, 10, 0, tzinfo=UTC)


def _area(name: str, size: int) -> list[ServicePeriod]:
    return [ServicePeriod(f"{name}-{i}", name, date(2026, 1, 1)) for i in range(size)]


def _alarm(resident: str, when: datetime, kind: str, outcome: str) -> AlarmFact:
    return AlarmFact(resident, resident.rsplit("-", 1)[0], when, kind, outcome, 25.0)


def _fall_rows(tables: list[Table]) -> list[dict[str, Any]]:
    return [r for r in tables[1].rows if r["alarm_kind"] == FALL]


def test_a_lone_fall_to_hospital_in_a_small_village_is_never_visible() -> None:
    """Six residents in a village (k = 10): the one fall → hospital leaves no trace."""
    services = _area("ABSS-VAL-01", 6) + _area("ABSS-BCN-01", 30)
    alarms = [_alarm("ABSS-VAL-01-3", JUNE, FALL, HOSPITAL)]
    alarms += [_alarm(f"ABSS-BCN-01-{i}", JUNE, "panic", "false_alarm") for i in range(30)]
    tables = build_tables(services, alarms, ["2026-06"], k=K)
    _assert_safe(tables, K, services, alarms)
    assert not _fall_rows(tables)
    assert "ABSS-VAL-01" not in {r["abss_area"] for t in tables for r in t.rows}
    assert POOLED_AREA not in {r["abss_area"] for t in tables for r in t.rows}


def test_small_areas_are_pooled_and_the_lone_fall_stays_hidden_in_the_pool() -> None:
    services = _area("ABSS-VAL-01", 6) + _area("ABSS-PRI-01", 7) + _area("ABSS-BCN-01", 30)
    alarms = [_alarm("ABSS-VAL-01-0", JUNE, FALL, HOSPITAL)]
    alarms += [_alarm(f"ABSS-PRI-01-{i}", JUNE, "panic", "false_alarm") for i in range(7)]
    alarms += [_alarm(f"ABSS-VAL-01-{i}", JUNE, "panic", "false_alarm") for i in range(1, 6)]
    tables = build_tables(services, alarms, ["2026-06"], k=K)
    _assert_safe(tables, K, services, alarms)
    served = {r["abss_area"]: r["residents"] for r in tables[0].rows}
    assert served == {"ABSS-BCN-01": 30, POOLED_AREA: 13}
    assert not _fall_rows(tables)
    # 13 served, 12 with a panic: the panic row would single out the one without a panic.
    assert not [r for r in tables[1].rows if r["abss_area"] == POOLED_AREA]


def test_a_fall_that_shows_only_as_a_difference_between_months_is_withdrawn() -> None:
    """Five falls → hospital in June, the same five and one more in July (k = 5).

    Each row alone has five or more people, but July minus June is the one new fall.
    """
    services = _area("ABSS-GIR-01", 25)
    alarms = [_alarm(f"ABSS-GIR-01-{i}", JUNE, FALL, HOSPITAL) for i in range(5)]
    alarms += [_alarm(f"ABSS-GIR-01-{i}", JULY, FALL, HOSPITAL) for i in range(6)]
    tables = build_tables(services, alarms, ["2026-06", "2026-07"], k=5)
    _assert_safe(tables, 5, services, alarms)
    assert len(_fall_rows(tables)) == 1


def test_a_total_minus_two_cells_cannot_isolate_one_resident() -> None:
    """12 served; 5 and 6 residents in two cells of other people: 12 - 5 - 6 = 1."""
    services = _area("ABSS-LLE-01", 12)
    alarms = [_alarm(f"ABSS-LLE-01-{i}", JUNE, "panic", "false_alarm") for i in range(5)]
    alarms += [_alarm(f"ABSS-LLE-01-{i}", JUNE, "smoke", "contact_visit") for i in range(5, 11)]
    tables = build_tables(services, alarms, ["2026-06"], k=5)
    _assert_safe(tables, 5, services, alarms)
    assert [r["residents"] for r in tables[0].rows] == [12]
    assert len(tables[1].rows) == 1  # the smaller cell went, the other stays


def test_find_difference_names_the_rows() -> None:
    seven, abc, defg = frozenset("abcdefg"), frozenset("abc"), frozenset("defg")
    # 7 - 3 = 4 and 7 - 4 = 3 are fine for k = 3, but 7 - 3 - 4 = 0 too; with "def": 1 left.
    assert find_difference([seven, abc, defg], 3) is None
    assert sorted(find_difference([seven, abc, frozenset("def")], 3) or []) == [0, 1, 2]
    assert find_difference([seven, abc], 5) == [0, 1]  # 7 - 3 = 4 < 5
    assert find_difference([abc, frozenset("abc")], 3) is None  # 0 left: nobody singled out
    assert find_difference([frozenset("abcdef"), frozenset("xyz")], 3) is None  # not nested
    # Past the budget it answers with a combination anyway (the safe side).
    # Twelve in four threes: every remainder is 0, 3, 6 or 9, so nothing singles anyone out...
    twelve = [frozenset("abcdefghijkl"), abc, frozenset("def"), frozenset("ghi"), frozenset("jkl")]
    assert find_difference(twelve, 3) is None
    # ...but past the budget it answers with a combination anyway (the safe side).
    assert find_difference(twelve, 3, budget=1)
    # Parts too small to ever come within k of the whole are not searched.
    assert find_difference([frozenset("abcdefghijkl"), abc, frozenset("def")], 3, budget=1) is None


@pytest.mark.parametrize("k", [2, 1, 0, -5])
def test_k_below_three_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        build_tables([], [], MONTHS, k=k)


KINDS = [("panic", "false_alarm"), (FALL, HOSPITAL), ("smoke", "contact_visit")]


@st.composite
def _populations(draw: st.DrawFn) -> tuple[list[ServicePeriod], list[AlarmFact], int]:
    k = draw(st.integers(min_value=3, max_value=6))
    sizes = draw(st.lists(st.integers(min_value=0, max_value=25), min_size=1, max_size=4))
    services: list[ServicePeriod] = []
    for number, size in enumerate(sizes):
        for i in range(size):
            start = draw(st.sampled_from([date(2026, 1, 1), date(2026, 7, 10)]))
            end = draw(st.sampled_from([None, date(2026, 6, 20)]))
            if end is not None and end < start:
                end = None
            services.append(ServicePeriod(f"A{number}-{i}", f"A{number}", start, end))
    alarms: list[AlarmFact] = []
    for period in services:
        for when in draw(st.lists(st.sampled_from([JUNE, JULY]), max_size=3)):
            kind, outcome = draw(st.sampled_from(KINDS))
            alarms.append(
                AlarmFact(period.resident_id, period.abss_area, when, kind, outcome, 30.0)
            )
    return services, alarms, k


@settings(max_examples=150, deadline=None)
@given(_populations())
def test_random_populations_never_single_anyone_out(
    population: tuple[list[ServicePeriod], list[AlarmFact], int],
) -> None:
    services, alarms, k = population
    tables = build_tables(services, alarms, ["2026-06", "2026-07"], k=k)
    _assert_safe(tables, k, services, alarms)


def test_files_hold_no_identifiers_and_csv_matches_parquet(tmp_path: Path) -> None:
    services, alarms = demo_facts(MONTHS, 1)
    tables = build_tables(services, alarms, MONTHS, k=K)
    written = write_tables(tables, tmp_path, K)
    assert {p.name for p in written} >= {"alarms.csv", "alarms.parquet", "metadata.json"}
    identifiers = {s.resident_id for s in services}
    for path in written:
        text = path.read_bytes()
        assert b"sim-" not in text, path
        assert not any(i.encode() in text for i in list(identifiers)[:50])
    for table in tables:
        with (tmp_path / f"{table.name}.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        parquet = pq.read_table(tmp_path / f"{table.name}.parquet").to_pylist()
        assert len(rows) == len(parquet) == len(table.rows)
        assert list(rows[0]) == table.columns
        for csv_row, pq_row in zip(rows, parquet, strict=True):
            # Nothing withheld inside a published row: rows are whole or absent.
            assert all(pq_row[c] is not None and csv_row[c] != "" for c in table.columns)


def test_cli_demo_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "od"
    assert main(["export", "opendata", "--out", str(out), "--demo", "--until", "2026-08"]) == 0
    assert (out / "residents_served.parquet").exists()
    assert "residents_served.csv" in capsys.readouterr().out
    assert main(["export", "opendata", "--out", str(out), "--demo", "--k", "2"]) == 2
    assert "--k must be at least 3" in capsys.readouterr().err
    assert main(["export", "opendata", "--out", str(out), "--demo", "--k", "3"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit, match="YYYY-MM"):
        main(["export", "opendata", "--out", str(out), "--demo", "--until", "August"])
    missing = tmp_path / "nowhere" / "x.sqlite"
    url = f"sqlite+aiosqlite:///{missing}"
    assert main(["export", "opendata", "--out", str(out), "--database-url", url]) == 1
    assert "cannot read the hub database" in capsys.readouterr().err


def test_cli_reads_the_hub_outbox(tmp_path: Path, database_url: str) -> None:
    """On SQLite and PostgreSQL: the export reads the outbox and each resident's area."""
    from hub.db import make_engine, make_sessionmaker
    from hub.db.models import Home, Resident
    from hub.outbox import enqueue
    from hub.outbox.consent import set_social_record_consent
    from integrations.wsocial.events import AlarmHandled, ServiceEvent

    url = database_url
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

    async def fill() -> None:
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as session:
            home = Home(address="c/ Major 1", abss_area="ABSS-X")
            session.add(home)
            await session.flush()
            for number in range(13):
                resident = Resident(
                    home_id=home.id, name=f"Persona {number}", consent={"wsocial_export": True}
                )
                session.add(resident)
                await session.flush()
                rid = str(resident.id)
                await enqueue(
                    session,
                    ServiceEvent(
                        resident_id=rid,
                        occurred_at=start,
                        service_id=f"s{rid}",
                        status="active",
                        started_at=start,
                    ),
                )
                raised = start + timedelta(days=40, hours=number)
                await enqueue(
                    session,
                    AlarmHandled(
                        resident_id=rid,
                        occurred_at=raised,
                        alarm_id=f"a{rid}",
                        alarm_kind="panic",
                        raised_at=raised,
                        answered_at=raised + timedelta(seconds=30),
                        closed_at=raised + timedelta(minutes=5),
                        outcome="false_alarm",
                    ),
                )
            # The thirteenth withdrew consent before anything was sent: not counted.
            await set_social_record_consent(
                session, resident, False, actor="sonia", reason="withdrew", now=start
            )
            await session.commit()
        await engine.dispose()

    asyncio.run(fill())
    out = tmp_path / "od"
    args = ["export", "opendata", "--out", str(out), "--database-url", url]
    assert main([*args, "--until", "2026-06", "--months", "2"]) == 0
    with (out / "residents_served.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["abss_area"], r["month"], r["residents"]) for r in rows] == [
        ("ABSS-X", "2026-05", "12"),
        ("ABSS-X", "2026-06", "12"),
    ]
    with (out / "alarms.csv").open(encoding="utf-8") as handle:
        (alarm_row,) = list(csv.DictReader(handle))
    assert (alarm_row["month"], alarm_row["alarms"], alarm_row["residents"]) == (
        "2026-06",
        "12",
        "12",
    )
    assert "Persona" not in (out / "alarms.csv").read_text(encoding="utf-8")
