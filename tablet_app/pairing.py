"""Provisioning: a one-time setup code typed by the installer becomes device credentials.

The call the tablet makes (documented in docs/tablet.md for the hub):

``POST {hub_url}/api/tablet/pair`` with ``{"code": "48213377"}`` →
``200 {"device_id", "resident_id", "hub_url", "api_token", "api_token_expires_at",
"api_token_renew_at", "mqtt": {"host", "port", "username", "password", "tls"}}``;
``400``/``404``/``410`` for a malformed, unknown or used/expired code; ``429`` when too
many codes were tried.

The credentials are stored in ``state_dir/device.json`` readable by the app's user only.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

import aiohttp
import msgspec

from protocol import TopicError, validate_device_id

_LOGGER = logging.getLogger(__name__)

CREDENTIALS_FILE = "device.json"
PAIR_PATH = "/api/tablet/pair"
MIN_CODE, MAX_CODE = 6, 12


class MqttCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """How this tablet signs in to the broker."""

    host: str
    port: int = 1883
    username: str
    password: str
    tls: bool = False


class DeviceCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """What pairing gives the tablet."""

    device_id: str
    resident_id: int | None = None
    hub_url: str
    api_token: str | None = None
    # The family-API token expires; the tablet renews it from renew_at on (FamilyClient).
    api_token_expires_at: datetime | None = None
    api_token_renew_at: datetime | None = None
    mqtt: MqttCredentials


class PairingError(Exception):
    """Pairing failed; ``kind`` picks the sentence shown to the installer."""

    def __init__(self, kind: Literal["bad_code", "no_hub", "bad_answer"], detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def check_code(code: str) -> str:
    """The code if it is 6–12 digits, else :class:`PairingError` (nothing is sent)."""
    if not (code.isdigit() and code.isascii() and MIN_CODE <= len(code) <= MAX_CODE):
        raise PairingError("bad_code", f"a setup code has {MIN_CODE} to {MAX_CODE} digits")
    return code


async def pair(hub_url: str, code: str, *, timeout_s: float = 20.0) -> DeviceCredentials:
    """Exchange ``code`` for this tablet's credentials at the hub."""
    check_code(code)
    url = hub_url.rstrip("/") + PAIR_PATH
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, json={"code": code}) as response,
        ):
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as err:
        raise PairingError("no_hub", f"{url}: {err!r}") from err
    if status in (400, 404, 410, 429):
        raise PairingError("bad_code", f"hub answered {status}: {body[:200]!r}")
    if status != 200:
        raise PairingError("no_hub", f"hub answered {status}")
    try:
        credentials = msgspec.json.decode(body, type=DeviceCredentials)
        validate_device_id(credentials.device_id)
    except (msgspec.DecodeError, msgspec.ValidationError, TopicError) as err:
        raise PairingError("bad_answer", f"unexpected answer from the hub: {err}") from err
    _LOGGER.info("paired as device %s", credentials.device_id)
    return credentials


def save_credentials(state_dir: Path, credentials: DeviceCredentials) -> Path:
    """Write ``device.json`` (mode 0600, replaced atomically)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / CREDENTIALS_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(msgspec.json.encode(credentials))
    tmp.replace(path)
    return path


def load_credentials(state_dir: Path) -> DeviceCredentials | None:
    """The stored credentials, ``None`` if never paired; a damaged file is an error."""
    path = state_dir / CREDENTIALS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(raw, type=DeviceCredentials)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ValueError(f"{path} is damaged ({err}); pair the tablet again") from err


def credentials_json(credentials: DeviceCredentials) -> str:
    """For logs and support: the credentials without secrets."""
    data = msgspec.to_builtins(credentials)
    data["mqtt"]["password"] = "***"  # noqa: S105 - a mask, not a secret
    if data.get("api_token"):
        data["api_token"] = "***"  # noqa: S105 - a mask, not a secret
    return json.dumps(data)
