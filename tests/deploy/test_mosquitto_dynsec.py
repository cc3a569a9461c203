"""Mosquitto 2.0 can refuse a device's SUBSCRIBE, but only through its dynamic-security
plugin (issue 19; docs/adr/0106).

The shipped broker uses an ACL file (ADR 0012): Mosquitto checks it on delivery only, so a
device's subscription to anything is granted and delivers nothing it may not read
(`tests/hub/registry/test_broker_attacks.py` writes down exactly what). This test starts
Debian's Mosquitto 2.0.11 with the plugin it ships (`mosquitto_dynamic_security.so`),
gives each device a role (subscribe to exactly its own commands' filter; subscriptions are
otherwise denied by default) and shows the SUBACK refusing the rest with 0x80.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from teleassist.localbroker import MosquittoBroker, free_port
from tests.hub.registry.projectbroker import Client

PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
ADMIN, ADMIN_PASSWORD = "dynsec-admin", "dynsec-admin-password"

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        not PLUGIN.exists() or shutil.which("mosquitto_ctrl") is None,
        reason="Mosquitto's dynamic-security plugin is not installed",
    ),
]


def _ctrl(port: int, *args: str) -> None:
    subprocess.run(
        ["mosquitto_ctrl", "-h", "127.0.0.1", "-p", str(port), "-u", ADMIN, "-P",
         ADMIN_PASSWORD, "dynsec", *args],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    state = tmp_path / "dynsec.json"
    subprocess.run(
        ["mosquitto_ctrl", "dynsec", "init", str(state), ADMIN, ADMIN_PASSWORD],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        # Started as root, Mosquitto would run as the mosquitto user, who cannot reach
        # pytest's private folder; a test broker stays who started it.
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"plugin {PLUGIN}\nplugin_opt_config_file {state}\n",
        encoding="utf-8",
    )
    running = MosquittoBroker(port=port, config_file=conf)
    running.start()
    try:
        for device in ("pendant-a", "pendant-b"):
            # A role per device with the exact filter it uses for its commands: with 2.0.11 a
            # subscribePattern "ta/v1/c/%c/+" refused the device its own filter too (tried).
            role = f"device-{device}"
            _ctrl(port, "createRole", role)
            _ctrl(port, "addRoleACL", role, "subscribeLiteral", f"ta/v1/c/{device}/+", "allow")
            _ctrl(port, "createClient", device, "-c", device, "-p", f"{device}-secret")
            _ctrl(port, "addClientRole", device, role)
        yield running
    finally:
        running.stop()


def test_the_plugin_refuses_every_subscription_but_a_devices_own_commands(
    broker: MosquittoBroker,
) -> None:
    device = Client(broker.port, "pendant-a", "pendant-a-secret")
    try:
        assert device.accepted
        codes = device.subscribe(
            [
                "ta/v1/c/pendant-a/+",
                "ta/v1/c/pendant-b/+",
                "ta/v1/c/#",
                "ta/v1/d/+/+",
                "$share/hub/ta/v1/d/+/+",
                "#",
                "$SYS/#",
            ]
        )
        refused = 0x80
        assert [int(c.value) for c in codes] == [1] + [refused] * 6  # type: ignore[attr-defined]
    finally:
        device.close()
