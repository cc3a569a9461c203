"""Strict encoding and decoding of the contract's messages.

The decoder never raises anything but :class:`~protocol.errors.DecodeError` for bad
input, whatever the bytes: the hub counts the ``reason`` and keeps going.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from protocol.errors import DecodeError, RejectReason
from protocol.messages import (
    SUPPORTED_VERSIONS,
    Ack,
    Command,
    Envelope,
    Event,
    Status,
    Telemetry,
)
from protocol.topics import Channel

MAX_PAYLOAD_BYTES = 16 * 1024
DEFAULT_MAX_FUTURE = timedelta(minutes=5)
# Store-and-forward may deliver messages recorded during a long outage.
DEFAULT_MAX_AGE = timedelta(days=30)

_encoder = msgspec.json.Encoder()

T = TypeVar("T")


def encode(message: msgspec.Struct) -> bytes:
    """Serialise a message to compact JSON bytes."""
    return _encoder.encode(message)


def new_message_id() -> str:
    """A fresh, unique message id (32 hex characters)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """How far a device timestamp may be from the receiver's clock."""

    max_future: timedelta = DEFAULT_MAX_FUTURE
    max_age: timedelta = DEFAULT_MAX_AGE


_NUL_ESCAPE = b"\\u0000"


class _Codec(Generic[T]):
    def __init__(self, body_type: Any) -> None:
        self._decoder = msgspec.json.Decoder(Envelope[body_type])

    def decode(
        self,
        payload: bytes,
        *,
        now: datetime | None = None,
        clock: ClockPolicy | None = None,
    ) -> Envelope[T]:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise DecodeError(
                RejectReason.OVERSIZE,
                f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}",
            )
        if _NUL_ESCAPE in payload:
            # JSON can carry U+0000 only as this escape (a raw NUL byte is malformed). No
            # text of the contract needs it, and PostgreSQL text refuses it: one device's
            # firmware string with it made every device's presence write fail.
            raise DecodeError(RejectReason.INVALID, "strings may not contain U+0000 (\\u0000)")
        try:
            msg: Envelope[T] = self._decoder.decode(payload)
        except msgspec.ValidationError as err:
            raise _validation_error(payload, str(err)) from None
        except msgspec.DecodeError as err:
            raise DecodeError(RejectReason.MALFORMED, f"not valid JSON: {err}") from None
        if msg.v not in SUPPORTED_VERSIONS:
            raise _unsupported(msg.v)
        check_timestamp(msg.ts, now=now, clock=clock)
        return msg


class _Header(msgspec.Struct):
    v: int


_header_decoder = msgspec.json.Decoder(_Header)


def _validation_error(payload: bytes, text: str) -> DecodeError:
    # Only on the error path: a newer schema version explains a body we cannot read.
    try:
        version = _header_decoder.decode(payload).v
    except (msgspec.ValidationError, msgspec.DecodeError):
        version = None
    if version is not None and version not in SUPPORTED_VERSIONS:
        return _unsupported(version)
    if "finite number" in text or "Number out of range" in text:
        return DecodeError(RejectReason.NON_FINITE, text)
    return DecodeError(RejectReason.INVALID, text)


def _unsupported(version: int) -> DecodeError:
    supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
    return DecodeError(
        RejectReason.UNSUPPORTED_VERSION,
        f"schema version {version} is not supported (supported: {supported})",
    )


def check_timestamp(
    ts: datetime, *, now: datetime | None = None, clock: ClockPolicy | None = None
) -> None:
    """Raise :class:`DecodeError` if ``ts`` is too far in the future or too old."""
    policy = clock or ClockPolicy()
    reference = now or datetime.now(UTC)
    if ts - reference > policy.max_future:
        raise DecodeError(
            RejectReason.FUTURE_TIMESTAMP,
            f"timestamp {ts.isoformat()} is more than {policy.max_future} ahead of the"
            f" receiver's clock ({reference.isoformat()})",
        )
    if reference - ts > policy.max_age:
        raise DecodeError(
            RejectReason.STALE_TIMESTAMP,
            f"timestamp {ts.isoformat()} is older than {policy.max_age}",
        )


telemetry_codec: _Codec[Telemetry] = _Codec(Telemetry)
event_codec: _Codec[Event] = _Codec(Event)
status_codec: _Codec[Status] = _Codec(Status)
command_codec: _Codec[Command] = _Codec(Command)
ack_codec: _Codec[Ack] = _Codec(Ack)

_BY_CHANNEL: dict[Channel, _Codec[Any]] = {
    Channel.TELEMETRY: telemetry_codec,
    Channel.EVENT: event_codec,
    Channel.STATUS: status_codec,
    Channel.ACK: ack_codec,
}


def decode_telemetry(
    payload: bytes, *, now: datetime | None = None, clock: ClockPolicy | None = None
) -> Envelope[Telemetry]:
    """Decode a telemetry message or raise :class:`DecodeError`."""
    return telemetry_codec.decode(payload, now=now, clock=clock)


def decode_event(
    payload: bytes, *, now: datetime | None = None, clock: ClockPolicy | None = None
) -> Envelope[Event]:
    """Decode an event message or raise :class:`DecodeError`."""
    return event_codec.decode(payload, now=now, clock=clock)


def decode_status(
    payload: bytes, *, now: datetime | None = None, clock: ClockPolicy | None = None
) -> Envelope[Status]:
    """Decode a status message or raise :class:`DecodeError`."""
    return status_codec.decode(payload, now=now, clock=clock)


def decode_command(
    payload: bytes, *, now: datetime | None = None, clock: ClockPolicy | None = None
) -> Envelope[Command]:
    """Decode a command message or raise :class:`DecodeError`."""
    return command_codec.decode(payload, now=now, clock=clock)


def decode_ack(
    payload: bytes, *, now: datetime | None = None, clock: ClockPolicy | None = None
) -> Envelope[Ack]:
    """Decode an acknowledgement or raise :class:`DecodeError`."""
    return ack_codec.decode(payload, now=now, clock=clock)


def decode_for_channel(
    channel: Channel,
    payload: bytes,
    *,
    now: datetime | None = None,
    clock: ClockPolicy | None = None,
) -> Envelope[Any]:
    """Decode ``payload`` with the schema of ``channel``."""
    return _BY_CHANNEL[channel].decode(payload, now=now, clock=clock)
