"""Where an alarm's time goes inside the hub: a probe for the benchmarks, off by default.

With ``TELEASSIST_LATENCY_PROBE=/path/file.json`` in its environment, ``teleassist hub serve``
records, until it stops, and then writes to that file:

- ``marks``: for each alarm-capable event, by message id, the ``time.monotonic()`` instant it
  passed each stage (``received`` by ingestion, ``gated`` through the write gate,
  ``stored`` committed to the events table, ``engine`` in the alarm engine with its home's
  lock, ``engine_gated`` through the write gate, ``committed`` the alarm stored,
  ``published`` queued for the live sockets, ``sent`` written on an operator's socket). The
  monotonic clock is the machine's, so a benchmark in another process reads these against
  its own publish instants;
- ``gc``: every garbage collection that took 1 ms or more (generation, milliseconds, when);
- ``gate_holds``: every routine write that held the write gate 5 ms or more (who, ms, when);
- ``slow_callbacks``: every event-loop step that held the loop 5 ms or more (what it was,
  milliseconds, when): what every other task on the loop (a panic included) waited behind.

Without the variable, :func:`mark` is one global lookup and nothing else runs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

ENV = "TELEASSIST_LATENCY_PROBE"
SLOW_CALLBACK_S = 0.005
SLOW_GC_S = 0.001
MAX_RECORDS = 100_000


class LatencyProbe:
    """Stage instants of alarm events, slow garbage collections, slow loop steps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.marks: dict[str, dict[str, float]] = {}
        self.aliases: dict[str, str] = {}
        self.gc: list[tuple[int, float, float]] = []
        self.slow: list[tuple[str, float, float]] = []
        self.holds: list[tuple[str, float, float]] = []
        self._gc_began = 0.0
        self._original_run: Any = None

    def mark(self, key: str, stage: str) -> None:
        """``key`` (a message id, or an alias of one) passed ``stage`` now; first pass only."""
        key = self.aliases.get(key, key)
        stages = self.marks.get(key)
        if stages is None:
            if len(self.marks) >= MAX_RECORDS:
                return
            stages = self.marks[key] = {}
        stages.setdefault(stage, time.monotonic())

    def alias(self, other: str, key: str) -> None:
        """Marks under ``other`` (an alarm id) belong to message ``key`` from now on."""
        if len(self.aliases) < MAX_RECORDS:
            self.aliases[other] = key

    def held(self, what: str, seconds: float) -> None:
        """A routine writer held the write gate ``seconds`` (recorded from 5 ms)."""
        if seconds >= SLOW_CALLBACK_S and len(self.holds) < MAX_RECORDS:
            self.holds.append((what, seconds * 1000, time.monotonic()))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_began = now
        elif now - self._gc_began >= SLOW_GC_S and len(self.gc) < MAX_RECORDS:
            self.gc.append((info["generation"], (now - self._gc_began) * 1000, time.monotonic()))

    def start(self) -> None:
        """Watch garbage collections and every step of the event loop (process-wide)."""
        gc.callbacks.append(self._gc)
        original = self._original_run = asyncio.events.Handle._run
        slow = self.slow

        def timed_run(handle: asyncio.Handle) -> None:
            began = time.perf_counter()
            original(handle)
            took = time.perf_counter() - began
            if took >= SLOW_CALLBACK_S and len(slow) < MAX_RECORDS:
                slow.append((_describe(handle), took * 1000, time.monotonic()))

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign, assignment]

    def stop(self) -> None:
        """Stop watching and write the file."""
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        if self._original_run is not None:
            asyncio.events.Handle._run = self._original_run  # type: ignore[method-assign]
            self._original_run = None
        data = {
            "marks": self.marks,
            "gc": self.gc,
            "slow_callbacks": self.slow,
            "gate_holds": self.holds,
        }
        self.path.write_text(json.dumps(data), encoding="utf-8")


def _describe(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if task is None and callback is not None:
        # The C tasks' step is a wrapper object holding its task (only for slow steps).
        task = next((o for o in gc.get_referents(callback) if isinstance(o, asyncio.Task)), None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        where = f" at {frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""
        return f"task {task.get_name()} {getattr(coro, '__qualname__', coro)}{where}"
    return repr(callback)[:200]


PROBE: LatencyProbe | None = None


def from_environment() -> LatencyProbe | None:
    """The process's probe, started, when ``TELEASSIST_LATENCY_PROBE`` names a file."""
    global PROBE
    path = os.environ.get(ENV, "")
    if not path:
        return None
    PROBE = LatencyProbe(Path(path))
    PROBE.start()
    return PROBE


def mark(key: str, stage: str) -> None:
    """Record that ``key`` passed ``stage`` (nothing when no probe runs)."""
    if PROBE is not None:
        PROBE.mark(key, stage)


def held(what: str, seconds: float) -> None:
    """A routine writer held the write gate this long (nothing when no probe runs)."""
    if PROBE is not None:
        PROBE.held(what, seconds)


def alias(other: str, key: str) -> None:
    """Marks under ``other`` count for ``key`` (nothing when no probe runs)."""
    if PROBE is not None:
        PROBE.alias(other, key)
