"""Reading the hub's latency probe (:mod:`hub.latencyprobe`) after a benchmark run.

The probe gives, per alarm event, the monotonic instant it passed each stage in the hub;
the benchmark knows when it published each one. From both: how long each leg took
(publish → received → stored → engine → committed → published → sent), and which garbage
collections and slow event-loop steps fell inside the measured window.

Since ADR 0178 an alarm event reaches the engine while its row is being stored: two chains
from ``received``, the row's (→ gated → stored) and the alarm's (→ engine → engine_gated →
committed → published → sent). A leg is measured from its own chain's previous stage
(``engine`` from ``stored`` when the engine got the event after its store, else from
``received``); ``early`` counts the events whose engine leg began before their row was stored.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

STAGES = (
    "received",
    "gated",
    "stored",
    "engine",
    "engine_gated",
    "committed",
    "published",
    "sent",
)


# Each stage's previous stage, the first of these that it passed before this one.
PARENTS = {
    "received": (),
    "gated": ("received",),
    "stored": ("gated", "received"),
    "engine": ("stored", "received"),
    "engine_gated": ("engine",),
    "committed": ("engine_gated", "engine"),
    "published": ("committed",),
    "sent": ("published", "committed"),
}


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


def summarize(path: Path, published: dict[str, float]) -> dict[str, Any]:
    """Per-leg p50/p99/max in ms, and the gc pauses and slow loop steps in the window.

    ``published`` maps the message id of each measured event to the benchmark's
    ``time.monotonic()`` just before it published it.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    marks: dict[str, dict[str, float]] = data["marks"]
    legs: dict[str, list[float]] = {stage: [] for stage in STAGES}
    early = 0
    for message_id, began in published.items():
        stages = marks.get(message_id, {})
        if "engine" in stages and stages["engine"] < stages.get("stored", float("inf")):
            early += 1
        for n, stage in enumerate(STAGES):
            at = stages.get(stage)
            if at is None:
                continue
            # Its chain's previous stage; else the latest stage passed before it (a stage
            # the probe missed); else the publish.
            earlier = [stages[p] for p in STAGES[:n] if p in stages and stages[p] <= at]
            previous = next(
                (stages[p] for p in PARENTS[stage] if p in stages and stages[p] <= at),
                max(earlier, default=began),
            )
            legs[stage].append((at - previous) * 1000)
    if published:
        start, end = min(published.values()), max(published.values()) + 1.0
    else:
        start = end = 0.0
    gcs = [g for g in data["gc"] if start <= g[2] <= end]
    slow = [s for s in data["slow_callbacks"] if start <= s[2] <= end]
    by_what: Counter[str] = Counter()
    worst: dict[str, float] = {}
    for what, ms, _ in slow:
        by_what[what] += 1
        worst[what] = max(worst.get(what, 0.0), ms)
    holds: Counter[str] = Counter()
    longest: dict[str, float] = {}
    for what, ms, at in data.get("gate_holds", []):
        if start <= at <= end:
            holds[what] += 1
            longest[what] = max(longest.get(what, 0.0), ms)
    return {
        "gate_holds_top": [
            {"what": what, "count": count, "max_ms": round(longest[what], 1)}
            for what, count in holds.most_common(8)
        ],
        "legs_ms": {
            stage: {"p50": _pct(v, 50), "p99": _pct(v, 99), "max": _pct(v, 100)}
            for stage, v in legs.items()
        },
        "early": early,
        "gc_pauses": len(gcs),
        "gc_max_ms": round(max((g[1] for g in gcs), default=0.0), 1),
        "gc_by_generation": dict(Counter(str(g[0]) for g in gcs)),
        "slow_steps": len(slow),
        "slow_steps_max_ms": round(max((s[1] for s in slow), default=0.0), 1),
        "slow_steps_top": [
            {"what": what, "count": count, "max_ms": round(worst[what], 1)}
            for what, count in by_what.most_common(8)
        ],
    }


def print_summary(summary: dict[str, Any]) -> None:
    """Human-readable lines (before the benchmark's JSON line)."""
    print(
        "where the time went (probe, ms from the previous stage of its chain;"
        f" {summary.get('early', 0)} events reached the engine before their row was stored):"
    )
    for stage, figures in summary["legs_ms"].items():
        print(f"  -> {stage:<10} p50 {figures['p50']}  p99 {figures['p99']}  max {figures['max']}")
    print(
        f"  gc pauses >=1 ms in the window: {summary['gc_pauses']}"
        f" (max {summary['gc_max_ms']} ms, by generation {summary['gc_by_generation']})"
    )
    print(
        f"  loop steps >=5 ms in the window: {summary['slow_steps']}"
        f" (max {summary['slow_steps_max_ms']} ms)"
    )
    for row in summary["slow_steps_top"]:
        print(f"    {row['count']:>5} x max {row['max_ms']:>6} ms  {row['what']}")
    print("  routine writes holding the write gate >=5 ms in the window:")
    for row in summary["gate_holds_top"]:
        print(f"    {row['count']:>5} x max {row['max_ms']:>6} ms  {row['what']}")
