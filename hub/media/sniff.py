"""What a file is, from its first bytes (never from its name or the client's word).

:func:`sniff` maps magic bytes to a container and the kinds of message it can carry.
Containers that can hold either sound or pictures (WebM, Ogg, MP4) are settled by
probing their streams (:mod:`hub.media.probe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.errors import HubError


class MediaKind(StrEnum):
    """The kinds of media message."""

    PHOTO = "photo"
    VIDEO = "video"
    VOICE = "voice"


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A recognised container: its MIME type and which kinds it may be."""

    container: str
    content_type: str
    kinds: frozenset[MediaKind]


_PHOTO = frozenset({MediaKind.PHOTO})
_VOICE = frozenset({MediaKind.VOICE})
_AV = frozenset({MediaKind.VIDEO, MediaKind.VOICE})

# ISO base media "ftyp" brands: audio-only brands first; anything else we accept is video.
_AUDIO_BRANDS = {b"M4A ", b"M4B "}
_VIDEO_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"qt  ", b"3gp4", b"3gp5", b"3gp6", b"dash", b"mmp4",
}  # fmt: skip
_IMAGE_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif"}

MIN_SNIFF_BYTES = 16


class UnsupportedMedia(HubError):
    """Content that is not a photo, video or voice format the hub accepts."""

    status = 415

    def __init__(self, message: str, code: str = "media_unsupported") -> None:
        super().__init__(message, code=code)


def sniff(head: bytes) -> Sniffed:
    """Recognise a file from its first bytes; raise :class:`UnsupportedMedia`."""
    if len(head) < MIN_SNIFF_BYTES:
        raise UnsupportedMedia("the file is empty or too short to be a photo, video or voice")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("jpeg", "image/jpeg", _PHOTO)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("png", "image/png", _PHOTO)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("webp", "image/webp", _PHOTO)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("wav", "audio/wav", _VOICE)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("webm", "video/webm", _AV)
    if head.startswith(b"OggS"):
        return Sniffed("ogg", "audio/ogg", _AV)
    if head.startswith(b"ID3") or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return Sniffed("mp3", "audio/mpeg", _VOICE)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return Sniffed("mp4", "audio/mp4", _VOICE)
        if brand in _IMAGE_BRANDS:
            raise UnsupportedMedia(
                "HEIC/AVIF photos are not accepted yet; send the photo as JPEG or PNG"
            )
        if brand in _VIDEO_BRANDS:
            return Sniffed("mp4", "video/mp4", _AV)
    if head.startswith((b"GIF87a", b"GIF89a")):
        raise UnsupportedMedia("GIF images are not accepted; send a JPEG, PNG or WebP photo")
    raise UnsupportedMedia(
        "this file is not a supported photo (JPEG, PNG, WebP), video (MP4, WebM) "
        "or voice recording (Ogg/Opus, WebM, M4A, MP3, WAV)"
    )
