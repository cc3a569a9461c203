"""The fleet generator and its light MQTT client against a real Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

import protocol
from firmware_sim.fleet import FleetSpec, run_fleet
from firmware_sim.mqttlite import Will, connect_packet, open_client, publish_packet
from teleassist.localbroker import MosquittoBroker, free_port
from tests.device_agent.test_agent import collector, eventually

_ANY_TIME = protocol.ClockPolicy(max_future=timedelta(minutes=5), max_age=timedelta(days=1))


def test_packets_follow_mqtt_3_1_1() -> None:
    packet = connect_packet("gw-1", 60, username="gw-1", password="s3cret", will=Will("t", b"x"))
    assert packet[0] == 0x10
    assert packet[2:8] == b"\x00\x04MQTT"
    assert packet[8] == 4  # protocol level
    assert (
        packet[9] == 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
    )  # clean, will qos1 retain, user, pass
    big = publish_packet(b"a/b", b"x" * 300, qos=1, mid=7)
    assert big[0] == 0x32
    assert big[1:3] == bytes([(2 + 3 + 2 + 300) % 128 | 0x80, (2 + 3 + 2 + 300) // 128])


async def test_connect_to_nothing_fails_clearly() -> None:
    with pytest.raises(ConnectionRefusedError):
        await open_client("127.0.0.1", free_port(), "gw-x")


@pytest.mark.broker
async def test_fleet_publishes_valid_contract_messages(mosquitto: MosquittoBroker) -> None:
    with collector(mosquitto.port, "ta/v1/d/#") as sub:
        spec = FleetSpec(
            host="127.0.0.1",
            port=mosquitto.port,
            first_home=0,
            homes=40,
            duration_s=2.0,
            rate=200.0,
            qos=1,
            prefix="fleettest-h",
        )
        stats = await run_fleet(spec)
        assert stats.connections == 40
        assert stats.connect_errors == 0
        assert stats.msgs_sent >= 200
        await eventually(
            lambda: len([m for m in sub.messages if "fleettest-h" in m[0]]) >= stats.msgs_sent + 40
        )
    seqs: dict[str, list[int]] = defaultdict(list)
    statuses = 0
    for topic, payload, _ in list(sub.messages):
        if "fleettest-h" not in topic:
            continue
        parsed = protocol.parse_device_topic(topic)
        message = protocol.decode_for_channel(parsed.channel, payload, clock=_ANY_TIME)
        if parsed.channel is protocol.Channel.STATUS:
            statuses += 1
            continue
        seqs[parsed.device_id].append(message.seq)
    assert statuses >= 40  # every gateway announced itself
    for device, numbers in seqs.items():
        assert numbers == sorted(numbers), device
    assert stats.msgs_acked >= stats.msgs_sent  # QoS 1 everything acknowledged (+ statuses)


@pytest.mark.broker
def test_fleet_command_prints_a_json_last_line(mosquitto: MosquittoBroker) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "teleassist",
            "sim",
            "fleet",
            "--homes",
            "30",
            "--broker",
            f"127.0.0.1:{mosquitto.port}",
            "--duration",
            "2",
            "--rate",
            "100",
            "--processes",
            "2",
            "--prefix",
            "clitest-h",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["homes"] == 30
    assert summary["connections"] == 30
    assert summary["processes"] == 2
    assert summary["msgs_sent"] > 0
    for key in ("msgs_per_s", "duration_s", "rss_mb"):
        assert summary[key] > 0


def test_fleet_command_refuses_a_bad_broker() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "sim", "fleet", "--homes", "3", "--broker", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "HOST:PORT" in result.stderr
