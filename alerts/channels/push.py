"""Family push: the port the family app implements (over the hub's websocket or Web Push).

The family engineer provides the adapter; alerts only needs "deliver this notification
to this contact's signed-in family devices and tell me whether it went out".
"""

from __future__ import annotations

from typing import Protocol

from alerts.channels.base import DeliveryResult, Notification


class FamilyPush(Protocol):
    """Push to the family web app of one contact (``notification.recipient``)."""

    @property
    def name(self) -> str:
        """Always "push"."""
        ...

    async def send(self, notification: Notification) -> DeliveryResult:
        """Deliver to the contact's open family sessions; not delivered if none."""
        ...
