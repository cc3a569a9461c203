"""The simulator as a device-agent sensor source (accelerated or real time)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import msgspec

import protocol
from config import Config
from device_agent.clock import Clock, SystemClock
from device_agent.settings import AgentSettings
from device_agent.sources.base import Reading, ReadingSink
from firmware_sim.home import HomeSpec, standard_home
from firmware_sim.incidents import IncidentSpec
from firmware_sim.simulate import simulate_days
from firmware_sim.trace import Trace

_LOGGER = logging.getLogger(__name__)


@dataclass
class SimSource:
    """Replays a home's sensor-view trace on ``clock``: each record is handed to the
    agent when the clock reaches its timestamp (late records are handed over at once,
    or skipped with ``skip_past``, as a real-time home started mid-day does)."""

    trace: Trace
    clock: Clock
    skip_past: bool = False
    delivered: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, sink: ReadingSink) -> None:
        """Feed the agent until the trace ends."""
        now = self.clock.now()
        for record in self.trace.records:
            if (self.skip_past and record.ts < now) or isinstance(record.body, protocol.Status):
                continue
            wait = (record.ts - self.clock.now()).total_seconds()
            if wait > 0:
                await self.clock.sleep(wait)
            await sink(
                Reading(
                    record.device_id,
                    record.body,
                    str(record.device_type),
                    record.room,
                    ts=record.ts,
                )
            )
            self.delivered += 1
        self.finished.set()
        _LOGGER.info("simulated home %s: trace finished", self.trace.home.home_id)


def sensor_trace(
    home: HomeSpec,
    profile: str,
    start_date: date,
    days: int,
    seed: int | str,
    incidents: list[IncidentSpec] | None = None,
) -> Trace:
    """The sensor view (what a gateway hears) of a simulated home."""
    return simulate_days(home, profile, start_date, days, seed, incidents or [], view="sensor")


class SimSettings(msgspec.Struct, kw_only=True, frozen=True):
    """``[sim]`` for the agent plug-in: a simulated home in real time."""

    profile: Literal["active", "frail", "cognitive_decline"] = "active"
    seed: int = 1
    days: int = 7


def from_config(config: Config) -> SimSource:
    """``[agent] source = "firmware_sim.source:from_config"``: the gateway's own home,
    simulated in real time from today (the home id is the gateway id without ``-gw``)."""
    agent = config.section("agent", AgentSettings)
    sim = config.section("sim", SimSettings)
    home = standard_home(agent.gateway_id.removesuffix("-gw"))
    today = datetime.now(UTC).date() - timedelta(days=1)
    trace = sensor_trace(home, sim.profile, today, sim.days + 1, sim.seed)
    return SimSource(trace, SystemClock(), skip_past=True)
