"""The media of a unit's speech call: SDP offer/answer (RFC 4566/3264), RTP (RFC 3550) and
G.711 (ITU-T G.711 A-law and mu-law, the codecs every social-alarm unit offers).

Pure functions: no sockets. ``decode`` turns a packet's payload into 16-bit linear samples
(8 kHz mono), ``encode`` the other way, for the operator's voice towards the unit.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

PCMU = 0
PCMA = 8
TELEPHONE_EVENT = 101  # RFC 4733, as we offer it
CODECS = {PCMU: "PCMU", PCMA: "PCMA"}
RATE = 8000


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    value = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return value if sign else -value


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    value = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -value if sign else value


_DECODE = {
    PCMA: [_alaw_to_linear(c) for c in range(256)],
    PCMU: [_ulaw_to_linear(c) for c in range(256)],
}


def _nearest_codes(table: list[int]) -> list[int]:
    # Encoding by the nearest decoded level: exact for every G.711 level, and tables of
    # 65,536 entries are built once (a few ms) instead of bit-twiddling per sample.
    levels = sorted(range(256), key=lambda c: table[c])
    codes = []
    index = 0
    for sample in range(-32768, 32768):
        while index + 1 < len(levels) and abs(table[levels[index + 1]] - sample) <= abs(
            table[levels[index]] - sample
        ):
            index += 1
        codes.append(levels[index])
    return codes


_ENCODE: dict[int, list[int]] = {}


def decode(payload_type: int, payload: bytes) -> list[int]:
    """16-bit samples of a G.711 payload."""
    table = _DECODE[payload_type]
    return [table[b] for b in payload]


def encode(payload_type: int, samples: list[int]) -> bytes:
    """A G.711 payload of 16-bit samples."""
    if payload_type not in _ENCODE:
        _ENCODE[payload_type] = _nearest_codes(_DECODE[payload_type])
    table = _ENCODE[payload_type]
    return bytes(table[max(-32768, min(32767, s)) + 32768] for s in samples)


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet's header fields we use, and its payload."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """An RTP packet (version 2), or ``None`` for anything else (RTCP, garbage)."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    count = data[0] & 0x0F
    offset = 12 + 4 * count
    if data[0] & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if data[0] & 0x20 and end > offset:  # padding
        end -= data[-1]
    if end < offset:
        return None
    payload_type = data[1] & 0x7F
    if 72 <= payload_type <= 76:  # RTCP sent to the RTP port (RFC 5761)
        return None
    sequence, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    return RtpPacket(payload_type, sequence, timestamp, ssrc, data[offset:end])


def build_rtp(packet: RtpPacket, marker: bool = False) -> bytes:
    """The bytes of ``packet`` (no CSRC, extension or padding)."""
    second = (0x80 if marker else 0) | packet.payload_type
    header = struct.pack("!BBHII", 0x80, second, packet.sequence, packet.timestamp, packet.ssrc)
    return header + packet.payload


class SdpError(ValueError):
    """An offer we cannot answer (no audio, no G.711, no address)."""


@dataclass(frozen=True, slots=True)
class AudioOffer:
    """Where the unit wants our audio and which G.711 payload types it offers."""

    address: str
    port: int
    payload_types: tuple[int, ...]


_C_LINE = re.compile(r"c=IN IP4 (\d{1,3}(?:\.\d{1,3}){3})")
_M_AUDIO = re.compile(r"m=audio (\d{1,5}) RTP/AVP((?: \d{1,3})+)")


def parse_offer(sdp: str) -> AudioOffer:
    """The audio stream of an SDP offer (the first ``m=audio``)."""
    session_address: str | None = None
    media_address: str | None = None
    port: int | None = None
    types: tuple[int, ...] = ()
    in_audio = False
    for line in sdp.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if line.startswith("m="):
            if port is not None:
                break  # only the first audio stream
            match = _M_AUDIO.fullmatch(line)
            in_audio = match is not None
            if match is not None:
                port = int(match.group(1))
                types = tuple(int(t) for t in match.group(2).split())
        elif line.startswith("c="):
            found = _C_LINE.fullmatch(line)
            if found is None:
                continue
            if in_audio:
                media_address = found.group(1)
            elif port is None:
                session_address = found.group(1)
    address = media_address or session_address
    if port is None or address is None or not 0 < port < 65536:
        raise SdpError("no IPv4 audio stream in the offer")
    offered = tuple(t for t in types if t in CODECS)
    if not offered:
        raise SdpError("no G.711 (PCMU/PCMA) in the offer")
    return AudioOffer(address, port, offered)


def build_answer(address: str, port: int, payload_type: int, session: int) -> str:
    """Our SDP answer: one audio stream, one G.711 codec, telephone events not taken."""
    return (
        "v=0\r\n"
        f"o=teleassist {session} {session} IN IP4 {address}\r\n"
        "s=Teleassist\r\n"
        f"c=IN IP4 {address}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {payload_type}\r\n"
        f"a=rtpmap:{payload_type} {CODECS[payload_type]}/{RATE}\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    )


def build_offer(address: str, port: int, session: int) -> str:
    """Our SDP offer when calling out: G.711 A-law and mu-law, and telephone events."""
    return (
        "v=0\r\n"
        f"o=teleassist {session} {session} IN IP4 {address}\r\n"
        "s=Teleassist\r\n"
        f"c=IN IP4 {address}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {PCMA} {PCMU} {TELEPHONE_EVENT}\r\n"
        f"a=rtpmap:{PCMA} PCMA/{RATE}\r\n"
        f"a=rtpmap:{PCMU} PCMU/{RATE}\r\n"
        f"a=rtpmap:{TELEPHONE_EVENT} telephone-event/{RATE}\r\n"
        f"a=fmtp:{TELEPHONE_EVENT} 0-15\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    )
