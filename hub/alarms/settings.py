"""``[alarms]`` settings: the 112 endpoint, the sending centre, notification channels."""

from __future__ import annotations

import msgspec

from alerts.emergency import PayloadFormat


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
