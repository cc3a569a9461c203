"""Bodies of the sign-in API: what the handlers read and answer, and what the OpenAPI
document describes (from these same structs, :func:`hub.api.openapi.struct_schemas`)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# The hub refuses NUL in any JSON text (hub.http.parse_json): the schema says so too.
NO_NUL = "^[^\\x00]*$"


class LoginBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/auth/login``: a user's name and password."""

    username: Annotated[str, Meta(min_length=1, max_length=120, pattern=NO_NUL)]
    # Long enough for any passphrase; a bound, so a megabyte is not hashed.
    password: Annotated[str, Meta(min_length=1, max_length=1024, pattern=NO_NUL)]


class RefreshBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/auth/refresh``: the refresh token (or send it as the cookie instead)."""

    refresh_token: Annotated[str, Meta(max_length=4096, pattern=NO_NUL)] | None = None


class UserView(msgspec.Struct, kw_only=True, frozen=True):
    """Who is signed in (no hash, no counters)."""

    id: int
    username: str
    role: str
    language: str
    display_name: str


class TokenPair(msgspec.Struct, kw_only=True, frozen=True):
    """An access token and a refresh token (also set as HttpOnly cookies)."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: UserView
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
