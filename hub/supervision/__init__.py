"""Device supervision: online/offline, ``device_offline``/``device_online`` events, low battery."""

from hub.supervision.events import SUPERVISION_EVENT_TYPES, DeviceOffline, DeviceOnline
from hub.supervision.supervisor import Supervisor, Watch

__all__ = ["SUPERVISION_EVENT_TYPES", "DeviceOffline", "DeviceOnline", "Supervisor", "Watch"]
