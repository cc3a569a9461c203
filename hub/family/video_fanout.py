"""A prepared or failed video reaches every hub worker's sockets (docs/adr/0172).

The video job (:mod:`hub.family.video_jobs`) runs on whichever worker claimed the upload,
but the conversation's members may be connected to any worker, and live events are per
process. So the job sends a :class:`VideoSignal` — ids only: a caption alone may be near
PostgreSQL's 8000-byte NOTIFY limit — in the transaction that ends the upload, on a
channel of the alarm fan-out's connection (:class:`hub.alarms.fanout.Relay`, no second
mechanism). Every other worker's :class:`VideoRelay` reads the rows and publishes the same
``message.new`` or ``upload.changed`` its own job would have; the worker that sent it has
published already. After the listening connection was lost, the relay publishes again the
videos that became messages, or failed, since then: clients take a message or an upload
they already show as a replacement, so a repeat is harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alarms.fanout import Relay, json_object, notify
from hub.family.conversations import members_of, message_view, upload_view
from hub.family.live import LiveHub
from hub.family.models import MediaObject, Message, VideoUpload
from hub.family.parties import party_names

_LOGGER = logging.getLogger(__name__)

CHANNEL = "teleassist_family_videos"
MAX_ORIGIN = 64
CATCH_UP_LIMIT = 500


class BadVideoSignal(ValueError):
    """A notification on the channel that is not a video signal."""


@dataclass(frozen=True, slots=True)
class VideoSignal:
    """Upload ``upload_id`` became message ``message_id`` (None: it failed) on ``origin``."""

    upload_id: int
    message_id: int | None
    origin: str

    def __post_init__(self) -> None:
        if self.upload_id < 1 or (self.message_id is not None and self.message_id < 1):
            raise BadVideoSignal("ids are positive")
        if not self.origin or len(self.origin) > MAX_ORIGIN:
            raise BadVideoSignal(f"origin of {len(self.origin)} characters")

    def payload(self) -> str:
        """The NOTIFY payload (compact JSON)."""
        data: dict[str, Any] = {"u": self.upload_id, "o": self.origin}
        if self.message_id is not None:
            data["m"] = self.message_id
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> VideoSignal:
        """Read a payload; :class:`BadVideoSignal` if it is not one."""
        data = json_object(text, BadVideoSignal)
        upload_id, message_id, origin = data.get("u"), data.get("m"), data.get("o")
        if (
            type(upload_id) is not int
            or not (message_id is None or type(message_id) is int)
            or not isinstance(origin, str)
        ):
            raise BadVideoSignal("missing or mistyped field")
        return cls(upload_id, message_id, origin)


async def send_video_signal(session: AsyncSession, signal: VideoSignal) -> None:
    """Tell the other workers, when ``session``'s transaction commits (PostgreSQL only)."""
    await notify(session, CHANNEL, signal.payload())


class VideoRelay:
    """Publishes here what other workers' video jobs finished (see the module's text)."""

    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        live: LiveHub,
        origin: Callable[[], str | None],
    ) -> None:
        # Getters: the relay is made at setup, before the database is opened.
        self._sessionmaker = sessionmaker
        self._live = live
        # This worker's job's name: its own signals were published already.
        self._origin = origin
        self.published = 0

    def relay(self) -> Relay:
        """This relay as a channel of the alarm fan-out."""
        return Relay(CHANNEL, self.deliver, self.catch_up)

    async def deliver(self, payload: str) -> None:
        """Publish what one signal tells of (nothing if it is this worker's own)."""
        try:
            signal = VideoSignal.parse(payload)
        except BadVideoSignal as err:
            _LOGGER.warning("ignoring a notification on %s: %s", CHANNEL, err)
            return
        if signal.origin == self._origin():
            return
        async with self._sessionmaker()() as session:
            if signal.message_id is not None:
                message = await session.get(Message, signal.message_id)
                if message is not None:
                    await self._publish_message(session, message, signal.upload_id)
            else:
                upload = await session.get(VideoUpload, signal.upload_id)
                if upload is not None:  # None: its sender removed it meanwhile
                    await self._publish_failure(session, upload)

    async def catch_up(self, since: datetime) -> None:
        """Publish again the videos that became messages, or failed, since ``since``."""
        async with self._sessionmaker()() as session:
            messages = list(
                await session.scalars(
                    select(Message)
                    .where(Message.kind == "video", Message.created_at >= since)
                    .order_by(Message.id)
                    .limit(CATCH_UP_LIMIT)
                )
            )
            failed = list(
                await session.scalars(
                    select(VideoUpload)
                    .where(VideoUpload.status == "failed", VideoUpload.updated_at >= since)
                    .order_by(VideoUpload.id)
                    .limit(CATCH_UP_LIMIT)
                )
            )
            for message in messages:
                await self._publish_message(session, message, None)
            for upload in failed:
                await self._publish_failure(session, upload)
        _LOGGER.info(
            "video relay caught up on %d messages and %d failed uploads since %s",
            len(messages), len(failed), since,
        )  # fmt: skip

    async def _publish_message(
        self, session: AsyncSession, message: Message, upload_id: int | None
    ) -> None:
        media = await session.get(MediaObject, message.media_id) if message.media_id else None
        members = await members_of(session, message.conversation_id)
        names = await party_names(session, [message.sender])
        event: dict[str, Any] = {
            "type": "message.new",
            "message": message_view(message, media, names, members),
        }
        if upload_id is not None:
            event["upload_id"] = upload_id
        self._live.publish([m.party for m in members], event, mirror=False)
        self.published += 1

    async def _publish_failure(self, session: AsyncSession, upload: VideoUpload) -> None:
        if upload.status != "failed":
            return
        names = await party_names(session, [upload.sender])
        event = {"type": "upload.changed", "upload": upload_view(upload, names)}
        self._live.publish([upload.sender], event, mirror=False)
        self.published += 1
