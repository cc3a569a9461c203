"""What the rules remember about one resident between events (a frozen value).

The hub stores it (JSON via :func:`alerts.codec.state_to_json`) and hands it back with
the next event or timer; the rules return a new one. Nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from alerts.i18n import Explanation
from alerts.model import RuleKind

HOURS = 24


@dataclass(frozen=True, slots=True)
class PendingPrompt:
    """A tablet question in flight; ``rule`` raises ``explanation`` if unanswered."""

    prompt_id: str
    kind: str
    rule: RuleKind
    sent_at: datetime
    expires: datetime
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """Supervision state of one device."""

    device_id: str
    offline_since: datetime | None = None
    offline_alarmed: bool = False
    # Declared offline by the gateway's supervision: it already waited, no extra grace.
    supervised: bool = False


@dataclass(frozen=True, slots=True)
class RoomTemperature:
    """Last temperature of a room and since when it is out of range."""

    room: str
    celsius: float
    out_since: datetime | None = None
    alarmed: bool = False


# The day "starts" at the first run of WAKE_EVENTS activities within WAKE_SPAN_MIN
# minutes: one trip to the bathroom at 06:10 is not getting up.
WAKE_EVENTS = 3
WAKE_SPAN_MIN = 30


@dataclass(frozen=True, slots=True)
class DayActivity:
    """Activity counts per local hour of one local day, and when the resident got up."""

    day: date
    hourly: tuple[int, ...] = (0,) * HOURS
    first_active_minute: int | None = None
    # Start and length of the current candidate run of morning activity.
    wake_candidate: tuple[int, int] | None = None

    def add(self, hour: int, minute_of_day: int, counts_as_waking: bool) -> DayActivity:
        """One more activity in ``hour``."""
        hourly = list(self.hourly)
        hourly[hour] += 1
        first = self.first_active_minute
        candidate = self.wake_candidate
        if counts_as_waking and first is None:
            if candidate is None or minute_of_day - candidate[0] > WAKE_SPAN_MIN:
                candidate = (minute_of_day, 1)
            else:
                candidate = (candidate[0], candidate[1] + 1)
            if candidate[1] >= WAKE_EVENTS:
                first, candidate = candidate[0], None
        return replace(
            self, hourly=tuple(hourly), first_active_minute=first, wake_candidate=candidate
        )


@dataclass(frozen=True, slots=True)
class ResidentState:
    """Everything the rules know about a resident, as of ``cursor``."""

    home_id: str
    resident_id: str
    # Timer rules have been evaluated up to this instant (never moves backwards).
    cursor: datetime
    monitored_since: datetime
    last_activity_at: datetime | None = None
    inactivity_alarmed: bool = False
    prompt: PendingPrompt | None = None
    last_check_in_at: datetime | None = None
    bed_out_since: datetime | None = None
    bed_alarmed: bool = False
    # Set by bed_return, cleared by bed_exit: lying in bed since then (bed sensor homes).
    in_bed_since: datetime | None = None
    rooms: tuple[RoomTemperature, ...] = ()
    medication_taken: tuple[tuple[str, datetime], ...] = ()
    devices: tuple[DeviceHealth, ...] = ()
    today: DayActivity | None = None
    history: tuple[DayActivity, ...] = ()
    baseline_flagged: frozenset[str] = field(default_factory=frozenset)
    # Earliest pending timer as last computed (a cache: None means "compute again").
    timer_hint: datetime | None = None

    def timer_fields(self) -> tuple[object, ...]:
        """The fields from which an event can create a timer EARLIER than the hint."""
        return (
            self.prompt,
            self.inactivity_alarmed,
            self.bed_out_since,
            self.bed_alarmed,
            tuple((r.room, r.out_since, r.alarmed) for r in self.rooms),
            self.devices,
        )

    def room(self, name: str) -> RoomTemperature | None:
        """Temperature state of ``name``."""
        return next((r for r in self.rooms if r.room == name), None)

    def with_room(self, room: RoomTemperature) -> ResidentState:
        """Copy with ``room`` replaced or added."""
        others = tuple(r for r in self.rooms if r.room != room.room)
        return replace(self, rooms=(*others, room))

    def device(self, device_id: str) -> DeviceHealth:
        """Supervision state of ``device_id`` (healthy if unknown)."""
        found = next((d for d in self.devices if d.device_id == device_id), None)
        return found or DeviceHealth(device_id)

    def with_device(self, device: DeviceHealth) -> ResidentState:
        """Copy with ``device`` replaced or added."""
        others = tuple(d for d in self.devices if d.device_id != device.device_id)
        return replace(self, devices=(*others, device))

    def taken_at(self, schedule: str) -> datetime | None:
        """When dose ``schedule`` was last confirmed."""
        return next((at for name, at in self.medication_taken if name == schedule), None)
