"""JSON errors for the hub's API: one shape, ``{"error": code, "message": text}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Raise in a handler to answer with a JSON error; ``code`` is stable for clients."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}


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
    """Turn :class:`ApiError` (anywhere) and HTTP errors under ``/api/`` into JSON."""
    try:
        return await handler(request)
    except ApiError as err:
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


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 :class:`ApiError`."""
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    return data
