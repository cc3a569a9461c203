"""Inspect uploaded media: photo size and thumbnail (Pillow), streams and duration (ffprobe).

Both run outside the event loop (a thread for Pillow, a subprocess for ffprobe) with
bounds: a pixel limit against decompression bombs and a timeout on ffprobe.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from hub.media.sniff import MediaKind, UnsupportedMedia
from hub.media.subprocesses import communicate_within

_LOGGER = logging.getLogger(__name__)

MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo is fine, a crafted bomb is not
THUMBNAIL_SIZE = (320, 320)
FFPROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """A decoded photo's size, its JPEG thumbnail, and the photo as it is kept: upright and
    re-encoded with no metadata (no EXIF GPS position of the resident's home, no camera
    serial, no comments; and nothing of a crafted file survives but its pixels)."""

    width: int
    height: int
    thumbnail: bytes
    clean: bytes


@dataclass(frozen=True, slots=True)
class AvInfo:
    """What ffprobe found in an audio/video file."""

    duration_s: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None


def _photo_info(data: bytes) -> PhotoInfo:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise UnsupportedMedia(
                    f"the photo is {width}×{height} pixels; the limit is {MAX_PIXELS // 1_000_000} "
                    "megapixels",
                    code="media_too_large",
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            source_format = image.format or "JPEG"
            icc = image.info.get("icc_profile")  # colours, not personal data: kept
            upright = ImageOps.exif_transpose(image)  # a copy: clearing its info is safe
            clean = _reencode(upright, source_format, icc)
            width, height = upright.size
            upright.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            upright.convert("RGB").save(out, "JPEG", quality=80)
    except UnsupportedMedia:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UnsupportedMedia(f"the photo cannot be read: {err}", code="media_corrupt") from None
    return PhotoInfo(width, height, out.getvalue(), clean)


def _reencode(image: Image.Image, source_format: str, icc: bytes | None) -> bytes:
    """``image`` in its own format with nothing but pixels (and the colour profile)."""
    out = io.BytesIO()
    # Pillow writes some of ``info`` back by itself (a JPEG comment, PNG text): drop it all.
    image.info.clear()
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if source_format == "PNG":
        image.save(out, "PNG", optimize=True, **extra)
    elif source_format == "WEBP":
        image.save(out, "WEBP", quality=90, **extra)
    else:
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(out, "JPEG", quality=90, optimize=True, **extra)
    return out.getvalue()


async def photo_info(data: bytes) -> PhotoInfo:
    """Decode a photo, check its size and make a thumbnail (raises :class:`UnsupportedMedia`)."""
    return await asyncio.to_thread(_photo_info, data)


def ffprobe_available() -> bool:
    """Whether the ``ffprobe`` program is on the PATH."""
    return shutil.which("ffprobe") is not None


def _parse_probe(report: dict[str, Any]) -> AvInfo:
    streams = report.get("streams") or []
    video = [s for s in streams if s.get("codec_type") == "video"]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    duration = 0.0
    for source in [report.get("format") or {}, *streams]:
        try:
            duration = max(duration, float(source.get("duration", 0) or 0))
        except (TypeError, ValueError):
            continue
    first = video[0] if video else {}
    return AvInfo(
        duration_s=duration,
        has_video=bool(video),
        has_audio=bool(audio),
        width=first.get("width"),
        height=first.get("height"),
    )


async def av_info(data: bytes, suffix: str) -> AvInfo:
    """Run ffprobe on ``data``; raise :class:`UnsupportedMedia` if it cannot read it."""
    with tempfile.TemporaryDirectory(prefix="ta-media-") as tmp:
        path = Path(tmp) / f"upload.{suffix}"
        await asyncio.to_thread(path.write_bytes, data)
        proc = await asyncio.create_subprocess_exec(
            "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await communicate_within(proc, FFPROBE_TIMEOUT_S)
        except TimeoutError:
            raise UnsupportedMedia(
                "the recording took too long to inspect", "media_corrupt"
            ) from None
    if proc.returncode != 0:
        _LOGGER.info("ffprobe refused an upload: %s", err.decode(errors="replace")[:200])
        raise UnsupportedMedia("the recording cannot be read (damaged file?)", "media_corrupt")
    try:
        report = json.loads(out)
    except ValueError:
        raise UnsupportedMedia("the recording cannot be read", "media_corrupt") from None
    info = _parse_probe(report)
    if not info.has_audio and not info.has_video:
        raise UnsupportedMedia("the recording has neither sound nor pictures", "media_corrupt")
    return info


def kind_of(info: AvInfo) -> MediaKind:
    """Video if there are pictures, otherwise voice."""
    return MediaKind.VIDEO if info.has_video else MediaKind.VOICE
