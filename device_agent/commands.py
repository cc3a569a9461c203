"""Commands from the hub: validate, apply, answer with an :class:`protocol.Ack`.

:func:`handle_command` is pure: it takes the topic, the payload and the agent's
current settings, and returns the acknowledgement plus what the agent must do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time

import msgspec

import protocol
from device_agent.sounder import Phrase
from protocol.i18n import Language

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """What the hub can change at run time with ``configure``."""

    supervision_s: int = 7500
    heartbeat_s: int = 120
    fall_cancel_s: int = 30
    language: Language = "ca"
    inactivity_windows: tuple[protocol.InactivityWindow, ...] = ()
    check_in_deadlines: tuple[time, ...] = ()


@dataclass(frozen=True, slots=True)
class Say:
    """Speak free text."""

    text: str
    language: Language


@dataclass(frozen=True, slots=True)
class Announce:
    """Speak a stock phrase."""

    phrase: Phrase


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """The answer to publish (if the command had an id) and what to do."""

    ack: protocol.Ack | None
    settings: RuntimeSettings
    speech: tuple[Say | Announce, ...] = ()
    reminder: protocol.Reminder | None = None
    errors: tuple[str, ...] = field(default_factory=tuple)


class _IdOnly(msgspec.Struct):
    id: str


_id_decoder = msgspec.json.Decoder(_IdOnly)
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _command_id(payload: bytes) -> str | None:
    # Only to answer a command we could not decode: is there a usable id in it?
    try:
        raw = _id_decoder.decode(payload).id
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return raw if _MESSAGE_ID.fullmatch(raw) else None


def _reject(command_id: str | None, settings: RuntimeSettings, error: str) -> CommandOutcome:
    _LOGGER.warning("command rejected: %s", error)
    ack = (
        None
        if command_id is None
        else protocol.Ack(command_id=command_id, ok=False, error=error[:500])
    )
    return CommandOutcome(ack=ack, settings=settings, errors=(error,))


def handle_command(
    topic: str,
    payload: bytes,
    *,
    gateway_id: str,
    settings: RuntimeSettings,
    firmware: str,
    now: datetime,
) -> CommandOutcome:
    """Decode and apply one command addressed to ``gateway_id``."""
    try:
        parsed = protocol.parse_command_topic(topic)
        message = protocol.decode_command(payload, now=now)
    except protocol.ProtocolError as err:
        return _reject(_command_id(payload), settings, str(err))
    body = message.body
    if parsed.device_id != gateway_id:
        return _reject(
            message.id, settings, f"command for {parsed.device_id}, this is {gateway_id}"
        )
    if protocol.command_name(body) != parsed.name:
        return _reject(
            message.id,
            settings,
            f"topic names command {parsed.name!r} but the body is {protocol.command_name(body)!r}",
        )
    ok = protocol.Ack(command_id=message.id, ok=True)
    if isinstance(body, protocol.Configure):
        windows = body.inactivity_windows
        if windows is not None and any(w.start == w.end for w in windows):
            return _reject(message.id, settings, "an inactivity window must not be empty")
        changed = replace(
            settings,
            supervision_s=body.supervision_s or settings.supervision_s,
            heartbeat_s=body.heartbeat_s or settings.heartbeat_s,
            fall_cancel_s=body.fall_cancel_s or settings.fall_cancel_s,
            language=body.language or settings.language,
            inactivity_windows=tuple(windows)
            if windows is not None
            else settings.inactivity_windows,
            check_in_deadlines=(
                tuple(body.check_in_deadlines)
                if body.check_in_deadlines is not None
                else settings.check_in_deadlines
            ),
        )
        return CommandOutcome(ack=ok, settings=changed)
    if isinstance(body, protocol.Ping):
        return CommandOutcome(ack=ok, settings=settings)
    if isinstance(body, protocol.FirmwareInfo):
        return CommandOutcome(ack=replace_ack(ok, firmware), settings=settings)
    if isinstance(body, protocol.PlayMessage):
        if not body.speak:
            # The gateway has a speaker and no screen: a message to be read only cannot
            # reach the resident here, and saying it would go against the sender's choice.
            return _reject(
                message.id, settings, "this gateway has no screen: a silent message is not said"
            )
        # Said aloud; ``confirm`` cannot be asked (no button to press): the plain Ack says
        # received, as an older tablet's does (docs/adr/0163, 0174).
        return CommandOutcome(ack=ok, settings=settings, speech=(Say(body.text, body.language),))
    if isinstance(body, protocol.Reminder):
        if body.due < now and (now - body.due).total_seconds() > 3600:
            return _reject(message.id, settings, "reminder is more than an hour in the past")
        return CommandOutcome(ack=ok, settings=settings, reminder=body)
    if isinstance(body, protocol.AlarmReceived):
        return CommandOutcome(ack=ok, settings=settings, speech=(Announce("alarm_received"),))
    return _reject(
        message.id,
        settings,
        f"command {protocol.command_name(body)!r} is for the tablet, not the gateway",
    )


def replace_ack(ack: protocol.Ack, firmware: str) -> protocol.Ack:
    """``ack`` carrying the firmware version."""
    return protocol.Ack(command_id=ack.command_id, ok=ack.ok, error=ack.error, firmware=firmware)
