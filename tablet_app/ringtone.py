"""A gentle ring tone, synthesised here (no borrowed sound files)."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 16_000


def write_ring_tone(path: Path) -> Path:
    """Two soft 440/480 Hz bursts and a pause (~3 s), like a telephone; return ``path``."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytearray()
    for second in range(3):
        for i in range(RATE):
            t = i / RATE
            on = second < 2 and (t % 1.0) < 0.8
            # a short fade in and out avoids clicks, which startle
            envelope = min(1.0, (t % 1.0) / 0.05, max(0.0, (0.8 - t % 1.0) / 0.05))
            value = 0.0
            if on:
                value = (
                    0.25
                    * envelope
                    * (math.sin(2 * math.pi * 440 * t) + math.sin(2 * math.pi * 480 * t))
                )
            frames += struct.pack("<h", int(value * 32767 * 0.5))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return path
