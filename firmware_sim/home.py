"""A simulated home: its rooms and the devices installed in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from protocol import validate_device_id


class DeviceType(StrEnum):
    """What kind of device a record comes from (also used by the agent's sources)."""

    GATEWAY = "gateway"
    MOTION = "motion"
    CONTACT = "contact"
    BED = "bed"
    PENDANT = "pendant"
    FALL_DETECTOR = "fall_detector"
    SMOKE = "smoke"
    CO = "co"
    WATER_LEAK = "water_leak"
    THERMOMETER = "thermometer"
    PLUG = "plug"
    TABLET = "tablet"


# Devices that run on batteries report their level periodically (and drain).
BATTERY_TYPES = frozenset(
    {
        DeviceType.MOTION,
        DeviceType.CONTACT,
        DeviceType.BED,
        DeviceType.PENDANT,
        DeviceType.FALL_DETECTOR,
        DeviceType.SMOKE,
        DeviceType.CO,
        DeviceType.WATER_LEAK,
        DeviceType.THERMOMETER,
    }
)

ROOMS = ("bedroom", "bathroom", "kitchen", "living", "hall")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One installed device. ``appliance`` names what a smart plug powers."""

    device_id: str
    device_type: DeviceType
    room: str | None
    appliance: str | None = None

    def __post_init__(self) -> None:
        validate_device_id(self.device_id)


@dataclass(frozen=True, slots=True)
class HomeSpec:
    """A home with one resident, its devices and its time zone (routines are local time)."""

    home_id: str
    resident_id: str
    devices: tuple[DeviceSpec, ...]
    timezone: str = "Europe/Madrid"
    _by_id: dict[str, DeviceSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        ids = [d.device_id for d in self.devices]
        if len(set(ids)) != len(ids):
            raise ValueError(f"home {self.home_id}: duplicate device ids")
        self._by_id.update({d.device_id: d for d in self.devices})

    def device(self, device_id: str) -> DeviceSpec:
        """The device with this id; ``KeyError`` names it if absent."""
        try:
            return self._by_id[device_id]
        except KeyError:
            raise KeyError(f"home {self.home_id} has no device {device_id!r}") from None

    def find(self, device_type: DeviceType, room: str | None = None) -> DeviceSpec | None:
        """The first device of ``device_type`` (in ``room`` when given)."""
        for dev in self.devices:
            if dev.device_type == device_type and (room is None or dev.room == room):
                return dev
        return None

    def of_type(self, device_type: DeviceType) -> list[DeviceSpec]:
        """Every device of ``device_type``."""
        return [d for d in self.devices if d.device_type == device_type]

    @property
    def gateway(self) -> DeviceSpec:
        """The home's gateway (every standard home has one)."""
        gw = self.find(DeviceType.GATEWAY)
        if gw is None:
            raise ValueError(f"home {self.home_id} has no gateway")
        return gw


def standard_home(home_id: str, resident_id: str | None = None) -> HomeSpec:
    """The reference installation: gateway, PIR per room, front door, bed, pendant,
    bathroom fall detector, smoke/CO in the kitchen, leak sensor, two thermometers,
    kettle and TV plugs, and the tablet. Device ids are ``{home_id}-{what}``."""
    h = home_id
    devices = (
        DeviceSpec(f"{h}-gw", DeviceType.GATEWAY, "hall"),
        *(DeviceSpec(f"{h}-pir-{room}", DeviceType.MOTION, room) for room in ROOMS),
        DeviceSpec(f"{h}-door-front", DeviceType.CONTACT, "hall"),
        DeviceSpec(f"{h}-bed", DeviceType.BED, "bedroom"),
        DeviceSpec(f"{h}-pendant", DeviceType.PENDANT, None),
        DeviceSpec(f"{h}-fall-bathroom", DeviceType.FALL_DETECTOR, "bathroom"),
        DeviceSpec(f"{h}-smoke-kitchen", DeviceType.SMOKE, "kitchen"),
        DeviceSpec(f"{h}-co-kitchen", DeviceType.CO, "kitchen"),
        DeviceSpec(f"{h}-leak-bathroom", DeviceType.WATER_LEAK, "bathroom"),
        DeviceSpec(f"{h}-temp-living", DeviceType.THERMOMETER, "living"),
        DeviceSpec(f"{h}-temp-bedroom", DeviceType.THERMOMETER, "bedroom"),
        DeviceSpec(f"{h}-plug-kettle", DeviceType.PLUG, "kitchen", appliance="kettle"),
        DeviceSpec(f"{h}-plug-tv", DeviceType.PLUG, "living", appliance="tv"),
        DeviceSpec(f"{h}-tablet", DeviceType.TABLET, "living"),
    )
    return HomeSpec(home_id=h, resident_id=resident_id or f"{h}-r1", devices=devices)
