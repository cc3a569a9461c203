"""The example configuration loads and builds an agent; bad sources are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_agent.cli import build_agent, build_source
from device_agent.settings import AgentSettings, Zigbee2MqttSettings
from device_agent.sources.zigbee2mqtt import Zigbee2MqttSource
from teleassist.config import ConfigError, load_config

EXAMPLE = Path(__file__).parents[2] / "deploy" / "agent.toml"


def test_example_config_builds_an_agent(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, environ={}).with_overrides(
        "agent", queue_path=str(tmp_path / "q.sqlite3"), sounder="log"
    )
    settings = config.section("agent", AgentSettings)
    assert settings.gateway_id == "h0001-gw"
    z2m = config.section("zigbee2mqtt", Zigbee2MqttSettings)
    assert z2m.devices["Pendant"].device_id == "h0001-pendant"
    agent = build_agent(config)
    assert agent.mqtt.tls is True
    assert isinstance(agent.sources[0], Zigbee2MqttSource)
    agent.outbox.close()


def test_unknown_sources_are_refused() -> None:
    config = load_config(None, environ={})
    assert build_source("none", config) is None
    with pytest.raises(ConfigError, match="expected zigbee2mqtt"):
        build_source("bluetooth", config)
    with pytest.raises(ConfigError, match="cannot be loaded"):
        build_source("no_such_module:factory", config)
