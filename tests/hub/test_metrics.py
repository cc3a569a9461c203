"""``/metrics`` reports open alarms, the oldest alarm's age and the outbox backlog."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from alerts import DeviceType, HomeEvent
from hub.alarms.routes import ALARM_ENGINE
from hub.auth import Role
from hub.db.models import Home, Resident
from protocol import Panic


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

    async with hub_sessionmaker() as session:
        home = Home(address="Carrer Gran 1, Barcelona")
        session.add(home)
        await session.flush()
        resident = Resident(home_id=home.id, name="Pere Soler", language="ca")
        session.add(resident)
        await session.commit()
        home_id, resident_id = str(home.id), str(resident.id)
    event = HomeEvent(
        home_id=home_id,
        resident_id=resident_id,
        device_id=f"{home_id}-pendant",
        device_type=DeviceType.PENDANT,
        message_id="metrics-panic-1",
        at=hub_clock(),
        body=Panic(),
    )
    (change,) = await hub_client.app[ALARM_ENGINE].handle_event(event)
    hub_clock.advance(timedelta(seconds=90))

    after = _samples(await (await hub_client.get("/metrics", headers=headers)).text())
    priority = str(change.alarm.priority)
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
