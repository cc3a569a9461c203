"""Video messages re-encoded by a durable background job, never inside the upload request.

``POST /api/family/conversations/{cid}/videos`` reads the upload, makes the quick checks
(size, magic bytes, ffprobe: pictures and duration — seconds at most), keeps the file in
the media store and a :class:`~hub.family.models.VideoUpload` row, and answers ``202`` at
once with the message as its sender sees it: ``processing``. A relative on a phone is not
held for the minutes a re-encoding may take (ADR 0162).

:class:`VideoJobs` (one per hub worker, owned by the app) claims uploads in the database
(a conditional UPDATE with a lease, committed before ffmpeg starts, renewed while it runs),
re-encodes them (:func:`hub.media.transcode_video`, one at a time per worker through the
transcode gate), and in one transaction turns each into an ordinary message and drops its
row; every member is then told live (``message.new``, with the ``upload_id`` it replaces).
An upload ffmpeg cannot read, or that takes too long, becomes ``failed`` with a reason
code its sender's app words (``upload.changed``). Nothing is held only in memory: a clean
stop gives the claim back and the next start takes it at once; a crashed worker's claim
runs out after ``video_lease_s`` and another worker (or the restarted one) takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.clock import Clock
from hub.family.access import require_member
from hub.family.conversations import members_of, message_view, upload_view
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.media_routes import error_status, read_limited
from hub.family.models import Conversation, ConversationMember, MediaObject, Message, VideoUpload
from hub.family.parties import party_names
from hub.family.principal import family_api, principal_of
from hub.family.sending import count_post
from hub.family.settings import FAMILY_SETTINGS, MEDIA_STORE, TRANSCODE_GATE, FamilySettings
from hub.family.video_fanout import VideoSignal, send_video_signal
from hub.http import ApiError, path_int
from hub.media import (
    MediaNotFound,
    MediaStore,
    Transcoded,
    UnsupportedMedia,
    check_video,
    new_key,
    transcode_video,
)
from hub.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)

PROCESSING, FAILED = "processing", "failed"
MAX_CAPTION = 2000


class VideoJobs:
    """Claims video uploads and re-encodes them; :meth:`run_pending` is one pass."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: MediaStore,
        live: LiveHub,
        clock: Clock,
        settings: FamilySettings,
        gate: asyncio.Semaphore,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.store = store
        self.live = live
        self.clock = clock
        self.settings = settings
        self.gate = gate
        # Whose claim a row is: this worker's, for this run only.
        self.worker = secrets.token_hex(8)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """An upload arrived on this worker: look at once instead of at the next poll."""
        self._wake.set()

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.video_lease_s)

    async def run_pending(self) -> int:
        """Prepare every upload that is free to take; return how many were finished."""
        done = 0
        while (upload := await self._claim_next()) is not None:
            if await self._prepare(upload):
                done += 1
        return done

    async def _claim_next(self) -> VideoUpload | None:
        now = self.clock()
        free = or_(VideoUpload.lease_until.is_(None), VideoUpload.lease_until <= now)
        async with self.sessionmaker() as session:
            candidates = list(
                await session.scalars(
                    select(VideoUpload.id)
                    .where(VideoUpload.status == PROCESSING, free)
                    .order_by(VideoUpload.id)
                    .limit(10)
                )
            )
            for upload_id in candidates:
                claimed = await session.execute(
                    update(VideoUpload)
                    .where(VideoUpload.id == upload_id, VideoUpload.status == PROCESSING, free)
                    .values(
                        worker=self.worker,
                        lease_until=now + self._lease,
                        attempts=VideoUpload.attempts + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                # Committed before anything slow: other workers see the claim at once.
                await session.commit()
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker took it
                upload = await session.get(VideoUpload, upload_id, populate_existing=True)
                if upload is None:
                    continue
                if upload.attempts > self.settings.video_max_claims:
                    # Taken again and again without an end (a worker dying on this file?).
                    await self._fail(upload, "media_unprocessable")
                    continue
                return upload
        return None

    async def _renew(self, upload_id: int) -> None:
        """Keep the claim while ffmpeg runs (a third of the lease, in real time)."""
        while True:
            await asyncio.sleep(self.settings.video_lease_s / 3)
            async with self.sessionmaker() as session:
                await session.execute(
                    update(VideoUpload)
                    .where(VideoUpload.id == upload_id, VideoUpload.worker == self.worker)
                    .values(lease_until=self.clock() + self._lease)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()

    async def _prepare(self, upload: VideoUpload) -> bool:
        renewal = asyncio.create_task(self._renew(upload.id), name=f"video-lease-{upload.id}")
        try:
            data = await self.store.get(upload.source_key)
            video = await transcode_video(
                data,
                upload.container,
                self.settings.media.video_max_s,
                self.gate,
                self.settings.video_transcode_timeout_s,
            )
        except asyncio.CancelledError:
            # A clean stop: give the claim back, so the next start takes it at once.
            await asyncio.shield(self._release(upload.id, count=False))
            raise
        except UnsupportedMedia as err:
            _LOGGER.info("video upload %s cannot be prepared: %s", upload.id, err)
            await self._fail(upload, err.code)
            return False
        except MediaNotFound:
            _LOGGER.warning("video upload %s: its file is missing", upload.id)
            await self._fail(upload, "media_missing")
            return False
        except Exception:
            # A full disk, ffmpeg missing...: tried again later (up to video_max_claims).
            _LOGGER.exception("video upload %s failed; it will be tried again", upload.id)
            await self._release(upload.id, count=True)
            return False
        finally:
            await cancel_and_wait([renewal])
        return await self._finish(upload, video)

    async def _release(self, upload_id: int, *, count: bool) -> None:
        """Give the claim back: at once after a clean stop, after a poll after a failure."""
        now = self.clock()
        values: dict[str, Any] = {"worker": None, "updated_at": now}
        if count:
            values["lease_until"] = now + timedelta(seconds=self.settings.video_poll_s)
        else:
            values["lease_until"] = None
            values["attempts"] = VideoUpload.attempts - 1
        async with self.sessionmaker() as session:
            await session.execute(
                update(VideoUpload)
                .where(VideoUpload.id == upload_id, VideoUpload.worker == self.worker)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def _finish(self, upload: VideoUpload, video: Transcoded) -> bool:
        data, thumbnail = video.data, video.thumbnail
        key, thumb_key = new_key("mp4"), new_key("jpg")
        await self.store.put(key, data)
        await self.store.put(thumb_key, thumbnail)
        now = self.clock()
        async with self.sessionmaker() as session:
            row = await session.get(VideoUpload, upload.id)
            still_member = (
                await session.get(ConversationMember, (upload.conversation_id, upload.sender))
                is not None
            )
            if row is None or row.worker != self.worker or not still_member:
                # Withdrawn by its sender meanwhile, taken over, or the sender left.
                await session.rollback()
                await self.store.delete(key)
                await self.store.delete(thumb_key)
                if row is not None and row.worker == self.worker and not still_member:
                    await self._fail(row, "not_member")
                return False
            media = MediaObject(
                storage_key=key,
                thumbnail_key=thumb_key,
                kind="video",
                content_type="video/mp4",
                size=len(data),
                width=video.width,
                height=video.height,
                duration_s=video.duration_s,
                uploaded_by=upload.sender,
                created_at=now,
            )
            session.add(media)
            await session.flush()
            # The message is dated when it can be seen, so it comes after what others sent
            # meanwhile and read marks (an id high-water mark) stay right.
            message = Message(
                conversation_id=upload.conversation_id,
                sender=upload.sender,
                kind="video",
                text=upload.text,
                media_id=media.id,
                created_at=now,
            )
            session.add(message)
            await session.flush()
            await session.execute(
                update(Conversation)
                .where(Conversation.id == upload.conversation_id)
                .values(last_message_at=now)
            )
            await session.execute(
                update(ConversationMember)
                .where(
                    ConversationMember.conversation_id == upload.conversation_id,
                    ConversationMember.party == upload.sender,
                    ConversationMember.last_read_id < message.id,
                )
                .values(last_read_id=message.id)
            )
            await session.execute(delete(VideoUpload).where(VideoUpload.id == upload.id))
            members = await members_of(session, upload.conversation_id)
            names = await party_names(session, [upload.sender])
            # Members connected to other workers are told by theirs (on commit).
            await send_video_signal(session, VideoSignal(upload.id, message.id, self.worker))
            await session.commit()
        await self.store.delete(upload.source_key)
        view = message_view(message, media, names, members)
        self.live.publish(
            [m.party for m in members],
            {"type": "message.new", "message": view, "upload_id": upload.id},
            mirror=False,  # the other workers hear of it through the video signal
        )
        _LOGGER.info("video upload %s is message %s", upload.id, message.id)
        return True

    async def _fail(self, upload: VideoUpload, code: str) -> None:
        now = self.clock()
        async with self.sessionmaker() as session:
            changed = await session.execute(
                update(VideoUpload)
                .where(VideoUpload.id == upload.id, VideoUpload.status == PROCESSING)
                .values(status=FAILED, failure=code, worker=None, lease_until=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            row = await session.get(VideoUpload, upload.id, populate_existing=True)
            names = await party_names(session, [upload.sender])
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                await send_video_signal(session, VideoSignal(upload.id, None, self.worker))
            await session.commit()
        # What cannot be sent is not kept: the sender still has the video on their phone.
        await self.store.delete(upload.source_key)
        if changed.rowcount == 1 and row is not None:  # type: ignore[attr-defined]
            self.live.publish(
                [upload.sender],
                {"type": "upload.changed", "upload": upload_view(row, names)},
                mirror=False,  # the other workers hear of it through the video signal
            )


VIDEO_JOBS = web.AppKey("family_video_jobs", VideoJobs)


async def _loop(jobs: VideoJobs, poll_s: float) -> None:
    while True:
        jobs._wake.clear()
        try:
            await jobs.run_pending()
        except Exception:  # keep preparing after a database hiccup
            _LOGGER.exception("video pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(jobs._wake.wait(), poll_s)


async def video_jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the video job loop: its first pass, at start, takes what a previous run left."""
    settings = app[FAMILY_SETTINGS]
    jobs = VideoJobs(
        app[SESSIONMAKER], app[MEDIA_STORE], app[LIVE_HUB], app[CLOCK], settings,
        app[TRANSCODE_GATE],
    )  # fmt: skip
    app[VIDEO_JOBS] = jobs
    task = asyncio.create_task(_loop(jobs, settings.video_poll_s), name="family-video-jobs")
    try:
        yield
    finally:
        await cancel_and_wait([task])


@family_api
async def upload_video(request: web.Request) -> web.Response:
    """Take a video message: checked at once, answered 202, re-encoded by the job."""
    who = await principal_of(request)
    conversation_id = path_int(request, "cid")
    text = request.query.get("text", "").strip()
    if len(text) > MAX_CAPTION:
        raise ApiError(400, "text_too_long", f"a caption has at most {MAX_CAPTION} characters")
    app = request.app
    async with app[SESSIONMAKER]() as session:
        await require_member(session, who, conversation_id)
    limits = app[FAMILY_SETTINGS].media
    data = await read_limited(request, limits.video_max_bytes)
    try:
        checked = await check_video(data, limits)
    except UnsupportedMedia as err:
        raise ApiError(error_status(err.code), err.code, err.message) from None
    await count_post(request, who)
    store = app[MEDIA_STORE]
    key = new_key(checked.container)
    # On disk before the answer: a restart from here on loses nothing.
    await store.put(key, data)
    now = app[CLOCK]()
    upload = VideoUpload(
        conversation_id=conversation_id,
        sender=who.party,
        text=text,
        source_key=key,
        container=checked.container,
        size=checked.size,
        duration_s=checked.duration_s,
        status=PROCESSING,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    try:
        async with app[SESSIONMAKER]() as session:
            session.add(upload)
            await session.commit()
            names = await party_names(session, [who.party])
    except BaseException:
        await store.delete(key)
        raise
    view = upload_view(upload, names)
    if VIDEO_JOBS in app:
        app[VIDEO_JOBS].wake()
    # The sender's other devices show it too.
    app[LIVE_HUB].publish([who.party], {"type": "upload.changed", "upload": view})
    return web.json_response(view, status=202)


@family_api
async def withdraw_upload(request: web.Request) -> web.Response:
    """The sender drops a video on its way (processing or failed): row and file go."""
    who = await principal_of(request)
    upload_id = path_int(request, "uid")
    async with request.app[SESSIONMAKER]() as session:
        upload = await session.get(VideoUpload, upload_id)
        if upload is None or upload.sender != who.party:
            raise ApiError(404, "not_found", "no such video upload")
        key = upload.source_key
        await session.delete(upload)
        await session.commit()
    await request.app[MEDIA_STORE].delete(key)
    request.app[LIVE_HUB].publish([who.party], {"type": "upload.withdrawn", "upload_id": upload_id})
    return web.Response(status=204)
