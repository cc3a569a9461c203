"""Rules the gateway applies itself, so they work with no network.

Pure state machines over an injected time: no clock is read here. The agent feeds
them sensor events and asks what is due; the simulator uses the same code to build
the hub's view of a trace, so both agree on what a cancelled fall looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_FALL_CANCEL = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class PendingFall:
    """A fall the detector reported; it becomes an alarm when its window elapses."""

    fall_id: str
    detected_at: datetime
    device_id: str
    room: str | None
    confidence: float | None

    def deadline(self, window: timedelta) -> datetime:
        """When the fall is confirmed if nobody cancels it."""
        return self.detected_at + window


@dataclass
class FallCancelWindow:
    """The fall detector's cancel window (default 30 s).

    A detected fall is held; a button press within the window cancels it (the hub
    is told with ``fall_cancelled``); otherwise it is confirmed when :meth:`due` is
    asked at or after its deadline. A press after the window does not cancel.
    """

    window: timedelta = DEFAULT_FALL_CANCEL
    _pending: list[PendingFall] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.window < timedelta(0):
            raise ValueError("the fall cancel window must not be negative")

    def detected(
        self,
        fall_id: str,
        at: datetime,
        device_id: str,
        room: str | None = None,
        confidence: float | None = None,
    ) -> PendingFall:
        """Hold a newly detected fall."""
        fall = PendingFall(fall_id, at, device_id, room, confidence)
        self._pending.append(fall)
        return fall

    def cancel(self, at: datetime) -> list[PendingFall]:
        """A button press at ``at``: cancel every fall still inside its window."""
        cancelled = [f for f in self._pending if at <= f.deadline(self.window)]
        self._pending = [f for f in self._pending if f not in cancelled]
        return cancelled

    def due(self, now: datetime) -> list[PendingFall]:
        """Falls whose window has elapsed by ``now``: confirmed, removed, oldest first."""
        confirmed = [f for f in self._pending if f.deadline(self.window) < now]
        self._pending = [f for f in self._pending if f not in confirmed]
        return confirmed

    def next_deadline(self) -> datetime | None:
        """The earliest deadline of a pending fall, to schedule a wake-up."""
        if not self._pending:
            return None
        return min(f.deadline(self.window) for f in self._pending)

    @property
    def pending(self) -> tuple[PendingFall, ...]:
        """Falls waiting for their window to elapse."""
        return tuple(self._pending)
