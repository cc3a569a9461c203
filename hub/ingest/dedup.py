"""Duplicate detection by message id, and gap detection by per-device sequence."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


class RecentIds:
    """A bounded set of recently seen message ids (oldest forgotten first).

    It catches redeliveries quickly; the ``events`` table's unique key catches what it
    has forgotten (or what another hub worker saw).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, message_id: str) -> bool:
        """True if ``message_id`` was seen before; remembers it otherwise."""
        ids = self._ids
        if message_id in ids:
            return True
        ids[message_id] = None
        if len(ids) > self.capacity:
            ids.popitem(last=False)
        return False

    def forget(self, message_id: str) -> None:
        """Forget an id (its message was not stored after all, so a redelivery must pass)."""
        self._ids.pop(message_id, None)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class SequenceCheck:
    """What one sequence number says: ``missing`` messages skipped, or ``late``."""

    missing: int = 0
    late: bool = False


class SequenceTracker:
    """Highest sequence number per device (a device's ``seq`` grows by one per message)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def observe(self, device_id: str, seq: int) -> SequenceCheck:
        """Record ``seq``; a jump reports the missing count, a lower number is ``late``."""
        last = self._last.get(device_id)
        if last is None or seq == last + 1:
            self._last[device_id] = seq
            return _OK
        if seq > last:
            self._last[device_id] = seq
            return SequenceCheck(missing=seq - last - 1)
        # Older or equal: a replay from the device's queue, a reordering, or a restart.
        if seq == 0:
            self._last[device_id] = 0
        return _LATE


_OK = SequenceCheck()
_LATE = SequenceCheck(late=True)
