"""The resident's own voice messages and photos: record, keep on disk, upload, send.

A finished recording (or a photo) is first written to an on-disk queue (the tablet's
:class:`~tablet_app.outbox.Outbox`, in its own file) and removed only once the hub has
stored it as a message, so a message survives a hub that is down, refuses it or an app
restart. Each queued item goes through two steps, each recorded in the queue so a retry
never uploads the same file twice:

``voice/<contact>`` or ``photo/<contact>`` (the file)
    → ``POST /api/family/media?kind=…`` → ``sent/<contact>/<media_id>``
    → ``POST /api/family/conversations/{cid}/messages {"media_id"}`` → removed.

While something is left, :meth:`OutgoingMedia.run` tries again with a growing pause; the
screen says calmly that the message is kept and will be sent later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from protocol import new_message_id
from tablet_app.capture import (
    PHOTO_CONTENT_TYPE,
    VOICE_CONTENT_TYPE,
    Camera,
    Microphone,
    VoiceRecorder,
)
from tablet_app.family import FamilyClient, FamilyError
from tablet_app.model import TabletModel
from tablet_app.outbox import Outbox, Queued

_LOGGER = logging.getLogger(__name__)

QUEUE_LIMIT = 100  # files; the oldest is dropped (and logged) beyond that
RETRY_S = (5.0, 15.0, 60.0, 300.0, 900.0)
_CONTENT_TYPES = {"voice": VOICE_CONTENT_TYPE, "photo": PHOTO_CONTENT_TYPE}


class OutgoingMedia:
    """Carries out "Record a message" and "Take a photo" for one tablet."""

    def __init__(
        self,
        family: FamilyClient,
        model: TabletModel,
        outbox: Outbox,
        *,
        microphone: Microphone,
        camera: Camera,
        retry_s: tuple[float, ...] = RETRY_S,
    ) -> None:
        self.family = family
        self.model = model
        self.outbox = outbox
        self.microphone = microphone
        self.camera = camera
        self.recorder = VoiceRecorder(microphone)
        self.retry_s = retry_s
        self.attempts = 0  # failed sending rounds since the last success
        self._contact: str | None = None
        self._kick = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        model.can_record = microphone.available()
        model.can_photo = camera.available()

    # ------------------------------------------------------------ MediaPort (from the UI)

    def start_recording(self, contact_id: str) -> None:
        """Switch the microphone on for a message to ``contact_id``."""
        self._contact = contact_id
        self.recorder.start()

    def stop_recording(self, send: bool) -> None:
        """Switch the microphone off; queue and send the recording, or throw it away."""
        self._spawn(self._finish(send), "voice-finish")

    def take_photo(self, contact_id: str) -> None:
        """Take a photo and send it to ``contact_id``."""
        self._spawn(self._photo(contact_id), "photo")

    # ------------------------------------------------------------ plumbing

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            _LOGGER.error("outgoing media task %s failed", task.get_name(), exc_info=err)

    async def close(self) -> None:
        """Stop recording and cancel every task (what is queued stays on disk)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.recorder.cancel()

    # ------------------------------------------------------------ recording and photos

    async def _finish(self, send: bool) -> None:
        if not send:
            await self.recorder.cancel()
            return
        data = await self.recorder.stop()
        contact = self._contact
        if not data or contact is None:
            _LOGGER.info("nothing was recorded; nothing to send")
            self.model.outgoing_done(sent=None)
            return
        _LOGGER.info("voice message of %d bytes for %s", len(data), contact)
        self._queue("voice", contact, data)
        await self._send_now()

    async def _photo(self, contact_id: str) -> None:
        try:
            data = await self.camera.snap()
        except OSError as err:
            _LOGGER.warning("the camera gave no photo: %s", err)
            self.model.outgoing_done(sent=None)
            return
        self._queue("photo", contact_id, data)
        await self._send_now()

    def _queue(self, kind: str, contact_id: str, data: bytes) -> None:
        self.outbox.put(new_message_id(), f"{kind}/{contact_id}", data)
        excess = len(self.outbox) - QUEUE_LIMIT
        if excess > 0:
            for item in self.outbox.pending()[:excess]:
                _LOGGER.warning("media queue full: dropping %s", item.topic)
                self.outbox.remove(item.message_id)

    async def _send_now(self) -> None:
        sent = await self.flush()
        self.model.outgoing_done(sent=sent)
        if not sent:
            self._kick.set()  # the retry loop takes over

    # ------------------------------------------------------------ delivery

    async def flush(self) -> bool:
        """Try to send everything queued, oldest first; ``True`` if nothing is left."""
        async with self._lock:
            for item in self.outbox.pending():
                try:
                    await self._deliver(item)
                except FamilyError as err:
                    self.attempts += 1
                    _LOGGER.warning(
                        "media not sent (%d left, attempt %d): %s",
                        len(self.outbox),
                        self.attempts,
                        err,
                    )
                    return False
            self.attempts = 0
            return True

    async def _deliver(self, item: Queued) -> None:
        kind, _, rest = item.topic.partition("/")
        if kind in _CONTENT_TYPES:
            media_id = await self.family.upload_media(kind, item.payload, _CONTENT_TYPES[kind])
            # Uploaded: remember it, so a retry only sends the message.
            self.outbox.replace(item.message_id, f"sent/{rest}/{media_id}", b"")
            contact = rest
        elif kind == "sent":
            contact, _, raw_id = rest.rpartition("/")
            media_id = int(raw_id)
        else:
            _LOGGER.error("unknown item %r in the media queue; dropped", item.topic)
            self.outbox.remove(item.message_id)
            return
        await self.family.send_media(contact, media_id)
        self.outbox.remove(item.message_id)
        _LOGGER.info("media %d sent to %s", media_id, contact)

    async def run(self) -> None:
        """Send what is queued (also what an earlier run left), retrying with a growing pause."""
        while True:
            if len(self.outbox) == 0:
                self._kick.clear()
                await self._kick.wait()  # set when a send fails and something is left
            pause = self.retry_s[min(max(self.attempts - 1, 0), len(self.retry_s) - 1)]
            await asyncio.sleep(pause)
            if await self.flush():
                self.model.outgoing_done(sent=True)
