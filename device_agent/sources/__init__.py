"""Where readings come from: a small interface and its adapters.

A source is anything with ``async def run(self, sink) -> None`` that calls
``await sink(reading)`` for every :class:`Reading` until it is cancelled
(:class:`SensorSource`). Adapters: :mod:`.zigbee2mqtt` (a zigbee2mqtt bridge),
:mod:`.lines` (the serial/GPIO line protocol for hardware makers) and
:class:`QueueSource` (tests and embedding). The simulator's source lives in
``firmware_sim.source``.
"""

from device_agent.sources.base import QueueSource, Reading, ReadingSink, SensorSource

__all__ = ["QueueSource", "Reading", "ReadingSink", "SensorSource"]
