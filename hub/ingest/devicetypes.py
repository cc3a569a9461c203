"""What each kind of device can say, and how often it must be heard from.

Device types are the installer's words (``pendant``, ``motion``...); types not listed
here may send any event and use the default supervision interval.
"""

from __future__ import annotations

from datetime import timedelta

# Any battery device may report these, whatever it is.
# ``device_fault`` is how the gateway reports a fault flag or an action it cannot interpret.
COMMON_EVENTS = frozenset({"low_battery", "tamper", "power_lost", "power_restored", "device_fault"})

# Single-purpose sensors: an event outside their list is refused as ``wrong_device``
# (a door contact cannot press a panic button).
EVENTS_BY_TYPE: dict[str, frozenset[str]] = {
    "motion": frozenset({"motion"}),
    "contact": frozenset({"door_open", "door_close"}),
    # A pressure mat sees getting up and lying down; a vibration sensor under the
    # mattress only feels the resident move in bed (motion).
    "bed": frozenset({"bed_exit", "bed_return", "motion"}),
    "pendant": frozenset({"panic", "fall", "fall_cancelled", "check_in"}),
    "fall_detector": frozenset({"fall", "fall_cancelled"}),
    "smoke": frozenset({"smoke"}),
    "co": frozenset({"co"}),
    "gas": frozenset({"gas"}),
    "water_leak": frozenset({"flood"}),
    "thermometer": frozenset({"temperature"}),
    # A pill box confirms doses, or says one was not taken (docs/adr/0174).
    "dispenser": frozenset({"medication_taken", "medication_missed"}),
}


def event_allowed(device_type: str, event: str) -> bool:
    """True if a device of ``device_type`` may send ``event``."""
    allowed = EVENTS_BY_TYPE.get(device_type)
    return allowed is None or event in allowed or event in COMMON_EVENTS


# How long a device may stay silent before supervision declares it offline
# (EN 50134-style supervision: life-safety sensors are checked more often).
DEFAULT_SUPERVISION = timedelta(minutes=30)
SUPERVISION_BY_TYPE: dict[str, timedelta] = {
    "gateway": timedelta(minutes=5),
    "tablet": timedelta(minutes=30),
    "pendant": timedelta(minutes=30),
    "fall_detector": timedelta(minutes=30),
    "smoke": timedelta(minutes=30),
    "co": timedelta(minutes=30),
    "gas": timedelta(minutes=30),
    "water_leak": timedelta(hours=1),
    "motion": timedelta(hours=1),
    "contact": timedelta(hours=1),
    "bed": timedelta(hours=1),
    "thermometer": timedelta(hours=1),
    "plug": timedelta(hours=1),
    # A pill box may be heard from only when it is opened: zigbee2mqtt's own timeout for
    # battery devices (25 h), so a box that fell off the network is still noticed within a
    # day, and a dose it fails to confirm is a missed dose anyway.
    "dispenser": timedelta(hours=25),
}
