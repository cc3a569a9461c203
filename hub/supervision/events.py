"""Events the hub makes itself (not on the wire): a device went silent or came back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from protocol import EventBody


class DeviceOffline(EventBody, frozen=True, tag="device_offline"):
    """A device stopped being heard: Last Will, shutdown, or silence past its interval."""

    reason: Literal["will", "shutdown", "supervision"] = "supervision"
    last_seen: datetime | None = None


class DeviceOnline(EventBody, frozen=True, tag="device_online"):
    """A device that was offline is heard again."""


# Alarm-worthy technical events the alert engine may want to treat like device ones.
SUPERVISION_EVENT_TYPES = frozenset({"device_offline", "device_online"})
