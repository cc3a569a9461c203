"""A pcap file of RTP packets carrying a tone in G.711 A-law, for SIPp's ``play_pcap_audio``,
and the FFT that finds a tone in decoded audio. Written from RFC 3550 and the pcap format
(Ethernet, IPv4, UDP), independently of the hub's RTP code."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np


def alaw(sample: int) -> int:
    """One 16-bit sample in A-law (ITU-T G.711), by segment search."""
    sign = 0x80 if sample >= 0 else 0x00
    magnitude = min(abs(sample), 32767) >> 3  # 13-bit
    if magnitude < 32:
        code = magnitude >> 1
    else:
        segment = magnitude.bit_length() - 5  # 1..7
        code = (segment << 4) | ((magnitude >> segment) & 0x0F)
    return (code | sign) ^ 0x55


def tone_pcap(path: Path, hz: float, seconds: float, amplitude: int = 8000) -> None:
    """Write ``seconds`` of a ``hz`` tone as 20 ms RTP packets (payload type 8)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for index in range(int(seconds * 50)):
        payload = bytes(
            alaw(int(amplitude * math.sin(2 * math.pi * hz * (index * 160 + n) / 8000)))
            for n in range(160)
        )
        rtp = struct.pack("!BBHII", 0x80, 8, index, index * 160, 0x1234ABCD) + payload
        udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0, 64, 17, 0,
            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
        ) + udp  # fmt: skip
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = index * 20_000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))


def dominant_hz(samples: list[int] | np.ndarray, rate: int) -> float:
    """The strongest frequency in ``samples``."""
    data = np.asarray(samples, dtype=np.float64)
    data = data - data.mean()
    spectrum = np.abs(np.fft.rfft(data * np.hanning(len(data))))
    return float(np.fft.rfftfreq(len(data), 1 / rate)[int(np.argmax(spectrum))])
