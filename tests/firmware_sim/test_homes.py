"""Simulated homes through real device agents, in accelerated time."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import protocol
from firmware_sim.homes import run_homes
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.device_agent.test_agent import collector, eventually
from tests.instants import machine_now


@pytest.mark.broker
async def test_simulated_homes_reach_the_broker_through_agents(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    with collector(mosquitto.port, "ta/v1/d/#") as sub:
        runs = await run_homes(
            homes=1,
            mqtt=MqttSettings(port=mosquitto.port),
            queue_dir=tmp_path,
            days=1,
            speed=86_400 / 2,  # a day in two seconds
            prefix="simtest-h",
            incident_rate=0.0,
            duration_s=120,
        )
        assert [r.delivered for r in runs] == [r.records for r in runs]
        events = sum(r.events for r in runs)
        # Events travel at QoS 1: every one arrives (telemetry is QoS 0, best effort).
        await eventually(
            lambda: (
                len([m for m in sub.messages if "simtest-h" in m[0] and m[0].endswith("/event")])
                >= events
            ),
            timeout=90,
        )
    now = machine_now()
    motion = 0
    for topic, payload, _ in sub.messages:
        if "simtest-h" not in topic:
            continue
        parsed = protocol.parse_device_topic(topic)
        # Default clock policy: simulated time never runs ahead of the hub's clock.
        message = protocol.decode_for_channel(
            parsed.channel, payload, now=now + timedelta(seconds=5)
        )
        if isinstance(message.body, protocol.Motion):
            motion += 1
    assert motion > 50


def test_trace_command_prints_ground_truth() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "sim", "trace", "--days", "3", "--incident-rate", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ground truth:" in result.stdout
    assert "rule=" in result.stdout
