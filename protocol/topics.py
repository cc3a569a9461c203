"""MQTT topic names of the contract: builders and strict parsers.

Devices publish on ``ta/v1/d/{device_id}/{channel}`` and receive commands on
``ta/v1/c/{device_id}/{name}``. Addressing by device lets the broker enforce that a
device writes only its own topics (ACL ``pattern write ta/v1/d/%u/#``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import TopicError

PREFIX = "ta/v1"
DEVICE_ROOT = f"{PREFIX}/d"
COMMAND_ROOT = f"{PREFIX}/c"
MAX_DEVICE_ID_BYTES = 64

# A device id is used verbatim as an MQTT username and as one topic level, so it is
# a restricted token: letters, digits and a few separators, starting with a letter or digit.
_DEVICE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_COMMAND_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Long enough for a group name that carries a secret digest (hub.ingest.app.share_group).
_SHARE_GROUP_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class Channel(StrEnum):
    """What a device publishes on; see docs/protocol.md for QoS and retain rules."""

    TELEMETRY = "telemetry"
    EVENT = "event"
    STATUS = "status"
    ACK = "ack"


def validate_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is a valid token, else raise :class:`TopicError`."""
    if not device_id:
        raise TopicError("device id is empty")
    if len(device_id.encode("utf-8")) > MAX_DEVICE_ID_BYTES:
        raise TopicError(f"device id is longer than {MAX_DEVICE_ID_BYTES} bytes")
    for bad, name in (("/", "a '/'"), ("+", "a '+' wildcard"), ("#", "a '#' wildcard")):
        if bad in device_id:
            raise TopicError(f"device id {device_id!r} contains {name}")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in device_id):
        raise TopicError(f"device id {device_id!r} contains a control character")
    if not _DEVICE_ID_RE.fullmatch(device_id):
        raise TopicError(
            f"device id {device_id!r} may only use letters, digits, '.', '_', ':' and '-'"
            " and must start with a letter or digit"
        )
    return device_id


def validate_command_name(name: str) -> str:
    """Return ``name`` if it is a valid command name, else raise :class:`TopicError`."""
    if not _COMMAND_NAME_RE.fullmatch(name):
        raise TopicError(f"command name {name!r} must be lower-case letters, digits and '_'")
    return name


def device_topic(device_id: str, channel: Channel | str) -> str:
    """Topic on which ``device_id`` publishes ``channel``."""
    return f"{DEVICE_ROOT}/{validate_device_id(device_id)}/{Channel(channel).value}"


def command_topic(device_id: str, name: str) -> str:
    """Topic on which the hub sends command ``name`` to ``device_id``."""
    return f"{COMMAND_ROOT}/{validate_device_id(device_id)}/{validate_command_name(name)}"


def device_subscription(channel: Channel | str | None = None) -> str:
    """Wildcard filter for every device's ``channel`` (or all channels)."""
    level = "+" if channel is None else Channel(channel).value
    return f"{DEVICE_ROOT}/+/{level}"


def shared_subscription(group: str, topic_filter: str) -> str:
    """MQTT 5 / Mosquitto shared subscription, so several hub workers split the load."""
    if not _SHARE_GROUP_RE.fullmatch(group):
        raise TopicError(f"share group {group!r} must be 1-64 lower-case letters, digits, '_'")
    return f"$share/{group}/{topic_filter}"


def command_subscription(device_id: str) -> str:
    """Filter a device subscribes to for all of its commands."""
    return f"{COMMAND_ROOT}/{validate_device_id(device_id)}/+"


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """A parsed device→hub topic."""

    device_id: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class CommandTopic:
    """A parsed hub→device command topic."""

    device_id: str
    name: str


def parse_device_topic(topic: str) -> DeviceTopic:
    """Parse ``ta/v1/d/{device_id}/{channel}``; raise :class:`TopicError` otherwise."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}/{parts[2]}" != DEVICE_ROOT:
        raise TopicError(f"topic {topic!r} is not of the form {DEVICE_ROOT}/<device>/<channel>")
    device_id = validate_device_id(parts[3])
    try:
        channel = Channel(parts[4])
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise TopicError(f"unknown channel {parts[4]!r} (expected one of {allowed})") from None
    return DeviceTopic(device_id, channel)


def parse_command_topic(topic: str) -> CommandTopic:
    """Parse ``ta/v1/c/{device_id}/{name}``; raise :class:`TopicError` otherwise."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}/{parts[2]}" != COMMAND_ROOT:
        raise TopicError(f"topic {topic!r} is not of the form {COMMAND_ROOT}/<device>/<name>")
    return CommandTopic(validate_device_id(parts[3]), validate_command_name(parts[4]))
