"""``teleassist sim home``: a few simulated homes driven through real device agents.

Each home gets its own :class:`~device_agent.agent.Agent` (own outbox, own MQTT
connection as its gateway) fed by a :class:`SimSource` on one shared accelerated clock.
Simulated time starts ``days`` before now and runs ``speed`` times faster, so the
timestamps the hub receives are never in its future.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from config import MqttSettings
from device_agent.agent import Agent
from device_agent.backoff import Backoff
from device_agent.clock import AcceleratedClock
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from device_agent.sounder import LogSounder
from firmware_sim.home import standard_home
from firmware_sim.incidents import IncidentSpec, plan_incidents
from firmware_sim.source import SimSource, sensor_trace

_LOGGER = logging.getLogger(__name__)
PROFILES = ("active", "frail", "cognitive_decline")


@dataclass(frozen=True, slots=True)
class HomeRun:
    """What one simulated home did."""

    home_id: str
    profile: str
    records: int
    events: int
    delivered: int
    published: int
    incidents: int


async def run_homes(
    *,
    homes: int,
    mqtt: MqttSettings,
    queue_dir: Path,
    days: int = 1,
    speed: float = 600.0,
    seed: int = 1,
    incident_rate: float = 0.3,
    prefix: str = "sim-h",
    duration_s: float | None = None,
) -> list[HomeRun]:
    """Run ``homes`` agents until their traces end (or ``duration_s`` real seconds)."""
    tz = ZoneInfo("Europe/Madrid")
    start_day = (datetime.now(tz) - timedelta(days=days)).date()
    midnight = datetime.combine(start_day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    clock = AcceleratedClock(midnight, speed, cap_at_wall_clock=True)
    agents: list[tuple[Agent, SimSource, str, int]] = []
    for i in range(homes):
        home = standard_home(f"{prefix}{i:03d}")
        profile = PROFILES[i % len(PROFILES)]
        incidents: list[IncidentSpec] = plan_incidents(seed + i, days, rate_per_day=incident_rate)
        trace = sensor_trace(home, profile, start_day, days, seed + i, incidents)
        source = SimSource(trace, clock)
        settings = AgentSettings(
            gateway_id=home.gateway.device_id,
            queue_path=str(queue_dir / f"{home.home_id}.sqlite3"),
            # Heartbeats in simulated time. At high speeds the event loop lags behind
            # the simulated clock, which would look like silent sensors: supervise
            # only once a day.
            heartbeat_s=120,
            supervision_s=86_400,
        )
        agent = Agent(
            settings,
            MqttSettings(
                host=mqtt.host,
                port=mqtt.port,
                username=home.gateway.device_id if mqtt.username is None else mqtt.username,
                password=mqtt.password,
                tls=mqtt.tls,
                ca_file=mqtt.ca_file,
                keepalive_s=mqtt.keepalive_s,
            ),
            outbox=Outbox(settings.queue_path),
            clock=clock,
            sounder=LogSounder(),
            sources=[source],
            backoff=Backoff(0.2, 5.0, rng=random.Random(i)),
        )
        agents.append((agent, source, profile, len(trace.incidents)))
    tasks = [
        asyncio.create_task(agent.run(), name=f"sim-{agent.gateway_id}") for agent, *_ in agents
    ]
    try:
        async with asyncio.timeout(duration_s):
            # A home is done when its source finished and its queue is empty.
            for agent, source, *_ in agents:
                await source.finished.wait()
                await agent.wait_drained()
    except TimeoutError:
        _LOGGER.info("sim home: stopping after %.0f s", duration_s)
    finally:
        for agent, *_ in agents:
            agent.stop()
        # Bounded: a gateway that does not stop in time is cancelled, and one that still
        # hangs is reported rather than holding the whole simulation (or a test) forever.
        _, stuck = await asyncio.wait(tasks, timeout=15)
        for task in stuck:
            task.cancel()
        if stuck:
            _, stuck = await asyncio.wait(stuck, timeout=5)
        if stuck:
            _LOGGER.warning("%d simulated gateways did not stop", len(stuck))
        for agent, *_ in agents:
            agent.outbox.close()
    return [
        HomeRun(
            agent.gateway_id.removesuffix("-gw"),
            profile,
            len(source.trace.records),
            len(source.trace.events()),
            source.delivered,
            agent.counters.published,
            incidents,
        )
        for agent, source, profile, incidents in agents
    ]
