"""Media for messages: content sniffing, validation, thumbnails and the storage port."""

from hub.media.sniff import MediaKind, Sniffed, UnsupportedMedia, sniff
from hub.media.storage import LocalDiskStore, MediaNotFound, MediaStore, new_key
from hub.media.validate import MediaLimits, ValidatedMedia, validate_media

__all__ = [
    "LocalDiskStore",
    "MediaKind",
    "MediaLimits",
    "MediaNotFound",
    "MediaStore",
    "Sniffed",
    "UnsupportedMedia",
    "ValidatedMedia",
    "new_key",
    "sniff",
    "validate_media",
]
