"""The hub's HTTP edge: JSON errors in one shape (``{"error": code, "message": text}``),
request values read the same way everywhere, timestamps written the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from hub.errors import HubError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
B = TypeVar("B", bound=msgspec.Struct)


# Patterns for text fields of request bodies (msgspec ``Meta(pattern=...)``), shared by
# every context.
# Text without the control characters the registry refuses (they would travel to 112 and
# into XML): alerts.emergency.control_characters, less lone surrogates, which no JSON text
# decodes to unless escaped one by one (the registry still refuses them).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff"
TEXT = f"^[^{_CONTROL}]*$"
# ... and with something else than spaces.
LINE = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"
# The contract's device id rule (protocol.validate_device_id).
DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"

# Ids and counts are INTEGER columns: a larger number would fail in PostgreSQL (a 500).
INT32_MAX = 2**31 - 1


def is_int32_id(value: str) -> bool:
    """Whether ``value`` is the decimal text of an id that fits an INTEGER column."""
    return value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= INT32_MAX


class ApiError(HubError):
    """Raise in a handler to answer with a JSON error; ``code`` is stable for clients."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message, code=code, status=status, **extra)


# Request values read the same way everywhere (path and query integers, body fields)
# and timestamps written the same way in JSON answers.
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


def iso(value: date | None) -> str | None:
    """A timestamp (or a date) for JSON: ISO 8601, ``None`` as ``None``."""
    return value.isoformat() if value is not None else None


def too_many_attempts(retry_after_s: int, noun: str = "codes") -> ApiError:
    """429 for a caller who guessed too many codes (or passwords), with ``Retry-After``."""
    err = ApiError(
        429,
        "too_many_attempts",
        f"too many wrong {noun}; try again in {retry_after_s} s",
        retry_after_s=retry_after_s,
    )
    err.headers["Retry-After"] = str(retry_after_s)
    return err


def client_address(request: web.Request, trusted_proxies: Sequence[str]) -> str:
    """The client's address: the peer, or — behind a trusted reverse proxy — the nearest
    address in ``X-Forwarded-For`` that is not one of the trusted proxies."""
    peer = request.remote or "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop[:64]
    return peer


def check_same_origin(request: web.Request, public_url: str = "") -> None:
    """403 when a browser opens a websocket from another site.

    Browsers always send ``Origin`` on a websocket handshake, and cookies go with it; a
    page of another site could otherwise read a signed-in person's live events. Clients
    that are not browsers (the tablet) send no ``Origin`` and are not affected.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    allowed = {request.host}
    if public_url:
        allowed.add(urlsplit(public_url).netloc)
    if urlsplit(origin).netloc not in allowed:
        raise ApiError(403, "origin_refused", "this socket may only be opened from the hub's pages")


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error response."""
    return web.json_response({"error": code, "message": message, **extra}, status=status)


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn the hub's errors (:class:`~hub.errors.HubError`, :class:`ApiError` among them;
    anywhere) and HTTP errors under ``/api/`` into JSON."""
    try:
        return await handler(request)
    except HubError as err:
        response = json_error(err.status, err.code, err.message, **err.extra)
        response.headers.update(err.headers)
        return response
    except web.HTTPException as err:
        if not request.path.startswith("/api/") or err.status < 400:
            raise
        code = _CODES.get(err.status, "error")
        response = json_error(err.status, code, err.reason)
        for name in ("Allow", "WWW-Authenticate", "Retry-After"):
            if name in err.headers:
                response.headers[name] = err.headers[name]
        return response


# What a JSON body may hold (issue 19): deeper nesting, integers beyond a 64-bit column,
# NaN/Infinity, NUL characters (PostgreSQL refuses them in text) and lone UTF-16
# surrogates (not encodable as UTF-8) are refused with 400 instead of failing later.
MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class JsonShapeError(ValueError):
    """JSON that parses but that the hub will not store."""


def _reject_constant(name: str) -> Any:
    raise JsonShapeError(f"{name} is not a JSON number")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise JsonShapeError("text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonShapeError("text must not contain lone UTF-16 surrogates") from None


def check_json_value(value: Any) -> None:
    """Raise :class:`JsonShapeError` for a value the hub will not take (see above)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JsonShapeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            _check_text(item)
        elif (
            isinstance(item, int)
            and not isinstance(item, bool)
            and not INT64_MIN <= item <= INT64_MAX
        ):
            raise JsonShapeError("integers must fit in 64 bits")


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON (UTF-8) that passed :func:`check_json_value`; ``ValueError`` otherwise."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise JsonShapeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    check_json_value(value)
    return value


async def read_body(
    request: web.Request, schema: type[B], codes: Mapping[str, str] | None = None
) -> B:
    """The request body converted to ``schema`` (a msgspec struct), or a 400 :class:`ApiError`.

    The same struct describes the body in the OpenAPI document. The error code is
    ``invalid_request``, or ``codes[path]`` for a field with a code of its own (e.g.
    ``{"$.id": "invalid_device_id"}``).
    """
    return _convert(await read_json_object(request), schema, codes)


def _convert(
    data: dict[str, Any],
    schema: type[B],
    codes: Mapping[str, str] | None,
    refusal: tuple[int, str] = (400, "invalid_request"),
) -> B:
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as err:
        message = str(err)
        path = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
        codes = dict(codes or {})
        missing = _MISSING.match(message)
        if missing:  # a missing field has the code of the field, not of the object holding it,
            path = f"{path}.{missing[1]}"  # or a code of its own for missing (``$.x!missing``)
            codes[path] = codes.get(f"{path}!missing") or codes.get(path, "")
        if message.startswith("Expected `str` of length <="):  # too long (``$.x>max``)
            codes[path] = codes.get(f"{path}>max") or codes.get(path, "")
        # A list item's error has the code of the list (``$.consent[2]`` → ``$.consent``).
        code = codes.get(path) or codes.get(re.sub(r"\[\d+\]", "", path)) or refusal[1]
        raise ApiError(refusal[0], code, message) from None


_MISSING = re.compile(r"Object missing required field `([^`]+)`")


async def read_checked(
    request: web.Request,
    schema: type[msgspec.Struct],
    codes: Mapping[str, str] | None = None,
    refusal: tuple[int, str] = (400, "invalid_request"),
) -> dict[str, Any]:
    """The request body as a JSON object that ``schema`` accepts, or a 400 :class:`ApiError`.

    For handlers that read their body field by field: the struct is what the OpenAPI
    document describes, and checking it here means the handler never takes a body the
    document says is wrong. The handler's own checks (and their error codes) still follow.
    ``refusal`` is the status and code of a body the struct refuses (``codes`` can name a
    field's own code).
    """
    data = await read_json_object(request)
    _convert(data, schema, codes, refusal)
    return data


HSTS = "max-age=31536000"


def served_over_https(request: web.Request, public_url: str) -> bool:
    """Whether people reach the hub over HTTPS: this request, or the public URL says so."""
    return request.secure or public_url.startswith("https://")


def https_middleware(public_url: str) -> Any:
    """Tell browsers to keep to HTTPS (HSTS) once the hub is served over it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if served_over_https(request, public_url):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return middleware


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 :class:`ApiError`.

    Only with ``Content-Type: application/json``: a page of another site can send a
    ``text/plain`` or form body without asking the browser first, never a JSON one, so
    this keeps cross-site forms away from every JSON endpoint (CSRF beyond SameSite).
    """
    kind = request.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        raise ApiError(
            400, "invalid_json", "send the body as JSON (Content-Type: application/json)"
        )
    try:
        data = parse_json(await request.read())
    except JsonShapeError as err:
        raise ApiError(400, "invalid_json", str(err)) from None
    except ValueError:
        raise ApiError(400, "invalid_json", "the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    return data
