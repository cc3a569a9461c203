"""The latency probe records stage instants, aliases, slow loop steps and gate holds, and the
benchmarks' reader turns them into legs (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from hub.latencyprobe import LatencyProbe
from teleassist.bench._probe import summarize


async def test_probe_records_and_summarizes(tmp_path: Path) -> None:
    path = tmp_path / "probe.json"
    probe = LatencyProbe(path)
    probe.start()
    try:
        published = time.monotonic()
        probe.mark("m1", "received")
        probe.mark("m1", "received")  # first pass only
        probe.alias("alarm-1", "m1")
        probe.mark("alarm-1", "sent")
        probe.held("ingest-presence", 0.02)
        probe.held("engine-flush", 0.001)  # under 5 ms: not recorded

        ran = asyncio.Event()

        def block() -> None:
            time.sleep(0.01)  # a loop step that holds the loop: what the probe must see
            ran.set()

        asyncio.get_running_loop().call_soon(block)
        await ran.wait()
    finally:
        probe.stop()
    data = json.loads(path.read_text())
    assert set(data["marks"]["m1"]) == {"received", "sent"}
    assert data["marks"]["m1"]["received"] <= data["marks"]["m1"]["sent"]
    assert [h[0] for h in data["gate_holds"]] == ["ingest-presence"]
    assert any("block" in step[0] for step in data["slow_callbacks"])
    summary = summarize(path, {"m1": published, "lost": published})
    assert summary["legs_ms"]["received"]["p50"] is not None
    assert summary["legs_ms"]["stored"]["p50"] is None  # never passed there
    assert summary["gate_holds_top"][0]["what"] == "ingest-presence"
    assert summary["slow_steps"] >= 1


def test_legs_follow_each_chain_when_the_engine_gets_the_event_before_its_store(
    tmp_path: Path,
) -> None:
    """ADR 0178: the alarm's chain (received → engine → …) runs beside the row's (received →
    gated → stored); each leg is measured from its own chain's previous stage."""
    path = tmp_path / "probe.json"
    stages = {
        "received": 1.0,
        "engine": 1.002,
        "engine_gated": 1.010,
        "committed": 1.015,
        "gated": 1.016,
        "stored": 1.020,
        "published": 1.0151,
        "sent": 1.017,
    }
    path.write_text(
        json.dumps({"marks": {"m1": stages}, "gc": [], "slow_callbacks": [], "gate_holds": []})
    )
    summary = summarize(path, {"m1": 0.999})
    legs = {stage: figures["p50"] for stage, figures in summary["legs_ms"].items()}
    assert legs == {
        "received": 1.0,
        "gated": 16.0,
        "stored": 4.0,
        "engine": 2.0,
        "engine_gated": 8.0,
        "committed": 5.0,
        "published": 0.1,
        "sent": 1.9,
    }
    assert summary["early"] == 1
