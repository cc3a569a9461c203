"""``teleassist tablet --config tablet.toml`` starts the app, which comes online."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest

from protocol import decode_status, device_topic
from tablet_app.xserver import virtual_display
from teleassist.localbroker import MosquittoBroker

pytestmark = [pytest.mark.tablet, pytest.mark.broker]


async def test_the_app_runs_from_the_command_line(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = tmp_path / "tablet.toml"
    config.write_text(
        f'[tablet]\nstate_dir = "{tmp_path / "state"}"\ndevice_id = "tablet-cli"\n'
        f'language = "es"\nspeech = false\n[mqtt]\nport = {mosquitto.port}\n'
    )
    with virtual_display(1280, 800) as display:
        env = dict(os.environ, DISPLAY=display, KIVY_NO_CONSOLELOG="1")
        process = subprocess.Popen(
            [sys.executable, "-m", "teleassist", "tablet", "--config", str(config), "--demo"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as hub:
                await hub.subscribe(device_topic("tablet-cli", "status"), qos=1)
                async with asyncio.timeout(60):
                    async for message in hub.messages:
                        status = decode_status(bytes(message.payload))  # type: ignore[arg-type]
                        if status.body.state == "online":
                            break
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
        assert b"Traceback" not in err, err.decode()[-2000:]


def test_a_bad_size_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "tablet", "--size", "big"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "--size must look like 1280x800" in result.stderr


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "tablet", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
