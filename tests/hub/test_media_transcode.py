"""Video messages are re-encoded before they are kept (hub/media/transcode.py): one format
the tablet plays (H.264/AAC MP4), at most 720 lines and 30 frames a second, without the
phone's metadata (the place it was filmed), with a thumbnail; bad files are refused."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from hub.media import MediaKind, MediaLimits, UnsupportedMedia, validate_media


def _ffmpeg(target: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(target)], check=True)
    return target.read_bytes()


def _probe(data: bytes, folder: Path) -> dict[str, object]:
    path = folder / "probe.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    report: dict[str, object] = json.loads(out.stdout)
    return report


@pytest.fixture(scope="module")
def phone_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Half a second of 1280×960 at 60 fps with sound (VP8/Opus WebM), a location, a title."""
    folder = tmp_path_factory.mktemp("video")
    return _ffmpeg(
        folder / "phone.webm",
        "-f", "lavfi", "-i", "testsrc=size=1280x960:rate=60:duration=0.5",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5",
        "-metadata", "location=+41.4036+002.1744/", "-metadata", "title=Casa de la iaia",
        "-c:v", "libvpx", "-b:v", "500k", "-deadline", "realtime", "-cpu-used", "8",
        "-c:a", "libopus",
    )  # fmt: skip


async def test_a_phone_video_becomes_a_small_mp4_without_its_metadata(
    phone_video: bytes, tmp_path: Path
) -> None:
    kept = await validate_media(phone_video, MediaKind.VIDEO, MediaLimits())
    assert kept.content_type == "video/mp4"
    assert kept.data is not None
    assert (kept.width, kept.height) == (960, 720)
    assert kept.duration_s is not None
    assert 0.4 < kept.duration_s < 0.8
    report = _probe(kept.data, tmp_path)
    streams = report["streams"]
    assert isinstance(streams, list)
    codecs = {s["codec_type"]: s for s in streams}
    assert codecs["video"]["codec_name"] == "h264"
    assert codecs["video"]["pix_fmt"] == "yuv420p"
    assert codecs["audio"]["codec_name"] == "aac"
    num, den = (int(x) for x in codecs["video"]["avg_frame_rate"].split("/"))
    assert num / den <= 30.01
    tags = json.dumps(report.get("format", {})).lower() + json.dumps(streams).lower()
    assert "41.4036" not in tags
    assert "iaia" not in tags
    assert kept.thumbnail is not None
    with Image.open(io.BytesIO(kept.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (320, 240)


async def test_small_videos_keep_their_size_and_only_one_encodes_at_a_time(
    tmp_path: Path,
) -> None:
    small = _ffmpeg(
        tmp_path / "s.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1",
        "-c:v", "libx264", "-pix_fmt", "yuv420p",
    )  # fmt: skip
    gate = asyncio.Semaphore(1)
    first, second = await asyncio.gather(
        validate_media(small, MediaKind.VIDEO, MediaLimits(), gate),
        validate_media(small, MediaKind.VIDEO, MediaLimits(), gate),
    )
    assert (first.width, first.height) == (second.width, second.height) == (320, 240)
    assert gate._value == 1  # both released it


async def test_a_damaged_video_is_refused(phone_video: bytes) -> None:
    broken = phone_video[:4096]  # WebM magic, then nothing playable
    with pytest.raises(UnsupportedMedia) as refused:
        await validate_media(broken, MediaKind.VIDEO, MediaLimits())
    assert refused.value.code == "media_corrupt"
