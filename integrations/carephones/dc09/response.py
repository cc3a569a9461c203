"""The receiver's answers: ACK, NAK (with the receiver's time) and DUH.

- ACK: the message is stored; it echoes the sequence, receiver, prefix and account. For an
  encrypted message the ACK is encrypted too and carries the receiver's timestamp.
- NAK: ``"NAK"0000R0L0A0[]_timestamp`` — the message was refused (a bad frame or a
  timestamp outside the window); the unit may set its clock from the timestamp and send
  again.
- DUH: the frame is sound but the receiver does not understand or accept what it says
  (unknown account, unsupported token, a key that does not open it, data it cannot read).
"""

from __future__ import annotations

from datetime import datetime

from integrations.carephones.dc09.content import format_timestamp
from integrations.carephones.dc09.crypto import encrypt_data
from integrations.carephones.dc09.frame import Frame, build_frame


def ack(frame: Frame, now: datetime, key: bytes | None = None) -> bytes:
    """Acknowledge ``frame`` (encrypted with ``key`` when the frame was encrypted)."""
    if frame.encrypted and key is not None:
        rest = encrypt_data(key, "]" + format_timestamp(now))
        return _answer("ACK", frame, rest, encrypted=True)
    return _answer("ACK", frame, "]")


def duh(frame: Frame) -> bytes:
    """Tell the unit its message was not understood (never encrypted)."""
    return _answer("DUH", frame, "]")


def nak(now: datetime) -> bytes:
    """Refuse a message, giving the receiver's time (UTC)."""
    return build_frame(
        "NAK", "0000", receiver="0", prefix="0", nak_account=True, rest="]" + format_timestamp(now)
    )


def _answer(token: str, frame: Frame, rest: str, *, encrypted: bool = False) -> bytes:
    return build_frame(
        token,
        frame.seq,
        receiver=frame.receiver,
        prefix=frame.prefix,
        account=frame.account,
        rest=rest,
        encrypted=encrypted,
    )
