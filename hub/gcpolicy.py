"""Garbage collection that does not stop a panic for a quarter of a second.

CPython's full (generation 2) collection walks every tracked object. A hub serving ten
thousand homes holds hundreds of thousands of them (the device registry, every resident's
cached rule state and plan), and a full collection then held the event loop for 100–250 ms
on this machine — any panic arriving meanwhile waited that long (docs/adr/0115).

Objects that have lived a while in the hub are, almost all, going to live on (registry,
caches). :func:`freeze_survivors` moves every object alive now into CPython's permanent
generation (``gc.freeze``, which costs nothing): later collections, full ones included,
walk only what was made since. It runs once the hub has started and then every
``FREEZE_EVERY_S``. What a frozen object leaves behind as cyclic garbage is not reclaimed
until :func:`collect_all` runs (unfreeze, one full collection, freeze again), once every
``FULL_EVERY_S``: one full pause an hour instead of several a minute.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

_LOGGER = logging.getLogger(__name__)

FREEZE_EVERY_S = 30.0
FULL_EVERY_S = 3600.0
# Fewer, slightly larger young collections (the default 700 runs one every few messages).
THRESHOLDS = (10_000, 10, 10)


def freeze_survivors() -> int:
    """Move every tracked object into the permanent generation; returns how many are frozen."""
    gc.freeze()
    return gc.get_freeze_count()


def collect_all() -> float:
    """Unfreeze, collect everything, freeze again; returns the pause in seconds."""
    began = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - began


def settle() -> None:
    """At the end of the start-up: one full collection, new thresholds, freeze what is left."""
    gc.collect()
    gc.set_threshold(*THRESHOLDS)
    frozen = freeze_survivors()
    _LOGGER.info("garbage collector: %d start-up objects frozen", frozen)


async def keep_frozen(
    freeze_every_s: float = FREEZE_EVERY_S, full_every_s: float = FULL_EVERY_S
) -> None:
    """Freeze survivors every ``freeze_every_s`` and collect everything every
    ``full_every_s`` (owned by the caller, who cancels it)."""
    since_full = 0.0
    while True:
        await asyncio.sleep(freeze_every_s)
        since_full += freeze_every_s
        if since_full >= full_every_s:
            since_full = 0.0
            pause = collect_all()
            _LOGGER.info("garbage collector: full collection took %.0f ms", pause * 1000)
        else:
            freeze_survivors()
