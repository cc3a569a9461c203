"""Duplicate detection by message id, and gap detection by per-device sequence."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# A message is identified by its device and its id: ids are unique per device only
# (docs/protocol.md), so two homes' devices may use the same id for different messages.
MessageKey = tuple[str, str]  # (device id, message id)


class RecentIds:
    """A bounded set of recently seen (device id, message id) pairs (oldest forgotten first).

    It catches redeliveries quickly; the ``events`` table's unique key on the same pair
    catches what it has forgotten (or what another hub worker saw).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[MessageKey, None] = OrderedDict()

    def seen(self, device_id: str, message_id: str) -> bool:
        """True if ``device_id`` sent ``message_id`` before; remembers it otherwise."""
        ids = self._ids
        key = (device_id, message_id)
        if key in ids:
            return True
        ids[key] = None
        if len(ids) > self.capacity:
            ids.popitem(last=False)
        return False

    def forget(self, device_id: str, message_id: str) -> None:
        """Forget a message (it was not stored after all, so a redelivery must pass)."""
        self._ids.pop((device_id, message_id), None)

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
