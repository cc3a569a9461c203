"""Uploading and serving message media (``/api/family/media``)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import exists, select

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.conversations import media_view
from hub.family.models import ConversationMember, MediaObject, Message
from hub.family.principal import Principal, family_api, principal_of
from hub.family.settings import FAMILY_SETTINGS, MEDIA_STORE
from hub.http import ApiError, path_int
from hub.media import MediaKind, MediaNotFound, UnsupportedMedia, new_key, validate_media

_STATUS = {
    "media_too_large": 413,
    "media_unsupported": 415,
    "media_kind_mismatch": 415,
    "media_corrupt": 422,
    "media_too_long": 422,
}
_SUFFIX = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/mp4": "mp4",
    "video/webm": "webm", "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a",
    "audio/mpeg": "mp3", "audio/wav": "wav",
}  # fmt: skip


def error_status(code: str) -> int:
    """The HTTP status of a media refusal's code."""
    return _STATUS.get(code, 415)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing early (without reading it all) when it passes ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "media_too_large", f"the file is larger than {limit // 1048576} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "media_too_large", f"the file is larger than {limit // 1048576} MB")
        chunks.append(chunk)
    return b"".join(chunks)


@family_api
async def upload(request: web.Request) -> web.Response:
    """Store a photo or voice recording after checking its content (videos: video_jobs)."""
    who = await principal_of(request)
    raw_kind = request.query.get("kind", "")
    try:
        kind = MediaKind(raw_kind)
    except ValueError:
        raise ApiError(400, "invalid_request", "kind must be photo, video or voice") from None
    if kind is MediaKind.VIDEO:
        # Re-encoding takes minutes: never inside a request (hub/family/video_jobs.py).
        raise ApiError(
            400,
            "video_needs_conversation",
            "send a video with POST /api/family/conversations/{cid}/videos",
        )
    limits = request.app[FAMILY_SETTINGS].media
    data = await read_limited(request, limits.max_bytes(kind))
    try:
        checked = await validate_media(data, kind, limits)
    except UnsupportedMedia as err:
        raise ApiError(error_status(err.code), err.code, err.message) from None
    store = request.app[MEDIA_STORE]
    key = new_key(_SUFFIX.get(checked.content_type, "bin"))
    await store.put(key, checked.data if checked.data is not None else data)
    thumb_key = None
    if checked.thumbnail is not None:
        thumb_key = new_key("jpg")
        await store.put(thumb_key, checked.thumbnail)
    media = MediaObject(
        storage_key=key,
        thumbnail_key=thumb_key,
        kind=checked.kind.value,
        content_type=checked.content_type,
        size=checked.size,
        width=checked.width,
        height=checked.height,
        duration_s=checked.duration_s,
        uploaded_by=who.party,
        created_at=request.app[CLOCK](),
    )
    async with request.app[SESSIONMAKER]() as session:
        session.add(media)
        await session.commit()
    body = media_view(media) | {"media_id": media.id}
    return web.json_response(body, status=201)


async def _readable(request: web.Request, who: Principal) -> MediaObject:
    media_id = path_int(request, "media_id")
    async with request.app[SESSIONMAKER]() as session:
        media = await session.get(MediaObject, media_id)
        if media is None:
            raise ApiError(404, "not_found", "no such media")
        if media.uploaded_by == who.party:
            return media
        shared = await session.scalar(
            select(
                exists().where(
                    Message.media_id == media_id,
                    Message.deleted_at.is_(None),
                    ConversationMember.conversation_id == Message.conversation_id,
                    ConversationMember.party == who.party,
                )
            )
        )
    if not shared:
        # Same answer as a missing object: do not confirm what exists.
        raise ApiError(404, "not_found", "no such media")
    return media


# A file opened on its own (not in the app's <img>/<video>) is downloaded, never run as a
# page of the hub's origin: no scripts, no subresources, sandboxed, not sniffed.
MEDIA_CSP = "default-src 'none'; sandbox"


def media_headers(key: str) -> dict[str, str]:
    """Headers for a served media object (``key`` is a checked storage key)."""
    return {
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
        "Content-Disposition": f'attachment; filename="{key.rsplit("/", 1)[-1]}"',
    }


async def _serve(request: web.Request, key: str, content_type: str) -> web.StreamResponse:
    store = request.app[MEDIA_STORE]
    headers = media_headers(key)
    path = store.local_path(key)
    if path is not None:
        response = web.FileResponse(path, headers=headers)
        response.content_type = content_type
        return response
    try:
        data = await store.get(key)
    except MediaNotFound:
        raise ApiError(404, "not_found", "the media file is missing") from None
    return web.Response(body=data, content_type=content_type, headers=headers)


@family_api
async def get_media(request: web.Request) -> web.StreamResponse:
    """The file itself (ranges supported on local disk, so videos can seek)."""
    who = await principal_of(request)
    media = await _readable(request, who)
    return await _serve(request, media.storage_key, media.content_type)


@family_api
async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    """A photo's JPEG thumbnail."""
    who = await principal_of(request)
    media = await _readable(request, who)
    if media.thumbnail_key is None:
        raise ApiError(404, "not_found", "this media has no thumbnail")
    return await _serve(request, media.thumbnail_key, "image/jpeg")
