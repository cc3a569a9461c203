"""Notification channels (ports + adapters): e-mail, SMS gateway, webhook, tablet, family push.

Unlike the pure core, this package does I/O. Every adapter reports a failed delivery as a
:class:`DeliveryResult` with ``delivered=False``: nothing is swallowed.
"""

from alerts.channels.base import DeliveryResult, Notification, NotificationChannel, Recipient
from alerts.channels.email import EmailChannel, SmtpSettings
from alerts.channels.http import RetryPolicy
from alerts.channels.messages import contact_notification
from alerts.channels.push import FamilyPush
from alerts.channels.sms import SmsChannel, SmsGatewaySettings
from alerts.channels.tablet import AiomqttPublisher, CommandPublisher, TabletChannel
from alerts.channels.webhook import WebhookChannel, WebhookSettings, signature

__all__ = [
    "AiomqttPublisher",
    "CommandPublisher",
    "DeliveryResult",
    "EmailChannel",
    "FamilyPush",
    "Notification",
    "NotificationChannel",
    "Recipient",
    "RetryPolicy",
    "SmsChannel",
    "SmsGatewaySettings",
    "SmtpSettings",
    "TabletChannel",
    "WebhookChannel",
    "WebhookSettings",
    "contact_notification",
    "signature",
]
