"""Small helpers to read request values and write JSON answers the same way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.http import ApiError

# Ids and counts are INTEGER columns: a larger number would fail in PostgreSQL (a 500).
INT32_MAX = 2**31 - 1


def is_int32_id(value: str) -> bool:
    """Whether ``value`` is the decimal text of an id that fits an INTEGER column."""
    return value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= INT32_MAX


def path_int(request: web.Request, name: str) -> int:
    """An integer from the URL path (404 if it is not one, or too large to be an id)."""
    value = request.match_info.get(name, "")
    if not is_int32_id(value):
        raise ApiError(404, "not_found", f"{name} must be a number")
    return int(value)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]`` (400 otherwise)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_request", f"{name} must be between {low} and {high}")
    return value


def text_field(
    data: dict[str, Any], name: str, *, max_length: int, required: bool = True, default: str = ""
) -> str:
    """A string field, stripped, within ``max_length``."""
    value = data.get(name)
    if value is None and not required:
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(400, "invalid_request", f"{name!r} must be a non-empty string")
    value = value.strip()
    if len(value) > max_length:
        raise ApiError(400, "text_too_long", f"{name!r} is longer than {max_length} characters")
    return value


def int_field(data: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    """An integer field (booleans are not integers here)."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > INT32_MAX:
        raise ApiError(400, "invalid_request", f"{name!r} must be a whole number (32 bits)")
    return value


def required_int(data: dict[str, Any], name: str) -> int:
    """A required integer field."""
    value = int_field(data, name)
    assert value is not None  # int_field raised otherwise
    return value


def time_field(data: dict[str, Any], name: str, *, required: bool = True) -> datetime | None:
    """An ISO 8601 timestamp with its offset, as aware UTC."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_request", f"{name!r} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ApiError(400, "invalid_request", f"{name!r} needs a UTC offset (e.g. +00:00)")
    return parsed.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """A timestamp for JSON."""
    return value.isoformat() if value is not None else None
