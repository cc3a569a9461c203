"""Media for messages: content sniffing, validation, thumbnails and the storage port."""

from hub.media.sniff import MediaKind, Sniffed, UnsupportedMedia, sniff
from hub.media.storage import LocalDiskStore, MediaNotFound, MediaStore, new_key
from hub.media.transcode import Transcoded, transcode_video
from hub.media.validate import (
    CheckedVideo,
    MediaLimits,
    ValidatedMedia,
    check_video,
    validate_media,
)

__all__ = [
    "CheckedVideo",
    "LocalDiskStore",
    "MediaKind",
    "MediaLimits",
    "MediaNotFound",
    "MediaStore",
    "Sniffed",
    "Transcoded",
    "UnsupportedMedia",
    "ValidatedMedia",
    "check_video",
    "new_key",
    "sniff",
    "transcode_video",
    "validate_media",
]
