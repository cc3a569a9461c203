"""Video messages re-encoded before they are kept: H.264/AAC in MP4, at most 720 lines.

Every phone records differently (HEVC from iPhones, VP8/VP9 WebM from Android browsers,
4K at 60 frames); the resident's tablet decodes one well-supported format at a size it can
show, and the file kept is a fraction of the upload. Re-encoding also drops everything but
pictures and sound: an MP4's metadata can hold the place it was filmed (``©xyz``), the
phone's model and its owner's name.

ffmpeg runs as a subprocess with a timeout, one at a time per hub worker (the caller's
semaphore): a few long videos must not take every core from alarm handling.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hub.media.probe import av_info
from hub.media.sniff import UnsupportedMedia
from hub.media.subprocesses import communicate_within

_LOGGER = logging.getLogger(__name__)

MAX_HEIGHT = 720
MAX_FPS = 30
TRANSCODE_TIMEOUT_S = 300.0
THUMBNAIL_WIDTH = 320


@dataclass(frozen=True, slots=True)
class Transcoded:
    """The video as kept, and what it now is."""

    data: bytes
    width: int | None
    height: int | None
    duration_s: float
    thumbnail: bytes


async def _run(args: list[str], limit_s: float) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await communicate_within(proc, limit_s)
    except TimeoutError:
        raise UnsupportedMedia(
            "the video took too long to prepare; send a shorter one", "media_too_long"
        ) from None
    if proc.returncode != 0:
        _LOGGER.info("ffmpeg refused a video: %s", err.decode(errors="replace")[-300:])
        raise UnsupportedMedia("the video cannot be read (damaged file?)", "media_corrupt")


async def transcode_video(
    data: bytes,
    suffix: str,
    max_s: float,
    gate: asyncio.Semaphore | None = None,
    timeout_s: float = TRANSCODE_TIMEOUT_S,
) -> Transcoded:
    """Re-encode ``data`` (a video container ffprobe accepted) to MP4 with a thumbnail."""
    with tempfile.TemporaryDirectory(prefix="ta-video-") as tmp:
        source, target, thumb = (Path(tmp) / n for n in (f"in.{suffix}", "out.mp4", "t.jpg"))
        await asyncio.to_thread(source.write_bytes, data)
        encode = [
            "ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source),
            "-map", "0:v:0", "-map", "0:a:0?", "-map_metadata", "-1", "-map_chapters", "-1",
            "-sn", "-dn", "-t", f"{max_s:.0f}",
            "-vf", f"scale=-2:'min({MAX_HEIGHT},ih)',format=yuv420p", "-fpsmax", str(MAX_FPS),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-maxrate", "2500k",
            "-bufsize", "5000k", "-c:a", "aac", "-b:a", "96k", "-ac", "2",
            "-movflags", "+faststart", str(target),
        ]  # fmt: skip
        thumbnail = [
            "ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(target), "-frames:v", "1",
            "-vf", f"scale={THUMBNAIL_WIDTH}:-2", "-q:v", "4", str(thumb),
        ]  # fmt: skip
        if gate is None:
            await _run(encode, timeout_s)
        else:
            async with gate:
                await _run(encode, timeout_s)
        await _run(thumbnail, 30.0)
        out = await asyncio.to_thread(target.read_bytes)
        picture = await asyncio.to_thread(thumb.read_bytes)
    info = await av_info(out, "mp4")
    return Transcoded(out, info.width, info.height, round(info.duration_s, 2), picture)
