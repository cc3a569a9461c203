"""docs/integrators.md runs as written.

Its ``sh`` blocks are joined, in order, into one bash script (``set -euo pipefail``) and run
from the repository's root with free ports and a folder of the test: it configures and
starts Mosquitto and ``teleassist hub serve``, signs in, makes a resident through a referral,
provisions a pendant, publishes a panic with ``mosquitto_pub`` and reads the alarm, the
stored event and the 112 payloads back. The hub reads the machine's clock (the doc's device
stamps its message with ``date``): nothing here depends on the instant.

The device-type table of the page is checked against ``hub/ingest/devicetypes.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from config.ports import free_port
from hub.ingest.devicetypes import COMMON_EVENTS, EVENTS_BY_TYPE

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrators.md"
TOOLS = ("mosquitto", "mosquitto_pub", "curl", "jq", "openssl", "teleassist")

# The project's own commands (teleassist) come from the interpreter's folder, as in CI where
# the virtualenv is not on PATH.
PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def sh_blocks(text: str) -> list[str]:
    """The ``sh`` code blocks of a Markdown text, in order."""
    # Blocks may be indented inside a list item; their lines lose that indentation.
    found = re.findall(r"^( *)```sh\n(.*?)^\1```$", text, flags=re.M | re.S)
    return [re.sub(rf"(?m)^{indent}", "", body) for indent, body in found]


def device_table(text: str) -> dict[str, str]:
    """The device-type table between its markers: type → events column."""
    block = text.split("<!-- device-events:begin -->")[1].split("<!-- device-events:end -->")[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.+?) \|$", block, flags=re.M)
    return dict(rows)


def test_the_blocks_are_found() -> None:
    blocks = sh_blocks(
        "text\n```sh\necho a\n```\n```python\nx\n```\n- item\n\n  ```sh\n  echo b\n  ```\n"
    )
    assert blocks == ["echo a\n", "echo b\n"]


def test_the_device_table_is_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    expected = {
        kind: ", ".join(f"`{e}`" for e in sorted(events)) for kind, events in EVENTS_BY_TYPE.items()
    }
    assert device_table(text) == expected
    common = ", ".join(f"`{e}`" for e in sorted(COMMON_EVENTS))
    assert f"Every type may also send {common}." in text


def test_the_table_check_sees_a_change() -> None:
    text = DOC.read_text(encoding="utf-8").replace("| `smoke` | `smoke` |", "| `smoke` | `gas` |")
    assert device_table(text)["smoke"] != ", ".join(f"`{e}`" for e in EVENTS_BY_TYPE["smoke"])


def _kill_from(pid_file: Path) -> None:
    """End a process this test started (the hub, Mosquitto) by the pid it wrote."""
    if pid_file.is_file():
        text = pid_file.read_text(encoding="utf-8").strip()
        if text.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(text), signal.SIGTERM)


@pytest.mark.broker
@pytest.mark.slow
@pytest.mark.skipif(any(shutil.which(t, path=PATH) is None for t in TOOLS), reason=f"needs {TOOLS}")
def test_the_walk_through_runs_as_written() -> None:
    script = "set -euo pipefail\n" + "\n".join(sh_blocks(DOC.read_text(encoding="utf-8")))
    # The broker's user must reach the folder (pytest's temporary folders are root's only).
    with tempfile.TemporaryDirectory(prefix="ta-integrator-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        env = {key: value for key, value in os.environ.items() if not key.startswith("TELEASSIST_")}
        env |= {
            "PATH": PATH,
            "TA_DIR": str(folder / "walk"),
            "HUB_PORT": str(free_port()),
            "MQTT_HUB_PORT": str(free_port()),
            "MQTT_PORT": str(free_port()),
        }
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            _kill_from(folder / "walk" / "hub.pid")
            _kill_from(folder / "walk" / "run" / "mosquitto.pid")
        log = folder / "walk" / "hub.log"
        hub_log = log.read_text(encoding="utf-8")[-3000:] if log.is_file() else ""
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n--- hub log\n{hub_log}"
    out = done.stdout.splitlines()
    title = out.index("Teleassist hub API")
    assert int(out[title + 1]) > 100  # paths in the document
    assert re.fullmatch(r"referral TA-\d{4}-\w+: resident \d+ in home \d+", out[title + 2])
    # The alarm (rule, priority, state), its stored event, then accepted and resolved.
    assert out[title + 3 :] == [
        *("panic", "1", "raised", "panic", "accepted", "resolved"),
        *("cp-0042", "true"),  # the carephone, its key stored encrypted
    ], out
