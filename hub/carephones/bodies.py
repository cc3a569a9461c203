"""``POST /api/carephones``: the body the handler checks first and the document describes.

Hex fields are checked again by the handler (lengths, digits) with its own messages; the
struct states the same rules so the OpenAPI document (ADR 0015) says them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from hub.http import DEVICE_ID, TEXT

Id32 = Annotated[int, Meta(ge=1, le=2_147_483_647)]


class CarephoneCreate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A carephone or alarm panel. DC-09 (``protocol`` ``dc09``, the default): its SIA
    account (3-16 hex digits) on a receiver line prefix (1-6 hex digits, required),
    optionally its AES key (32, 48 or 64 hex digits, stored encrypted). SCAIP (``scaip``):
    its controller id (``account``, the ``cid`` of its messages) and optionally the
    ``caller_id`` its speech calls come from; no prefix, receiver or key. Both: how often it
    must report (``supervision_s``, 60 s to 7 days)."""

    id: Annotated[str, Meta(min_length=1, max_length=64, pattern=DEVICE_ID)]
    home_id: Id32
    account: Annotated[str, Meta(min_length=1, max_length=32, pattern="^[0-9A-Za-z._:-]+$")]
    prefix: Annotated[str, Meta(max_length=6, pattern="^[0-9A-Fa-f]*$")] | None = None
    protocol: Literal["dc09", "scaip", ""] | None = None
    caller_id: Annotated[str, Meta(max_length=128, pattern=r"^[a-z][a-z0-9+.-]*:\S+$")] | None = (
        None
    )
    receiver: Annotated[str, Meta(max_length=6, pattern="^[0-9A-Fa-f]*$")] | None = None
    key: Annotated[str, Meta(max_length=64, pattern="^[0-9A-Fa-f]*$")] | None = None
    type: Literal["carephone", "alarm_panel", ""] | None = None
    resident_id: Id32 | None = None
    room: Annotated[str, Meta(max_length=40, pattern=TEXT)] | None = None
    supervision_s: Annotated[int, Meta(ge=60, le=7 * 24 * 3600)] | None = None
    fall_zones: Annotated[str, Meta(max_length=100, pattern=TEXT)] | None = None
