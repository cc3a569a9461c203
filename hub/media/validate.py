"""Accept or refuse an upload: content type by magic bytes, kind, size and duration limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgspec

from hub.media.probe import AvInfo, av_info, kind_of, photo_info
from hub.media.sniff import MediaKind, Sniffed, UnsupportedMedia, sniff
from hub.media.transcode import transcode_video


class MediaLimits(msgspec.Struct, kw_only=True, frozen=True):
    """Upload limits per kind (bytes and seconds)."""

    photo_max_bytes: int = 10 * 1024 * 1024
    video_max_bytes: int = 50 * 1024 * 1024
    voice_max_bytes: int = 10 * 1024 * 1024
    video_max_s: float = 180.0
    voice_max_s: float = 300.0

    def max_bytes(self, kind: MediaKind) -> int:
        """The size limit for ``kind``."""
        return {
            MediaKind.PHOTO: self.photo_max_bytes,
            MediaKind.VIDEO: self.video_max_bytes,
            MediaKind.VOICE: self.voice_max_bytes,
        }[kind]

    @property
    def largest(self) -> int:
        """The largest size any upload may have (to stop reading a body early)."""
        return max(self.photo_max_bytes, self.video_max_bytes, self.voice_max_bytes)


@dataclass(frozen=True, slots=True)
class ValidatedMedia:
    """An upload that passed every check, with what was learnt about it."""

    kind: MediaKind
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    thumbnail: bytes | None = None
    # What to store instead of the upload (a photo without its metadata); None: the upload.
    data: bytes | None = None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _sniff_as(data: bytes, declared: MediaKind) -> Sniffed:
    found = sniff(data[:64])
    if declared not in found.kinds:
        raise UnsupportedMedia(
            f"the file is {found.container}, which is not a {declared.value}",
            code="media_kind_mismatch",
        )
    return found


async def _probe_as(
    data: bytes, found: Sniffed, declared: MediaKind, limits: MediaLimits
) -> AvInfo:
    info = await av_info(data, found.container)
    actual = kind_of(info)
    if actual is not declared:
        raise UnsupportedMedia(
            f"the recording is a {actual.value} file, not a {declared.value}",
            code="media_kind_mismatch",
        )
    max_s = limits.video_max_s if declared is MediaKind.VIDEO else limits.voice_max_s
    if info.duration_s > max_s:
        raise UnsupportedMedia(
            f"the {declared.value} lasts {info.duration_s:.0f} s; the limit is {max_s:.0f} s",
            code="media_too_long",
        )
    return info


@dataclass(frozen=True, slots=True)
class CheckedVideo:
    """A video upload that passed the quick checks (not re-encoded yet)."""

    container: str
    size: int
    duration_s: float


async def check_video(data: bytes, limits: MediaLimits) -> CheckedVideo:
    """The checks of :func:`validate_media` for a video, without re-encoding it: size,
    content (magic bytes), pictures present (ffprobe) and duration. Seconds at most, so an
    upload can be answered at once and re-encoded later (:func:`transcode_video`)."""
    limit = limits.video_max_bytes
    if len(data) > limit:
        raise UnsupportedMedia(
            f"the video is {_mb(len(data))}; the limit is {_mb(limit)}", code="media_too_large"
        )
    found = _sniff_as(data, MediaKind.VIDEO)
    info = await _probe_as(data, found, MediaKind.VIDEO, limits)
    return CheckedVideo(found.container, len(data), round(info.duration_s, 2))


async def validate_media(
    data: bytes,
    declared: MediaKind,
    limits: MediaLimits,
    transcode_gate: asyncio.Semaphore | None = None,
) -> ValidatedMedia:
    """Check ``data`` is really a ``declared`` message within limits, or raise.

    The declared kind comes from the sender's button ("send photo"); the content decides
    whether it is true. A video is then re-encoded (:mod:`hub.media.transcode`) and what is
    kept is the re-encoded MP4 with its thumbnail; ``transcode_gate`` bounds how many run
    at once.
    """
    limit = limits.max_bytes(declared)
    if len(data) > limit:
        raise UnsupportedMedia(
            f"the {declared.value} is {_mb(len(data))}; the limit is {_mb(limit)}",
            code="media_too_large",
        )
    found = _sniff_as(data, declared)
    if declared is MediaKind.PHOTO:
        photo = await photo_info(data)
        return ValidatedMedia(
            kind=declared,
            content_type=found.content_type,
            size=len(photo.clean),
            width=photo.width,
            height=photo.height,
            thumbnail=photo.thumbnail,
            data=photo.clean,
        )
    info = await _probe_as(data, found, declared, limits)
    max_s = limits.video_max_s if declared is MediaKind.VIDEO else limits.voice_max_s
    if declared is MediaKind.VIDEO:
        video = await transcode_video(data, found.container, max_s, transcode_gate)
        return ValidatedMedia(
            kind=declared,
            content_type="video/mp4",
            size=len(video.data),
            width=video.width,
            height=video.height,
            duration_s=video.duration_s,
            thumbnail=video.thumbnail,
            data=video.data,
        )
    content_type = found.content_type
    if declared is MediaKind.VOICE and content_type.startswith("video/"):
        content_type = "audio/" + content_type.split("/", 1)[1]
    return ValidatedMedia(
        kind=declared,
        content_type=content_type,
        size=len(data),
        width=info.width,
        height=info.height,
        duration_s=round(info.duration_s, 2),
    )
