"""``[alarms]`` settings: the 112 endpoint, the sending centre, notification channels."""

from __future__ import annotations

import msgspec

from alerts.emergency import PayloadFormat, check_identifier
from alerts.errors import AlertsValueError


class AlarmSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Read with ``config.section("alarms", AlarmSettings)``; env ``TELEASSIST_ALARMS__KEY``."""

    # Empty: no 112 gateway (an escalation to 112 is then recorded as NOT delivered).
    emergency_url: str = ""
    emergency_format: PayloadFormat = PayloadFormat.EIDO
    emergency_token: str = ""
    emergency_attempts: int = 4
    centre_id: str = "teleassist"
    centre_name: str = "Teleassist"
    callback_phone: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "teleassist@localhost"
    sms_url: str = ""
    sms_token: str = ""
    # Run the timer loop (tests that drive timers by hand switch it off).
    scheduler: bool = True
    # Days what was sent to tablets (messages, reminders, and what became of them) is kept
    # after its expiry and its last state; the engine's housekeeping drops it then.
    delivery_retention_days: int = 90

    def __post_init__(self) -> None:
        if not 1 <= self.delivery_retention_days <= 3660:
            raise ValueError("delivery_retention_days must be between 1 and 3660")
        # The CAP sender id and EIDO agency id: 112 quotes it back in every reference,
        # so a space, comma, '<' or '&' is refused at start-up, not sent.
        try:
            check_identifier(self.centre_id, "centre_id")
        except AlertsValueError as err:
            raise ValueError(str(err)) from None
