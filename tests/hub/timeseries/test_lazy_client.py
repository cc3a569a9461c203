"""The hub imports influxdb-client (and numpy behind it, ~0.4 s) only when a VictoriaMetrics or
InfluxDB writer starts: a restart on the SQLite store does not pay it (issue 26 item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_hub_does_not_import_influxdb_client() -> None:
    code = (
        "import importlib, sys, hub.app\n"
        "for name in hub.app.ROUTE_MODULES: importlib.import_module(name)\n"
        "print(sorted(m for m in ('influxdb_client', 'numpy') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert out.stdout.strip() == "[]"
