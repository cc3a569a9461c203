"""Runs the tablet's non-visual parts: pairing, the hub link, speech and the ring tone.

Kivy-free, so the whole life cycle (pair → connect → serve → stop) can be tested with
a real broker and a real HTTP server without a window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from tablet_app.controller import Ringer, Speaker, TabletController
from tablet_app.family import FamilyClient, FamilyError, TabletToken
from tablet_app.link import Broker, DeviceHealth, HubLink, utc_now
from tablet_app.model import Screen, TabletModel
from tablet_app.outbox import Outbox
from tablet_app.pairing import (
    DeviceCredentials,
    PairingError,
    load_credentials,
    pair,
    save_credentials,
)
from tablet_app.settings import TabletSettings

_LOGGER = logging.getLogger(__name__)
# Rounds of one second in which stop() cancels a task that is still running.
STOP_ROUNDS = 30


class TabletRuntime:
    """Owns every background task of the app; :meth:`stop` cancels and awaits them."""

    def __init__(
        self,
        model: TabletModel,
        settings: TabletSettings,
        broker: Broker,
        *,
        speaker: Speaker,
        ringer: Ringer,
        clock: Callable[[], datetime] = utc_now,
        health: DeviceHealth | None = None,
        retry_s: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0),
        audio_output: Any = None,
        call_media: Any = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.broker = broker
        self.speaker = speaker
        self.ringer = ringer
        self.clock = clock
        self.health = health
        self.retry_s = retry_s
        # Calls: the loudspeaker (an AudioOutput; PortAudio unless a test gives a recorder)
        # and the camera/microphone (a MediaDevices; synthetic in the demo).
        self.audio_output = audio_output
        self.call_media = call_media
        self.state_dir: Path = settings.state_path()
        self.link: HubLink | None = None
        self.controller: TabletController | None = None
        self.credentials: DeviceCredentials | None = None
        self._outbox: Outbox | None = None
        self.family: FamilyClient | None = None
        self.outgoing: Any = None  # tablet_app.outgoing.OutgoingMedia once the family API is on
        self._media_outbox: Outbox | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("tablet task %s failed", task.get_name(), exc_info=task.exception())

    async def start(self) -> None:
        """Connect with the stored credentials, or show the pairing screen."""
        self.credentials = load_credentials(self.state_dir)
        if self.credentials is not None:
            self._connect(self.credentials.device_id, self._broker_for(self.credentials))
        elif self.settings.device_id:
            self._connect(self.settings.device_id, self.broker)
        else:
            self.model.paired = False
            self.model.go(Screen.PAIR)

    def _broker_for(self, credentials: DeviceCredentials) -> Broker:
        mqtt = credentials.mqtt
        return Broker(
            host=mqtt.host,
            port=mqtt.port,
            username=mqtt.username,
            password=mqtt.password,
            tls=mqtt.tls,
            ca_file=self.broker.ca_file,
            keepalive_s=self.broker.keepalive_s,
        )

    def _connect(self, device_id: str, broker: Broker) -> None:
        self._outbox = Outbox(self.state_dir / "outbox.db")
        self.link = HubLink(
            device_id,
            broker,
            self._outbox,
            health=self.health,
            heartbeat_s=self.settings.heartbeat_s,
            retry_s=self.retry_s,
            clock=self.clock,
        )
        self.controller = TabletController(
            self.model, self.link, speaker=self.speaker, ringer=self.ringer, clock=self.clock
        )
        self.model.paired = True
        self._start_family()
        self.controller.drain()
        self._spawn(self.link.run(), "hub-link")

    def _start_family(self) -> None:
        creds = self.credentials
        token = creds.api_token if creds else self.settings.family_token
        resident = creds.resident_id if creds else self.settings.resident_id
        base = creds.hub_url if creds else self.settings.hub_url
        if not token or resident is None:
            _LOGGER.info("no family-API token: messages, agenda and calls are off")
            return
        self.family = FamilyClient(
            base,
            token,
            resident,
            self.model,
            self.state_dir / "media",
            renew_at=creds.api_token_renew_at if creds else None,
            on_new_token=self._store_token,
        )
        if self.controller is not None:
            self.controller.family = self.family
        self._spawn(self._poll_family(self.family), "family-poll")
        self._spawn(self._calls(self.family), "family-live")
        self._start_outgoing(self.family)

    def _start_outgoing(self, family: FamilyClient) -> None:
        """Voice messages and photos: synthetic devices in the demo, ALSA and V4L2 otherwise."""
        from tablet_app.capture import (
            AlsaMicrophone,
            SyntheticCamera,
            SyntheticMicrophone,
            V4l2Camera,
        )
        from tablet_app.outgoing import OutgoingMedia

        demo = self.settings.demo
        self._media_outbox = Outbox(self.state_dir / "media-outbox.db")
        self.outgoing = OutgoingMedia(
            family,
            self.model,
            self._media_outbox,
            microphone=SyntheticMicrophone() if demo else AlsaMicrophone(),
            camera=SyntheticCamera() if demo else V4l2Camera(),
        )
        if self.controller is not None:
            self.controller.media = self.outgoing
        self._spawn(self.outgoing.run(), "media-outbox")

    async def _calls(self, family: FamilyClient) -> None:
        from tablet_app.audio import SoundDeviceOutput
        from tablet_app.calls import CallEngine, DeviceMedia, SyntheticMedia

        media = self.call_media or (SyntheticMedia() if self.settings.demo else DeviceMedia())
        family.calls = CallEngine(
            family.send_live,
            media,
            ice_servers=await family.ice_servers(),
            on_failed=self.model.call_ended,
            on_volume=self.model.call_volume_set_remotely,
            output=self.audio_output or SoundDeviceOutput(),
        )
        try:
            await family.live()
        finally:
            await family.calls.close()

    def call_video(self) -> tuple[Any, Any]:
        """The current call's frames: (the other person, our own camera)."""
        calls = self.family.calls if self.family is not None else None
        return (calls.sink, calls.local) if calls is not None else (None, None)

    def _store_token(self, renewed: TabletToken) -> None:
        """Keep a renewed family-API token in ``device.json`` (the old one no longer works)."""
        if self.credentials is None:
            return
        self.credentials = msgspec.structs.replace(
            self.credentials,
            api_token=renewed.token,
            api_token_expires_at=renewed.expires_at,
            api_token_renew_at=renewed.renew_at,
        )
        save_credentials(self.state_dir, self.credentials)

    async def _poll_family(self, family: FamilyClient) -> None:
        while True:
            try:
                await family.renew_token_if_due(self.clock())
                await family.refresh()
                # Known before My people is opened: offline Help names the neighbour.
                await family.refresh_circle()
            except FamilyError as err:
                _LOGGER.warning("family service: %s", err)
            await asyncio.sleep(self.settings.family_poll_s)

    def submit_pairing(self) -> None:
        """The installer pressed "Connect" on the digit pad."""
        self._spawn(self._pair(self.model.pair_digits), "pairing")

    async def _pair(self, code: str) -> None:
        self.model.pair_error = self.model.t("pair.working")
        self.model.changed()
        try:
            credentials = await pair(self.settings.hub_url, code)
        except PairingError as err:
            _LOGGER.warning("pairing failed: %s", err)
            key = "pair.no_hub" if err.kind == "no_hub" else "pair.bad_code"
            self.model.pair_error = self.model.t(key)
            self.model.pair_digits = ""
            self.model.changed()
            return
        save_credentials(self.state_dir, credentials)
        self.credentials = credentials
        self.model.pair_digits = ""
        self.model.pair_error = None
        self._connect(credentials.device_id, self._broker_for(credentials))
        self.model.go(Screen.HOME)

    async def stop(self) -> None:
        """Cancel and await every task, then close the queue."""
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        # A task cancelled while a library call finishes can lose the cancellation (Python
        # 3.11's wait_for, inside aiomqtt's connect, subscribe and publish, swallows one that
        # races the result): the link then serves on for ever. Cancel again until it ends.
        for _ in range(STOP_ROUNDS):
            if not pending:
                break
            _, pending = await asyncio.wait(pending, timeout=1.0)
            if not pending:
                break
            for task in pending:
                _LOGGER.warning("tablet task %s still running; cancelling again", task.get_name())
                task.cancel()
        if self.outgoing is not None:
            await self.outgoing.close()
        if self.family is not None:
            await self.family.close()
        close = getattr(self.speaker, "close", None)
        if close is not None:
            await close()
        self.ringer.stop()
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._media_outbox is not None:
            self._media_outbox.close()
            self._media_outbox = None
