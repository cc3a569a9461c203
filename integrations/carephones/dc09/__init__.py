"""ANSI/SIA DC-09 IP event reporting: frames, encryption, event data and responses.

Pure functions over bytes and frozen values, no sockets and no clock: the receiver passes
the time in. Reference: ANSI/SIA DC-09 (2013/2021) for the frame, SIA DC-05 for Contact ID
and SIA DC-03 for the SIA DCS event codes. See docs/carephones.md.
"""

from integrations.carephones.dc09.content import (
    CID_QUALIFIERS,
    Content,
    ContentError,
    EventCode,
    format_timestamp,
    parse_content,
)
from integrations.carephones.dc09.crc import crc16
from integrations.carephones.dc09.crypto import (
    KEY_SIZES,
    DecryptError,
    decrypt_data,
    encrypt_data,
)
from integrations.carephones.dc09.frame import (
    EVENT_TOKENS,
    MAX_FRAME_BYTES,
    Frame,
    FrameError,
    build_frame,
    parse_frame,
)
from integrations.carephones.dc09.response import ack, duh, nak

__all__ = [
    "CID_QUALIFIERS",
    "EVENT_TOKENS",
    "KEY_SIZES",
    "MAX_FRAME_BYTES",
    "Content",
    "ContentError",
    "DecryptError",
    "EventCode",
    "Frame",
    "FrameError",
    "ack",
    "build_frame",
    "crc16",
    "decrypt_data",
    "duh",
    "encrypt_data",
    "format_timestamp",
    "nak",
    "parse_content",
    "parse_frame",
]
