"""Joins the view-model to the outside world, without Kivy.

The model decides; the controller carries out its effects (publish through the hub
link, speak, ring, tell the family service) and feeds it what the link receives.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from protocol import CommandBody, Configure
from tablet_app.circle import ChangeConsent, CircleMember, LoadCircle, RemoveMember
from tablet_app.i18n import Lang
from tablet_app.link import HubLink, LinkCallbacks
from tablet_app.model import (
    CallSound,
    EndCall,
    MarkRead,
    Publish,
    Report,
    RequestLinkCode,
    RespondInvitation,
    Ring,
    Speak,
    StartCall,
    StartRecording,
    StopRecording,
    TabletModel,
    TakePhoto,
)

_LOGGER = logging.getLogger(__name__)


class Speaker(Protocol):
    """Text-to-speech."""

    def say(self, text: str, language: Lang) -> None:
        """Start saying ``text``."""


@runtime_checkable
class Announcer(Protocol):
    """A speaker that can tell when a sentence has been said (``EspeakSpeaker``)."""

    async def announce(self, text: str, language: Lang) -> None:
        """Say ``text`` and return once it has been said."""


# What the call engine awaits before the caller is heard (see ``StartCall.announce``).
Announcement = Callable[[], Awaitable[None]]


class Ringer(Protocol):
    """The ring tone of an incoming call."""

    def start(self) -> None:
        """Start ringing (repeats until stopped)."""

    def stop(self) -> None:
        """Stop ringing."""


class FamilyPort(Protocol):
    """The family network's services the tablet uses (messages, agenda, calls)."""

    def mark_read(self, message_ids: tuple[str, ...]) -> None:
        """Send read receipts."""

    def respond_invitation(self, item_id: str, accept: bool) -> None:
        """Accept or decline an agenda invitation."""

    def request_link_code(self, grants: tuple[str, ...] = ()) -> None:
        """Create a linking code for a new family member, granting ``grants``, and show it."""

    def request_circle(self) -> None:
        """Read the circle: who is in it and what each may see."""

    def change_consent(
        self, link_id: str, scopes: tuple[str, ...], before: CircleMember | None = None
    ) -> None:
        """Save what a member of the circle may see (``before``: put back if it fails)."""

    def remove_member(self, link_id: str, before: CircleMember | None = None) -> None:
        """Take a member out of the circle (``before``: put back if it fails)."""

    def start_call(
        self,
        contact_id: str,
        call_id: str | None,
        *,
        voice_only: bool = False,
        loud: bool = False,
        announce: Announcement | None = None,
    ) -> None:
        """Place a call, or answer ``call_id`` (``voice_only``/``loud``: the centre's;
        ``announce``: awaited before the caller is heard)."""

    def end_call(self, call_id: str | None, declined: bool) -> None:
        """Decline or hang up."""

    def call_sound(self, volume: int, muted: bool) -> None:
        """Set the current call's loudspeaker step and switch the microphone off or on."""


class MediaPort(Protocol):
    """The resident's own voice messages and photos (``tablet_app.outgoing``)."""

    def start_recording(self, contact_id: str) -> None:
        """Switch the microphone on."""

    def stop_recording(self, send: bool) -> None:
        """Switch it off; send the recording or throw it away."""

    def take_photo(self, contact_id: str) -> None:
        """Take a photo and send it."""


class SilentRinger:
    """A ringer for devices without sound: it only logs."""

    ringing = False

    def start(self) -> None:
        """Remember that it rings."""
        self.ringing = True
        _LOGGER.info("ringing")

    def stop(self) -> None:
        """Remember that it stopped."""
        self.ringing = False


class TabletController:
    """Carries out the model's effects and feeds it the hub's commands."""

    def __init__(
        self,
        model: TabletModel,
        link: HubLink,
        *,
        speaker: Speaker,
        ringer: Ringer,
        clock: Callable[[], datetime],
        family: FamilyPort | None = None,
        media: MediaPort | None = None,
    ) -> None:
        self.model = model
        self.link = link
        self.speaker = speaker
        self.ringer = ringer
        self.clock = clock
        self.family = family
        self.media = media
        link.callbacks = LinkCallbacks(
            on_command=self.on_command,
            on_online=model.set_online,
            on_delivered=model.delivered,
            on_retry=model.retrying,
        )
        model.subscribe(self.drain)

    def on_command(self, body: CommandBody, command_id: str | None = None) -> None:
        """A valid command from the hub (``command_id``: its envelope id)."""
        if isinstance(body, Configure) and body.heartbeat_s is not None:
            self.link.set_heartbeat(body.heartbeat_s)
        self.model.on_command(body, self.clock(), command_id)

    def drain(self) -> None:
        """Carry out every effect the model produced."""
        for effect in self.model.take_effects():
            if isinstance(effect, Publish):
                self.link.send(effect.message_id, effect.body)
            elif isinstance(effect, Report):
                self.link.report(effect.command_id, effect.state, effect.until)
            elif isinstance(effect, Speak):
                self.speaker.say(effect.text, effect.language)
            elif isinstance(effect, Ring):
                (self.ringer.start if effect.on else self.ringer.stop)()
            elif isinstance(effect, StartRecording | StopRecording | TakePhoto):
                self._media(effect)
            elif self.family is None:
                _LOGGER.info("no family service configured; %s not sent", type(effect).__name__)
            elif isinstance(effect, MarkRead):
                self.family.mark_read(effect.message_ids)
            elif isinstance(effect, RespondInvitation):
                self.family.respond_invitation(effect.item_id, effect.accept)
            elif isinstance(effect, StartCall):
                self.family.start_call(
                    effect.contact_id, effect.call_id, voice_only=effect.voice_only,
                    loud=effect.loud, announce=self._announcement(effect.announce),
                )  # fmt: skip
            elif isinstance(effect, EndCall):
                self.family.end_call(effect.call_id, effect.declined)
            elif isinstance(effect, CallSound):
                self.family.call_sound(effect.volume, effect.muted)
            elif isinstance(effect, RequestLinkCode):
                self.family.request_link_code(effect.grants)
            elif isinstance(effect, LoadCircle):
                self.family.request_circle()
            elif isinstance(effect, ChangeConsent):
                self.family.change_consent(effect.link_id, effect.scopes, effect.before)
            elif isinstance(effect, RemoveMember):
                self.family.remove_member(effect.link_id, effect.before)

    def _announcement(self, speak: Speak | None) -> Announcement | None:
        """What the call waits for before the caller is heard: the sentence being said.

        A speaker that cannot tell when it is done just starts saying it (nothing to wait
        for, as before); so does a call without a family service.
        """
        if speak is None:
            return None
        speaker = self.speaker
        if self.family is None or not isinstance(speaker, Announcer):
            self.speaker.say(speak.text, speak.language)
            return None

        async def said() -> None:
            await speaker.announce(speak.text, speak.language)

        return said

    def _media(self, effect: StartRecording | StopRecording | TakePhoto) -> None:
        if self.media is None:
            _LOGGER.info("no microphone or camera service; %s ignored", type(effect).__name__)
        elif isinstance(effect, StartRecording):
            self.media.start_recording(effect.contact_id)
        elif isinstance(effect, StopRecording):
            self.media.stop_recording(effect.send)
        else:
            self.media.take_photo(effect.contact_id)
