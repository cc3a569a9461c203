"""Open data: the tables, the files, and the proof that no row can single out a resident."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from integrations.wsocial.cli import demo_facts
from integrations.wsocial.opendata import (
    AlarmFact,
    ServicePeriod,
    Table,
    build_tables,
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


def _assert_k_anonymous(tables: list[Table], k: int) -> None:
    small_area_months = {
        (row["abss_area"], row["month"]) for row in tables[0].rows if row["suppressed"]
    }
    for table in tables:
        groups: dict[tuple[str, str], list[bool]] = {}
        for row, people in zip(table.rows, table.people, strict=True):
            key = (row["abss_area"], row["month"])
            groups.setdefault(key, []).append(row["suppressed"])
            if row["suppressed"]:
                values = [
                    v
                    for c, v in row.items()
                    if c not in ("abss_area", "month", "alarm_kind", "outcome", "suppressed")
                ]
                assert all(v is None for v in values), (table.name, row)
            else:
                assert len(people) >= k, (table.name, row, len(people))
                assert key not in small_area_months, (table.name, row)
        if table.name == "alarms":
            for key, flags in groups.items():
                # Never exactly one hidden cell next to visible ones: no subtraction attack.
                assert not (flags.count(True) == 1 and flags.count(False) > 0), key


@pytest.mark.parametrize("seed", [1, 2])
def test_demo_population_tables_are_k_anonymous(seed: int) -> None:
    services, alarms = demo_facts(MONTHS, seed)
    tables = build_tables(services, alarms, MONTHS, k=K)
    _assert_k_anonymous(tables, K)
    served = tables[0]
    assert any(not r["suppressed"] for r in served.rows)
    assert any(r["suppressed"] for r in served.rows)  # the small area is hidden
    assert {r["month"] for r in served.rows} == set(MONTHS)


def test_one_person_many_alarms_and_tiny_areas_are_suppressed() -> None:
    services, alarms = _adversarial()
    tables = build_tables(services, alarms, ["2026-06"], k=K)
    _assert_k_anonymous(tables, K)
    served, alarm_table, answers = tables
    assert {(r["abss_area"], r["residents"]) for r in served.rows} == {("BIG", 40), ("TINY", None)}
    smoke = next(r for r in alarm_table.rows if r["alarm_kind"] == "smoke")
    assert smoke["suppressed"]  # 50 alarms, but one person
    panic = next(r for r in alarm_table.rows if r["alarm_kind"] == "panic")
    assert panic["suppressed"]  # secondary suppression: the lone hidden cell takes it along
    assert all(r["suppressed"] for r in answers.rows if r["abss_area"] == "TINY")
    big = next(r for r in answers.rows if r["abss_area"] == "BIG")
    assert big["answer_p50_s"] is not None
    assert "answered_alarms" not in answers.columns


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
            if pq_row["suppressed"]:
                assert all(
                    pq_row[c] is None and csv_row[c] == ""
                    for c in table.columns
                    if c not in ("abss_area", "month", "alarm_kind", "outcome", "suppressed")
                )


def test_cli_demo_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "od"
    assert main(["export", "opendata", "--out", str(out), "--demo", "--until", "2026-08"]) == 0
    assert (out / "residents_served.parquet").exists()
    assert "residents_served.csv" in capsys.readouterr().out
    assert main(["export", "opendata", "--out", str(out), "--demo", "--k", "1"]) == 2
    assert "--k must be at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="YYYY-MM"):
        main(["export", "opendata", "--out", str(out), "--demo", "--until", "August"])
    missing = tmp_path / "nowhere" / "x.sqlite"
    url = f"sqlite+aiosqlite:///{missing}"
    assert main(["export", "opendata", "--out", str(out), "--database-url", url]) == 1
    assert "cannot read the hub database" in capsys.readouterr().err


def test_cli_reads_the_hub_outbox(tmp_path: Path) -> None:
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.db.models import Home, Resident
    from hub.outbox import enqueue
    from hub.outbox.consent import set_social_record_consent
    from integrations.wsocial.events import AlarmHandled, ServiceEvent

    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

    async def fill() -> None:
        await upgrade_to_head(url)
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
