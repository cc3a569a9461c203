"""The Linux kiosk (deploy/systemd/teleassist-tablet.service + deploy/tablet/tablet.toml).

What this machine can run: systemd's own check of the unit; its promises as directives
(started at boot, restarted, full screen, state that survives); cage, the unit's compositor,
started as an unprivileged user on its headless backend, giving its client the X display the
app draws on; and the unit's app command with the shipped configuration, which comes online.
Not run here: the app inside cage (this machine's Python is readable by root only and cage
refuses to run as root) and systemd itself restarting it or starting it at boot.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from protocol import decode_status, device_topic
from tablet_app.settings import TabletSettings
from tablet_app.xserver import virtual_display
from teleassist.localbroker import MosquittoBroker, running_mosquitto

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "teleassist-tablet.service"
CONFIG = ROOT / "deploy" / "tablet" / "tablet.toml"
INSTALLED_TELEASSIST = "/opt/teleassist/.venv/bin/teleassist"
INSTALLED_CONFIG = "/etc/teleassist/tablet.toml"


def directives() -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_accepts_the_unit() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_unit_starts_at_boot_restarts_and_keeps_its_state() -> None:
    unit = directives()
    assert unit["WantedBy"] == ["graphical.target"]
    assert unit["Restart"] == ["always"]
    assert unit["Conflicts"] == ["getty@tty1.service"]  # it takes the console's screen
    command = shlex.split(unit["ExecStart"][0])
    assert command[:3] == ["/usr/bin/cage", "-s", "--"]
    assert command[3:] == [
        INSTALLED_TELEASSIST,
        "--log-json",
        "tablet",
        "--fullscreen",
        "--config",
        INSTALLED_CONFIG,
    ]
    state = f"/var/lib/{unit['StateDirectory'][0]}"
    settings = TabletSettings(**tomllib.loads(CONFIG.read_text(encoding="utf-8"))["tablet"])
    assert settings.state_dir == state  # pairing and the queue survive restarts
    assert settings.fullscreen
    assert unit["Environment"] == [f"KIVY_HOME={state}/kivy"]


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """What logind gives the unit's user: a private XDG_RUNTIME_DIR."""
    folder = Path(tempfile.mkdtemp(prefix="ta-kiosk-"))
    shutil.chown(folder, "nobody")
    folder.chmod(0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_cage_gives_its_client_a_display(runtime_dir: Path) -> None:
    if shutil.which("cage") is None or shutil.which("Xwayland") is None:
        pytest.fail("cage and Xwayland are not installed; run scripts/setup")
    report = runtime_dir / "client.env"
    cage = shlex.split(directives()["ExecStart"][0])[:3]
    # The client the unit would start, replaced by one that says what it was given.
    probe = f'echo "$DISPLAY $WAYLAND_DISPLAY" > {report}'
    env = {
        "PATH": os.environ["PATH"],
        "XDG_RUNTIME_DIR": str(runtime_dir),
        # This machine has no screen or GPU: wlroots' headless backend, software rendering.
        "WLR_BACKENDS": "headless",
        "WLR_RENDERER": "pixman",
        "WLR_LIBINPUT_NO_DEVICES": "1",
    }
    result = subprocess.run(
        [
            *("runuser", "-u", "nobody", "--", "env"),
            *(f"{k}={v}" for k, v in env.items()),
            *(*cage, "/bin/sh", "-c", probe),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    display, wayland = report.read_text().split()
    assert display.startswith(":")  # Xwayland: where Kivy's SDL window goes
    assert wayland.startswith("wayland-")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with running_mosquitto(tmp_path) as started:
        yield started


async def test_the_units_app_command_comes_online(broker: MosquittoBroker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)  # systemd creates StateDirectory= before starting the unit
    shipped = CONFIG.read_text(encoding="utf-8").replace("/var/lib/teleassist-tablet", str(state))
    # A paired tablet: what pairing writes (device id, broker), instead of an 8-digit code.
    config = tmp_path / "tablet.toml"
    config.write_text(
        shipped.replace("speech = true", "speech = false")
        + f'device_id = "tablet-kiosk"\n[mqtt]\nport = {broker.port}\n',
        encoding="utf-8",
    )
    app = shlex.split(directives()["ExecStart"][0])[3:]
    app[0] = str(Path(sys.executable).parent / "teleassist")
    app[app.index(INSTALLED_CONFIG)] = str(config)
    with virtual_display(1280, 800) as display:
        env = dict(
            os.environ,
            DISPLAY=display,
            KIVY_HOME=str(state / "kivy"),
            KIVY_NO_CONSOLELOG="1",
            PYTHONPATH=str(ROOT),
        )
        process = subprocess.Popen(app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        online = False
        try:
            async with aiomqtt.Client("127.0.0.1", broker.port) as hub:
                await hub.subscribe(device_topic("tablet-kiosk", "status"), qos=1)
                async with asyncio.timeout(90):
                    async for message in hub.messages:
                        status = decode_status(bytes(message.payload))  # type: ignore[arg-type]
                        if status.body.state == "online":
                            online = True
                            break
        except TimeoutError:
            pass
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
    assert online, err.decode()[-3000:]
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert (state / "kivy").is_dir()  # Kivy kept its files in the state directory
