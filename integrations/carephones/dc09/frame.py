"""The DC-09 frame: ``LF crc(4 hex) 0LLL "ID"seq Rrcvr Lpref #acct [data CR``.

``crc`` is CRC-16/ARC and ``0LLL`` the length in hex, both over the message from the first
``"`` to the byte before CR. ``ID`` is the token (``SIA-DCS``, ``ADM-CID``, ``NULL`` from a
unit; ``ACK``, ``NAK``, ``DUH`` from the receiver), with ``*`` in front when the part after
``[`` is encrypted. ``seq`` is four decimal digits, ``R`` and ``L`` hex numbers of the
receiver and the account prefix (line), ``#acct`` 3 to 16 hex digits. A NAK carries
``R0L0A0`` instead of the unit's numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from integrations.carephones.dc09.crc import crc16

# Frames are short (a few hundred bytes with extended data); anything longer is refused
# before it is parsed.
MAX_FRAME_BYTES = 1024
EVENT_TOKENS = frozenset({"SIA-DCS", "ADM-CID", "NULL"})
RESPONSE_TOKENS = frozenset({"ACK", "NAK", "DUH", "RSP"})

_HEADER = re.compile(rb"[0-9A-F]{8}")
_MESSAGE = re.compile(
    r'"(?P<star>\*)?(?P<token>[A-Z][A-Z0-9-]{1,15})"'
    r"(?P<seq>[0-9]{4})"
    r"(?:R(?P<receiver>[0-9A-Fa-f]{1,6}))?"
    r"L(?P<prefix>[0-9A-Fa-f]{1,6})"
    r"(?:#(?P<account>[0-9A-Fa-f]{3,16})|(?P<nak_account>A0))?"
    r"\[(?P<rest>[\x20-\x7e]*)"
)


class FrameError(ValueError):
    """A frame the receiver cannot trust; ``reason`` is ``oversize``, ``malformed``,
    ``length`` or ``crc``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Frame:
    """One parsed frame; ``rest`` is what follows ``[`` (hex when ``encrypted``)."""

    token: str
    encrypted: bool
    seq: str
    receiver: str | None
    prefix: str
    account: str | None
    rest: str

    @property
    def is_event(self) -> bool:
        """A message a unit sends (not a receiver's answer)."""
        return self.token in EVENT_TOKENS


def parse_frame(raw: bytes, max_bytes: int = MAX_FRAME_BYTES) -> Frame:
    """Check and split one frame (with or without its LF and CR); raise :class:`FrameError`."""
    if len(raw) > max_bytes:
        raise FrameError("oversize", f"{len(raw)} bytes (at most {max_bytes})")
    body = raw.removeprefix(b"\n").removesuffix(b"\r")
    if len(body) < 9 or body[8:9] != b'"':
        raise FrameError("malformed", "no CRC, length and quoted token at the start")
    if _HEADER.fullmatch(body[:8]) is None:
        raise FrameError("malformed", "CRC and length are not 8 upper-case hex digits")
    sent_crc = int(body[0:4], 16)
    head = body[4:8].decode("ascii")
    message = body[8:]
    if head[0] != "0" or int(head, 16) != len(message):
        raise FrameError("length", f"length field {head}, message has {len(message)} bytes")
    if crc16(message) != sent_crc:
        raise FrameError("crc", f"CRC {body[0:4].decode('ascii', 'replace')} does not match")
    match = _MESSAGE.fullmatch(message.decode("ascii", "replace"))
    if match is None:
        raise FrameError("malformed", "the message does not follow the DC-09 layout")
    return Frame(
        token=match["token"],
        encrypted=match["star"] is not None,
        seq=match["seq"],
        receiver=match["receiver"].upper() if match["receiver"] else None,
        prefix=match["prefix"].upper(),
        account=match["account"].upper() if match["account"] else None,
        rest=match["rest"],
    )


def build_frame(
    token: str,
    seq: str,
    *,
    prefix: str,
    rest: str,
    account: str | None = None,
    receiver: str | None = None,
    encrypted: bool = False,
    nak_account: bool = False,
) -> bytes:
    """Assemble a frame (LF, CRC, length, message, CR); ``rest`` follows ``[``."""
    if len(seq) != 4 or not seq.isdigit():
        raise ValueError(f"a sequence number has four digits, not {seq!r}")
    parts = ['"', "*" if encrypted else "", token, '"', seq]
    if receiver is not None:
        parts.append(f"R{receiver}")
    parts.append(f"L{prefix}")
    if nak_account:
        parts.append("A0")
    elif account is not None:
        parts.append(f"#{account}")
    parts += ["[", rest]
    message = "".join(parts).encode("ascii")
    if len(message) > 0x0FFF:
        raise ValueError("a DC-09 message is shorter than 4096 bytes")
    return b"\n%04X%04X%s\r" % (crc16(message), len(message), message)
