"""``/metrics`` reports open alarms, the oldest alarm's age and the outbox backlog."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.appkeys import SETTINGS
from hub.auth import Role
from hub.db.models import Home, Resident
from protocol import Panic
from tests.deploy.test_prometheus import exported_metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_show_open_alarms_and_their_age(
    hub_client, hub_sessionmaker, hub_clock, monkeypatch, auth_headers
) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")
    headers = await auth_headers(Role.SUPERVISOR)
    empty = await hub_client.get("/metrics", headers=headers)
    assert empty.status == 200
    assert empty.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    before = _samples(await empty.text())
    assert before[("teleassist_alarm_oldest_open_age_seconds", ())] == 0.0

    alarm = await _panic(hub_client, hub_sessionmaker, hub_clock, "metrics-panic-1")
    hub_clock.advance(timedelta(seconds=90))

    after = _samples(await (await hub_client.get("/metrics", headers=headers)).text())
    priority = str(alarm.priority)
    assert after[("teleassist_alarms_open", (("priority", priority),))] == 1
    assert after[("teleassist_alarm_oldest_open_age_seconds", ())] == 90.0


async def test_metrics_are_not_public(hub_client, auth_headers) -> None:
    """Nobody anonymous, no operator; an admin or a supervisor. Without a configured scrape
    token, no bearer value opens it."""
    assert (await hub_client.get("/metrics")).status == 401
    assert (await hub_client.get("/metrics", headers={"Authorization": "Bearer "})).status == 401
    assert (
        await hub_client.get("/metrics", headers=await auth_headers(Role.OPERATOR))
    ).status == 403
    for role in (Role.ADMIN, Role.SUPERVISOR):
        assert (await hub_client.get("/metrics", headers=await auth_headers(role))).status == 200


async def test_metrics_show_the_timer_loop_and_on_postgres_the_fan_out(
    hub_client, hub_settings, auth_headers
) -> None:
    headers = await auth_headers(Role.ADMIN)
    samples = _samples(await (await hub_client.get("/metrics", headers=headers)).text())
    assert ("teleassist_alarm_timer_passes_total", ()) in samples
    listening = samples.get(("teleassist_alarm_fanout_listening", ()))
    if hub_settings.database_url.startswith("postgresql"):
        # The hub starts serving once its LISTEN is in force.
        assert listening == 1.0
        assert samples[("teleassist_alarm_fanout_reconnects_total", ())] == 0.0
    else:  # SQLite serves one worker: nothing to fan out
        assert listening is None


async def _panic(hub_client, hub_sessionmaker, hub_clock, message_id: str):
    async with hub_sessionmaker() as session:
        home = Home(address="Carrer Nou 5, Girona")
        session.add(home)
        await session.flush()
        resident = Resident(home_id=home.id, name="Rosa Pons", language="ca")
        session.add(resident)
        await session.commit()
        home_id, resident_id = str(home.id), str(resident.id)
    event = HomeEvent(
        home_id=home_id,
        resident_id=resident_id,
        device_id=f"{home_id}-pendant",
        device_type=DeviceType.PENDANT,
        message_id=message_id,
        at=hub_clock(),
        body=Panic(),
    )
    (change,) = await hub_client.app[ALARM_ENGINE].handle_event(event)
    return change.alarm


async def test_an_alarm_waiting_for_an_operator_is_aged_until_accepted(
    hub_client, hub_sessionmaker, hub_clock, monkeypatch, auth_headers
) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")
    staff = await auth_headers(Role.SUPERVISOR)
    before = _samples(await (await hub_client.get("/metrics", headers=staff)).text())
    assert before[("teleassist_alarm_oldest_unclaimed_age_seconds", ())] == 0.0
    alarm = await _panic(hub_client, hub_sessionmaker, hub_clock, "metrics-unclaimed-1")
    hub_clock.advance(timedelta(seconds=150))
    waiting = _samples(await (await hub_client.get("/metrics", headers=staff)).text())
    assert waiting[("teleassist_alarm_oldest_unclaimed_age_seconds", ())] == 150.0

    operator = await auth_headers(Role.OPERATOR)
    accepted = await hub_client.post(f"/api/alarms/{alarm.id}/accept", headers=operator)
    assert accepted.status == 200, await accepted.text()
    after = _samples(await (await hub_client.get("/metrics", headers=staff)).text())
    assert after[("teleassist_alarm_oldest_unclaimed_age_seconds", ())] == 0.0
    # Still open (being handled): the open-alarm age goes on.
    assert after[("teleassist_alarm_oldest_open_age_seconds", ())] == 150.0


async def test_a_database_that_fails_is_reported_not_hidden(
    hub_client, hub_sessionmaker, auth_headers
) -> None:
    staff = await auth_headers(Role.SUPERVISOR)
    healthy = _samples(await (await hub_client.get("/metrics", headers=staff)).text())
    assert healthy[("teleassist_database_up", ())] == 1.0
    assert healthy[("teleassist_database_errors_total", ())] == 0.0
    async with hub_sessionmaker() as session:  # a real database error on the next read
        await session.execute(text("ALTER TABLE wsocial_outbox RENAME TO wsocial_outbox_gone"))
        await session.commit()
    try:
        broken = await hub_client.get("/metrics", headers=staff)
        assert broken.status == 200  # the scrape still answers, so the alert can fire
        failed = _samples(await broken.text())
        assert failed[("teleassist_database_up", ())] == 0.0
        assert failed[("teleassist_database_errors_total", ())] == 1.0
        assert ("teleassist_alarm_oldest_open_age_seconds", ()) not in failed
    finally:
        async with hub_sessionmaker() as session:
            await session.execute(text("ALTER TABLE wsocial_outbox_gone RENAME TO wsocial_outbox"))
            await session.commit()


async def test_the_data_dir_file_system_is_reported(hub_client, auth_headers) -> None:
    Path(hub_client.app[SETTINGS].data_dir).mkdir(parents=True, exist_ok=True)
    expected = shutil.disk_usage(hub_client.app[SETTINGS].data_dir)
    staff = await auth_headers(Role.SUPERVISOR)
    samples = _samples(await (await hub_client.get("/metrics", headers=staff)).text())
    assert samples[("teleassist_data_dir_size_bytes", ())] == expected.total
    free = samples[("teleassist_data_dir_free_bytes", ())]
    assert 0 < free <= expected.total
    # 112 hand-offs are exported from the start, at zero.
    for outcome in ("delivered", "failed"):
        assert samples[("teleassist_emergency_handoffs_total", (("outcome", outcome),))] == 0
    # The parse the alert-rule tests rely on (tests/deploy) knows every exported name.
    scraped = {name for name, _ in samples if not name.startswith("teleassist_alarm_fanout_")}
    assert scraped <= exported_metrics()
