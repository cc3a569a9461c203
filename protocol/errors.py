"""Typed errors raised when a message or topic breaks the wire contract."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why a message was refused; the hub counts rejections per reason."""

    BAD_TOPIC = "bad_topic"
    OVERSIZE = "oversize"
    MALFORMED = "malformed"
    INVALID = "invalid"
    UNSUPPORTED_VERSION = "unsupported_version"
    NON_FINITE = "non_finite"
    FUTURE_TIMESTAMP = "future_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    # Decided by the hub, not by the decoder, but counted under the same names.
    UNKNOWN_DEVICE = "unknown_device"
    WRONG_DEVICE = "wrong_device"
    DUPLICATE = "duplicate"


class ProtocolError(ValueError):
    """A topic or payload that does not follow the contract.

    ``reason`` is a stable machine-readable code; ``str(err)`` says what was wrong
    in words an integrator can act on.
    """

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class TopicError(ProtocolError):
    """A topic name or device id that the contract does not allow."""

    def __init__(self, detail: str) -> None:
        super().__init__(RejectReason.BAD_TOPIC, detail)


class DecodeError(ProtocolError):
    """A payload that could not be turned into a valid message."""
