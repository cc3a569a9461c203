"""Real media files for the tests, made once by ffmpeg and Pillow."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass(frozen=True)
class Samples:
    """Bytes of small real files of each supported kind."""

    jpeg: bytes
    png: bytes
    webm_video: bytes
    mp4_video: bytes
    ogg_voice: bytes
    webm_voice: bytes
    long_voice: bytes


def photo(width: int = 64, height: int = 48, fmt: str = "JPEG") -> bytes:
    """A small gradient picture."""
    red = Image.linear_gradient("L").resize((width, height))
    green = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    image = Image.merge("RGB", (red, green, Image.new("L", (width, height), 128)))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _ffmpeg(out: Path, *args: str) -> bytes:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)],
        check=True,
        timeout=120,
    )
    return out.read_bytes()


def make_samples(folder: Path) -> Samples:
    """Encode each sample into ``folder`` (about a second of work in total)."""
    video_src = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
    return Samples(
        jpeg=photo(),
        png=photo(fmt="PNG"),
        webm_video=_ffmpeg(folder / "v.webm", *video_src, "-c:v", "libvpx", "-b:v", "100k"),
        mp4_video=_ffmpeg(folder / "v.mp4", *video_src, "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        ogg_voice=_ffmpeg(folder / "a.ogg", *tone, "-c:a", "libopus"),
        webm_voice=_ffmpeg(folder / "a.webm", *tone, "-c:a", "libopus"),
        long_voice=_ffmpeg(
            folder / "long.ogg",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=8000:cl=mono",
            "-t",
            "8",
            "-c:a",
            "libopus",
            "-b:a",
            "6k",
        ),
    )
