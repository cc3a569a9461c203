"""Message schemas of the contract (msgspec Structs).

Every message is an :class:`Envelope` around a body. Bodies are tagged unions: the
``type`` field names the event, the ``name`` field names the command. Unknown fields
are ignored so that newer devices can talk to an older hub.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from typing import Annotated, Generic, Literal, TypeAlias, TypeVar

import msgspec
from msgspec import Meta, Struct

from protocol.i18n import Language

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

MessageId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Sequence = Annotated[int, Meta(ge=0, le=2**63 - 1)]
AwareDatetime = Annotated[datetime, Meta(tz=True)]
_WORD_PATTERN = r"^[a-z][a-z0-9_]*$"
Token = Annotated[str, Meta(min_length=1, max_length=32, pattern=_WORD_PATTERN)]
ShortText = Annotated[str, Meta(max_length=500)]
Percent = Annotated[int, Meta(ge=0, le=100)]
Room = Annotated[str, Meta(max_length=40)]


def is_token(value: str) -> bool:
    """Is ``value`` a :data:`Token` (a telemetry kind, a reason: 1-32 of ``[a-z0-9_]``)?"""
    return 0 < len(value) <= 32 and re.fullmatch(_WORD_PATTERN, value) is not None


def _require_finite(name: str, value: float | None) -> None:
    # JSON has no NaN, but 1e999 decodes to inf; refuse both with a clear message.
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


# ---------------------------------------------------------------- telemetry


class Telemetry(Struct, frozen=True, kw_only=True):
    """One reading of a sensor: ``kind`` says what, ``value`` in ``unit``."""

    kind: Token
    value: float
    unit: Annotated[str, Meta(max_length=16)] = ""
    room: Room | None = None

    def __post_init__(self) -> None:
        _require_finite("value", self.value)


# ---------------------------------------------------------------- events


class EventBody(Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every event body; ``room`` is where the sensor is."""

    room: Room | None = None


class Panic(EventBody, frozen=True, tag="panic"):
    """Help button pressed (pendant, wall button or the tablet's Help)."""

    source: Literal["pendant", "wall_button", "tablet"] = "pendant"


class Fall(EventBody, frozen=True, tag="fall"):
    """Fall confirmed by the agent after its cancel window elapsed."""

    confidence: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None


class FallCancelled(EventBody, frozen=True, tag="fall_cancelled"):
    """The resident cancelled a detected fall within the cancel window."""

    fall_id: MessageId | None = None


class CheckIn(EventBody, frozen=True, tag="check_in"):
    """The resident said "I'm OK" (tablet or button)."""

    source: Literal["tablet", "button"] = "tablet"


class DoorOpen(EventBody, frozen=True, tag="door_open"):
    """A door contact opened."""

    door: Annotated[str, Meta(max_length=40)] = "front"


class DoorClose(EventBody, frozen=True, tag="door_close"):
    """A door contact closed."""

    door: Annotated[str, Meta(max_length=40)] = "front"


class Motion(EventBody, frozen=True, tag="motion"):
    """A PIR saw movement."""


class BedExit(EventBody, frozen=True, tag="bed_exit"):
    """The bed sensor saw the resident get up."""


class BedReturn(EventBody, frozen=True, tag="bed_return"):
    """The bed sensor saw the resident lie down again."""


class Smoke(EventBody, frozen=True, tag="smoke"):
    """Smoke detector; ``cleared`` is sent when it stops."""

    cleared: bool = False


class CarbonMonoxide(EventBody, frozen=True, tag="co"):
    """CO detector; ``ppm`` when the sensor reports it."""

    cleared: bool = False
    ppm: float | None = None

    def __post_init__(self) -> None:
        _require_finite("ppm", self.ppm)


class Flood(EventBody, frozen=True, tag="flood"):
    """Water leak detector."""

    cleared: bool = False


class Gas(EventBody, frozen=True, tag="gas"):
    """Combustible gas detector (natural gas, LPG); ``cleared`` is sent when it stops."""

    cleared: bool = False


class Temperature(EventBody, frozen=True, tag="temperature"):
    """A room temperature crossing a threshold the device was configured with."""

    celsius: Annotated[float, Meta(ge=-60.0, le=100.0)]

    def __post_init__(self) -> None:
        _require_finite("celsius", self.celsius)


class LowBattery(EventBody, frozen=True, tag="low_battery"):
    """Battery below the device's warning level.

    ``percent`` only when the device reported a level below that warning level; a device
    that only raises a low-battery flag sends none (a stale "100 %" would be a lie).
    """

    percent: Percent | None = None


class Tamper(EventBody, frozen=True, tag="tamper"):
    """Casing opened or device removed from its mount."""


class PowerLost(EventBody, frozen=True, tag="power_lost"):
    """Mains power lost (the gateway runs on battery)."""


class PowerRestored(EventBody, frozen=True, tag="power_restored"):
    """Mains power back."""


DeviceFaultKind = Literal["trouble", "battery_defect", "unknown_action", "flooding"]


class DeviceFault(EventBody, frozen=True, tag="device_fault"):
    """A device reports a fault, or sent something the gateway cannot interpret.

    ``trouble``: the sensor's own fault flag (a smoke chamber, a gas cell); ``battery_defect``:
    the battery must be replaced, whatever its level; ``unknown_action``: a button or sensor
    sent an action the gateway has no meaning for (``detail`` names it), so the operator
    checks the device instead of the press being lost; ``flooding``: the device sends faster
    than the contract's rate (``protocol.ratelimit``, ``detail`` says what), its routine
    messages are being dropped — made by the gateway or by the hub, never by a sensor.
    """

    fault: DeviceFaultKind
    detail: Annotated[str, Meta(max_length=40)] | None = None


class MedicationTaken(EventBody, frozen=True, tag="medication_taken"):
    """A medication dose was confirmed (dispenser or tablet).

    ``schedule`` names the dose as the care plan does ("insulin 08:00", what the tablet
    sends); a pill dispenser that knows only its compartment's time sends that time
    ("08:00"), one that knows nothing sends "" and the hub takes the doses due nearest
    (``alerts.MedicationSettings.confirmed_by``; docs/adr/0174)."""

    schedule: Annotated[str, Meta(max_length=40)]


class MedicationMissed(EventBody, frozen=True, tag="medication_missed"):
    """A medication dose was not confirmed in time (dispenser); ``schedule`` as in
    :class:`MedicationTaken`."""

    schedule: Annotated[str, Meta(max_length=40)]


class PromptAnswer(EventBody, frozen=True, tag="prompt_answer"):
    """The resident answered a pre-alarm prompt on the tablet."""

    prompt_id: MessageId
    answer: Literal["fine", "help"]


UnitEventKind = Literal[
    "panic",
    "medical",
    "fall",
    "fail_to_report",
    "fire",
    "smoke",
    "heat",
    "co",
    "gas",
    "water_leak",
    "temperature_high",
    "temperature_low",
    "power_lost",
    "low_battery",
    "rf_low_battery",
    "tamper",
    "rf_supervision",
    "test",
    "unknown",
]


class UnitEvent(EventBody, frozen=True, tag="unit_event"):
    """An event of a certified unit (carephone, alarm panel) received by one of the hub's
    alarm-receiver protocols (SIA DC-09), already mapped to a ``kind``.

    The hub makes these itself: an MQTT device may not send one. ``code`` is the event as
    the unit said it (Contact ID ``E101``/``R101``, SIA ``MA``), ``raw`` its data text, so
    the operator sees exactly what came; ``restore`` says the condition ended.
    """

    protocol: Literal["dc09", "scaip"]
    kind: UnitEventKind
    code: Annotated[str, Meta(max_length=16)]
    restore: bool = False
    zone: Annotated[str, Meta(max_length=16)] = ""
    raw: Annotated[str, Meta(max_length=256)] = ""


Event: TypeAlias = (
    Panic
    | Fall
    | FallCancelled
    | CheckIn
    | DoorOpen
    | DoorClose
    | Motion
    | BedExit
    | BedReturn
    | Smoke
    | CarbonMonoxide
    | Flood
    | Gas
    | Temperature
    | LowBattery
    | Tamper
    | PowerLost
    | PowerRestored
    | DeviceFault
    | MedicationTaken
    | MedicationMissed
    | PromptAnswer
    | UnitEvent
)

EVENT_TYPES: dict[str, type[EventBody]] = {cls.__struct_config__.tag: cls for cls in Event.__args__}

# Events that can raise an alarm: the agent never drops them from its queue and the
# hub commits them before acknowledging the broker.
ALARM_EVENT_TYPES = frozenset(
    {
        "panic",
        "fall",
        "smoke",
        "co",
        "flood",
        "gas",
        "temperature",
        "tamper",
        "power_lost",
        "medication_missed",
        "door_open",
        "bed_exit",
        "low_battery",
        "prompt_answer",
        "device_fault",
        "unit_event",
    }
)

# Events only the hub's receivers make (from certified units); refused on MQTT.
RECEIVER_EVENT_TYPES = frozenset({"unit_event"})


def event_type(body: EventBody) -> str:
    """The wire name (``type`` tag) of an event body."""
    return str(type(body).__struct_config__.tag)


# ---------------------------------------------------------------- status


class Status(Struct, frozen=True, kw_only=True):
    """Retained presence of a device; the broker publishes ``offline`` as its Last Will."""

    state: Literal["online", "offline"]
    reason: Literal["connected", "heartbeat", "shutdown", "will", "supervision"] = "connected"
    firmware: Annotated[str, Meta(max_length=40)] | None = None
    battery: Percent | None = None
    rssi: Annotated[int, Meta(ge=-150, le=0)] | None = None


# ---------------------------------------------------------------- commands


class CommandBody(Struct, frozen=True, kw_only=True, tag_field="name"):
    """Base of every hub→device command."""


class InactivityWindow(Struct, frozen=True, kw_only=True):
    """Movement expected between ``start`` and ``end`` local time."""

    start: time
    end: time


# How the resident is addressed where Catalan and Spanish words take a gender ("tranquil·la"
# / "tranquil", "sola" / "sol"); "unknown" (nobody said) is phrased neutrally, as "neutral".
AddressForm: TypeAlias = Literal["unknown", "feminine", "masculine", "neutral"]
ADDRESS_FORMS: tuple[AddressForm, ...] = ("unknown", "feminine", "masculine", "neutral")


class Configure(CommandBody, frozen=True, tag="configure"):
    """Settings pushed by the hub; absent fields keep their current value.

    ``address_form`` was added within schema version 1 (issue 23): a tablet that does not
    know it ignores it and keeps its neutral phrasing."""

    supervision_s: Annotated[int, Meta(ge=30, le=86_400)] | None = None
    heartbeat_s: Annotated[int, Meta(ge=10, le=86_400)] | None = None
    fall_cancel_s: Annotated[int, Meta(ge=5, le=120)] | None = None
    inactivity_windows: list[InactivityWindow] | None = None
    check_in_deadlines: list[time] | None = None
    language: Language | None = None
    address_form: AddressForm | None = None


class Ping(CommandBody, frozen=True, tag="ping"):
    """Asks the device to answer with an :class:`Ack`."""


class Reminder(CommandBody, frozen=True, tag="reminder"):
    """A reminder for the resident (medication, appointment)."""

    reminder_id: MessageId
    text: ShortText
    due: AwareDatetime
    kind: Literal["medication", "appointment", "other"] = "other"


class PlayMessage(CommandBody, frozen=True, tag="play_message"):
    """Speak or show a short message on the tablet or gateway speaker.

    ``speak`` and ``confirm`` were added within schema version 1 (issue 22): ``speak`` False
    shows the text without saying it; ``confirm`` True asks the resident to press "I've read
    it" so the centre hears it was read. A device that does not know them speaks every
    message and offers OK (what every tablet before did)."""

    text: ShortText
    language: Language = "ca"
    speak: bool = True
    confirm: bool = False


class FirmwareInfo(CommandBody, frozen=True, tag="firmware_info"):
    """Asks the device to report its firmware; it answers in the :class:`Ack` detail."""


class Prompt(CommandBody, frozen=True, tag="prompt"):
    """A pre-alarm question on the tablet ("Are you all right?")."""

    prompt_id: MessageId
    kind: Literal["inactivity", "medication", "wellbeing"]
    expires: AwareDatetime
    schedule: Annotated[str, Meta(max_length=40)] | None = None


class PromptWithdrawn(CommandBody, frozen=True, tag="prompt_withdrawn"):
    """The hub no longer asks ``prompt_id`` (docs/adr/0174): a medication reminder whose
    dose the home's pill dispenser confirmed. The tablet takes it off the screen (and does
    not bring it back if it was put off) and acknowledges the reminder, as if the resident
    had pressed "I've taken it", without confirming the dose a second time.

    Added within schema version 1: a device that does not know the name refuses the command
    as invalid (logged, nothing else) and shows the reminder until it expires, as before."""

    prompt_id: MessageId
    reason: Literal["medication_taken"] = "medication_taken"


class AlarmReceived(CommandBody, frozen=True, tag="alarm_received"):
    """Tells the tablet/pendant that the centre has the alarm (closes the loop)."""

    alarm_id: MessageId
    event_id: MessageId | None = None


class EventReceived(CommandBody, frozen=True, tag="event_received"):
    """The hub has applied the device's alarm-capable event ``event_id`` (end-to-end
    acknowledgement, docs/adr/0125): the device stops re-sending it. Not answered with an Ack."""

    event_id: MessageId


Command: TypeAlias = (
    Configure
    | Ping
    | Reminder
    | PlayMessage
    | FirmwareInfo
    | Prompt
    | PromptWithdrawn
    | AlarmReceived
    | EventReceived
)

COMMAND_NAMES: dict[str, type[CommandBody]] = {
    cls.__struct_config__.tag: cls for cls in Command.__args__
}


def command_name(body: CommandBody) -> str:
    """The wire name (``name`` tag) of a command body; also its topic's last level."""
    return str(type(body).__struct_config__.tag)


# ---------------------------------------------------------------- acknowledgements


# What became of a command on the device (docs/adr/0163): ``received`` (handled on arrival),
# ``shown`` (on the screen and spoken), ``postponed`` (the resident asked to be reminded
# later; ``Ack.until`` says when it comes back), ``acknowledged`` (the resident answered it).
CommandState = Literal["received", "shown", "postponed", "acknowledged"]


class Ack(Struct, frozen=True, kw_only=True):
    """A device's answer to a command (published on its ``ack`` channel).

    ``state`` and ``until`` were added within schema version 1 (docs/adr/0163): a device
    that does not send them (every device before) means ``received``; a hub that does not
    know them ignores them (unknown fields are ignored). A device may send several acks for
    one command as it goes from received to shown to acknowledged; the receiver orders them
    by the envelope's ``ts``.
    """

    command_id: MessageId
    ok: bool
    error: ShortText | None = None
    firmware: Annotated[str, Meta(max_length=40)] | None = None
    state: CommandState | None = None
    until: AwareDatetime | None = None


# ---------------------------------------------------------------- envelope

B = TypeVar("B")


class Envelope(Struct, Generic[B], frozen=True, kw_only=True):
    """What travels on every topic: version, id, device time, sequence and body."""

    v: int
    id: MessageId
    ts: AwareDatetime
    seq: Sequence
    body: B


TelemetryMessage: TypeAlias = Envelope[Telemetry]
EventMessage: TypeAlias = Envelope[Event]
StatusMessage: TypeAlias = Envelope[Status]
CommandMessage: TypeAlias = Envelope[Command]
AckMessage: TypeAlias = Envelope[Ack]


def envelope(body: B, *, id: str, ts: datetime, seq: int) -> Envelope[B]:
    """Wrap ``body`` in an envelope of the current schema version."""
    return Envelope(v=SCHEMA_VERSION, id=id, ts=ts, seq=seq, body=body)


def to_builtins(msg: Struct) -> object:
    """Plain Python view of a message, for logs and JSON APIs."""
    return msgspec.to_builtins(msg)
