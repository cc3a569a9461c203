"""``teleassist agent --config agent.toml``: run one home gateway.

Sections: ``[mqtt]`` (the hub's broker, TLS optional), ``[agent]`` (gateway id, queue,
timers, sounder, source), ``[zigbee2mqtt]`` or ``[lines]`` for the sensor source.
See ``deploy/agent.toml`` and ``docs/agent.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal

from config import Config, ConfigError
from device_agent.agent import Agent
from device_agent.clock import SystemClock
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings, LineSettings, Zigbee2MqttSettings
from device_agent.sounder import EspeakSounder, LogSounder, Sounder
from device_agent.sources.base import SensorSource
from device_agent.sources.lines import LineSource
from device_agent.sources.zigbee2mqtt import Zigbee2MqttSource

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Agent options (most settings live in the TOML file)."""
    parser.add_argument("--gateway-id", help="override [agent] gateway_id")
    parser.add_argument("--queue", help="override [agent] queue_path")


def build_source(name: str, config: Config) -> SensorSource | None:
    """The sensor source named in ``[agent] source``; :class:`ConfigError` if unknown."""
    if name == "none":
        return None
    if name == "zigbee2mqtt":
        return Zigbee2MqttSource(config.section("zigbee2mqtt", Zigbee2MqttSettings))
    if name == "lines":
        lines = config.section("lines", LineSettings)
        return LineSource(lines.path, lines.rooms)
    module_name, sep, factory_name = name.partition(":")
    if not sep:
        raise ConfigError(
            f"[agent] source {name!r}: expected zigbee2mqtt, lines, none or module:factory"
        )
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"[agent] source {name!r} cannot be loaded: {err}") from None
    source: SensorSource = factory(config)
    return source


def build_agent(config: Config) -> Agent:
    """An agent wired from ``config`` (real clock, on-disk queue)."""
    settings = config.section("agent", AgentSettings)
    sounder: Sounder = EspeakSounder() if settings.sounder == "espeak" else LogSounder()
    source = build_source(settings.source, config)
    return Agent(
        settings,
        config.mqtt,
        outbox=Outbox(settings.queue_path, settings.queue_max_messages),
        clock=SystemClock(),
        sounder=sounder,
        sources=[source] if source is not None else [],
    )


async def _run(agent: Agent) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, agent.stop)
    try:
        await agent.run()
    finally:
        agent.outbox.close()
    return 0


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the gateway until SIGINT/SIGTERM."""
    overrides = {
        key: value
        for key, value in (("gateway_id", args.gateway_id), ("queue_path", args.queue))
        if value
    }
    if overrides:
        config = config.with_overrides("agent", **overrides)
    agent = build_agent(config)
    _LOGGER.info("agent %s starting (queue %s)", agent.gateway_id, agent.outbox.path)
    return asyncio.run(_run(agent))
