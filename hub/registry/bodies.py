"""Request and response bodies of the provisioning API.

The handlers validate with these structs and ``GET /api/openapi.json`` describes them from
the same structs (:func:`hub.api.openapi.struct_schemas`), so the document cannot drift from
what the handlers accept. Lengths follow the database columns. A request body with a field
it does not define is refused (a misspelt ``acces_notes`` would otherwise be lost quietly).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from hub.http import DEVICE_ID, LINE, TEXT


class HomeCreate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/homes``: a home to add (the key-safe code is stored encrypted)."""

    address: Annotated[str, Meta(min_length=1, max_length=300, pattern=LINE)]
    abss_area: Annotated[str, Meta(max_length=32, pattern=TEXT)] = ""
    key_safe_code: Annotated[str, Meta(max_length=64, pattern=TEXT)] | None = None
    access_notes: Annotated[str, Meta(max_length=4000, pattern=TEXT)] = ""
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, Meta(ge=-180, le=180)] | None = None


class HomeCreated(msgspec.Struct, kw_only=True, frozen=True):
    """The answer to ``POST /api/homes``."""

    id: int
    address: str
    abss_area: str


class DeviceCreate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/devices``: a device of a home; the answer carries its broker credentials.

    ``id`` is the device id (also its MQTT username and client id; the contract's rules,
    refused with ``invalid_device_id``); ``type`` the installer's word (``pendant``,
    ``smoke``, ``gas``… see docs/protocol.md for which events each may send).
    """

    id: Annotated[str, Meta(min_length=1, max_length=64, pattern=DEVICE_ID)]
    home_id: Annotated[int, Meta(ge=1, le=2_147_483_647)]
    type: Annotated[str, Meta(min_length=1, max_length=32, pattern=TEXT)]
    room: Annotated[str, Meta(max_length=40, pattern=TEXT)] | None = None
    gateway_id: Annotated[str, Meta(min_length=1, max_length=64, pattern=DEVICE_ID)] | None = None
    resident_id: Annotated[int, Meta(ge=1, le=2_147_483_647)] | None = None


class DeviceRevoke(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/devices/{device_id}/revoke`` (optional body)."""

    reason: Annotated[str, Meta(max_length=500, pattern=TEXT)] = ""


class DeviceRevoked(msgspec.Struct, kw_only=True, frozen=True):
    """The answer to a revocation."""

    device_id: str
    state: Literal["revoked"] = "revoked"


class Credentials(msgspec.Struct, kw_only=True, frozen=True):
    """A device's broker credentials: shown once, never stored in clear."""

    device_id: str
    username: str
    secret: str


class PairBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/tablet/pair``: the setup code shown to the installer (6-12 digits)."""

    code: Annotated[str, Meta(min_length=6, max_length=12, pattern="^[0-9]+$")]


PAIR_CODES = {"$.code": "code_malformed"}
