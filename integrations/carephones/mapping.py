"""What a unit's event means for us: Contact ID and SIA DCS codes → ``UnitEvent`` kinds.

The codes are the standards' (SIA DC-05 Contact ID event codes, SIA DC-03 SIA DCS codes);
the kinds are ``protocol.UnitEventKind``, which the alerts core turns into alarm rules. A
code not listed here is ``unknown``: it still reaches the operator as a technical alarm
showing the raw code, it is never dropped. Neither standard has a code for a fall: a unit's
fall detector reports a medical or personal emergency alarm from its own zone, so the
installer lists those zones (``fall_zones``) and we read them as falls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from integrations.carephones.dc09.content import EventCode

# Contact ID event code → kind (the qualifier says new, restore or still present).
CONTACT_ID: dict[str, str] = {
    "100": "medical",
    "101": "panic",  # personal emergency (pendant)
    "102": "fail_to_report",
    "110": "fire",
    "111": "smoke",
    "112": "fire",  # combustion
    "114": "heat",
    "117": "fire",  # flame
    "120": "panic",
    "121": "panic",  # duress
    "122": "panic",  # silent
    "123": "panic",  # audible
    "137": "tamper",
    "144": "tamper",  # sensor tamper
    "145": "tamper",  # expansion module tamper
    "147": "rf_supervision",  # sensor supervision failure
    "151": "gas",
    "154": "water_leak",
    "158": "temperature_high",
    "159": "temperature_low",
    "162": "co",
    "301": "power_lost",  # AC loss
    "302": "low_battery",  # low system battery
    "309": "low_battery",  # battery test failure
    "311": "low_battery",  # battery missing or dead
    "338": "low_battery",  # expansion module low battery
    "341": "tamper",  # expansion module tamper
    "342": "power_lost",  # expansion module AC loss
    "381": "rf_supervision",  # loss of supervision, RF
    "383": "tamper",  # sensor tamper
    "384": "rf_low_battery",
    "601": "test",  # manual test
    "602": "test",  # periodic test
    "603": "test",  # periodic RF transmission
}

# SIA DCS alarm/trouble code → kind, and restore code → kind.
SIA_ALARMS: dict[str, str] = {
    "PA": "panic",
    "HA": "panic",  # hold-up (duress)
    "QA": "panic",  # emergency
    "MA": "medical",
    "FA": "fire",
    "GA": "gas",
    "KA": "heat",
    "WA": "water_leak",
    "ZA": "temperature_low",  # freeze
    "AT": "power_lost",
    "YT": "low_battery",
    "YM": "low_battery",  # system battery missing
    "XT": "rf_low_battery",
    "TA": "tamper",
    "XS": "tamper",  # RF receiver tamper
    "XL": "rf_supervision",  # low RF signal / connection lost
    "RP": "test",  # automatic test
    "RX": "test",  # manual test
}
SIA_RESTORES: dict[str, str] = {
    "PH": "panic",
    "HH": "panic",
    "QH": "panic",
    "QR": "panic",
    "MH": "medical",
    "MR": "medical",
    "FH": "fire",
    "GH": "gas",
    "KH": "heat",
    "WH": "water_leak",
    "ZH": "temperature_low",
    "AR": "power_lost",
    "YR": "low_battery",
    "XR": "rf_low_battery",
    "TR": "tamper",
}

# Kinds a fall detector's zone turns into a fall.
_FALL_FROM = frozenset({"medical", "panic"})


@dataclass(frozen=True, slots=True)
class Mapped:
    """Our reading of one event: the kind, whether it ends the condition, and its code."""

    kind: str
    restore: bool
    code: str


def map_event(event: EventCode, fall_zones: frozenset[str] = frozenset()) -> Mapped:
    """The kind of ``event``; ``unknown`` for a code the standards' tables here lack."""
    if event.format == "ADM-CID":
        kind = CONTACT_ID.get(event.code, "unknown")
        restore = event.restore
        code = ("R" if restore else "E") + event.code
    else:
        restore = event.code in SIA_RESTORES
        kind = (SIA_RESTORES if restore else SIA_ALARMS).get(event.code, "unknown")
        code = event.code
    if kind in _FALL_FROM and _zone(event.zone) in fall_zones:
        kind = "fall"
    return Mapped(kind, restore, code)


def _zone(zone: str) -> str:
    # Zones are written with leading zeros ("003") or not ("3"); compare numbers.
    return zone.lstrip("0") or "0"


def parse_zones(text: str) -> frozenset[str]:
    """``"3, 004"`` → the zone numbers as compared by :func:`map_event`."""
    return frozenset(_zone(z.strip()) for z in text.split(",") if z.strip())


# SCAIP status codes (``stc``) → kind. Only the codes we could confirm from public material
# are here (docs/adr/0120): a centre holding CLC/TS 50134-9's code table adds the others with
# ``[hub] scaip_status_codes``. Any other code still reaches the operator (``unknown``).
SCAIP_STATUS: dict[int, str] = {
    10: "panic",  # alarm (a person's alarm: the unit calls for speech)
    102: "test",  # test transmission, primary channel
}
# Codes that end the unit's alarm (the person cancelled it at the unit).
SCAIP_CANCEL: frozenset[int] = frozenset({19})


def map_scaip(
    mty: str,
    status: int | None,
    device: str,
    fall_devices: frozenset[str] = frozenset(),
    extra: Mapping[int, str] | None = None,
) -> Mapped:
    """The kind of one SCAIP message: an ``ME``/``IN`` event, or an ``RE`` (the unit
    withdrew its alarm) or cancel code, which are restores. ``device`` is the message's
    device id (``did``); a listed fall detector's alarm is a fall."""
    table = {**SCAIP_STATUS, **(extra or {})}
    code = f"{mty}{status if status is not None else ''}"
    if mty == "RE" or status in SCAIP_CANCEL:
        ended = table.get(status, "panic") if status is not None else "panic"
        # A cancel, or a withdrawal of something we cannot name, ends the person's alarm.
        return Mapped("panic" if ended in ("unknown", "test") else ended, True, code)
    kind = table.get(status, "unknown") if status is not None else "panic"
    if kind in _FALL_FROM and _zone(device) in fall_devices:
        kind = "fall"
    return Mapped(kind, False, code)


def parse_status_codes(text: str, kinds: frozenset[str]) -> dict[int, str]:
    """``"12=fall, 20=smoke"`` → {12: "fall", 20: "smoke"}; a bad item raises ValueError."""
    table: dict[int, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        code, sep, kind = item.partition("=")
        code, kind = code.strip(), kind.strip()
        if not sep or not code.isdigit() or len(code) > 4 or kind not in kinds:
            raise ValueError(
                f"{item.strip()!r}: expected CODE=KIND with KIND one of {sorted(kinds)}"
            )
        table[int(code)] = kind
    return table
