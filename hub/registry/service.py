"""Provisioning: homes and devices, per-device credentials, revocation (with audit)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.emergency import control_characters
from hub.audit import record_audit
from hub.db.crypto import KeySafeCipher
from hub.db.models import Device, Home, Resident
from hub.errors import HubError
from hub.registry.credentials import mosquitto_hash, new_device_secret
from protocol import validate_device_id


class ProvisioningError(HubError, ValueError):
    """A request that cannot be carried out; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """What an installer needs to configure a device: shown once, never stored in clear."""

    device_id: str
    username: str
    secret: str


def refuse_control_characters(name: str, value: str) -> None:
    """Registry text goes to 112 and into XML: control characters are refused, not stored."""
    found = control_characters(value)
    if found:
        raise ProvisioningError(
            "invalid_request", f"{name} contains control characters ({', '.join(found)})"
        )


async def create_home(
    session: AsyncSession,
    *,
    address: str,
    abss_area: str = "",
    key_safe_code: str | None = None,
    access_notes: str = "",
    lat: float | None = None,
    lon: float | None = None,
    cipher: KeySafeCipher,
    actor: str,
) -> Home:
    """Add a home (the key-safe code is encrypted)."""
    if not address.strip():
        raise ProvisioningError("invalid_request", "address must not be empty")
    for name, value in (
        ("address", address),
        ("abss_area", abss_area),
        ("access_notes", access_notes),
    ):
        refuse_control_characters(name, value)
    home = Home(
        address=address.strip(),
        abss_area=abss_area,
        access_notes=access_notes,
        lat=lat,
        lon=lon,
    )
    home.set_key_safe_code(cipher, key_safe_code)
    session.add(home)
    await session.flush()
    await record_audit(session, actor, "home.create", f"home:{home.id}", {"abss_area": abss_area})
    return home


async def provision_device(
    session: AsyncSession,
    *,
    device_id: str,
    home_id: int,
    device_type: str,
    room: str | None = None,
    gateway_id: str | None = None,
    resident_id: int | None = None,
    actor: str,
) -> tuple[Device, DeviceCredentials]:
    """Register a device and give it its own broker credentials."""
    try:
        validate_device_id(device_id)
    except ValueError as err:
        raise ProvisioningError("invalid_device_id", str(err)) from None
    if not device_type or len(device_type) > 32:
        raise ProvisioningError("invalid_request", "type must be 1-32 characters")
    if await session.get(Home, home_id) is None:
        raise ProvisioningError("not_found", f"home {home_id} does not exist")
    if await session.get(Device, device_id) is not None:
        raise ProvisioningError("conflict", f"device {device_id!r} already exists")
    if gateway_id is not None:
        gateway = await session.get(Device, gateway_id)
        if gateway is None or gateway.home_id != home_id:
            raise ProvisioningError("not_found", f"home {home_id} has no gateway {gateway_id!r}")
    if resident_id is not None:
        resident = await session.get(Resident, resident_id)
        if resident is None or resident.home_id != home_id:
            raise ProvisioningError("not_found", f"home {home_id} has no resident {resident_id}")
    secret = new_device_secret()
    device = Device(
        id=device_id,
        home_id=home_id,
        type=device_type,
        room=room,
        gateway_id=gateway_id,
        resident_id=resident_id,
        secret_hash=mosquitto_hash(secret),
        state="unknown",
    )
    session.add(device)
    await session.flush()
    await record_audit(
        session,
        actor,
        "device.provision",
        f"device:{device_id}",
        {"home": home_id, "type": device_type, "gateway": gateway_id},
    )
    return device, DeviceCredentials(device_id, device_id, secret)


async def issue_credentials(
    session: AsyncSession, device_id: str, *, actor: str
) -> DeviceCredentials:
    """A new secret for a device (the old one stops working at the next broker sync)."""
    device = await session.get(Device, device_id)
    if device is None:
        raise ProvisioningError("not_found", f"device {device_id!r} does not exist")
    if device.state == "revoked":
        raise ProvisioningError("conflict", f"device {device_id!r} is revoked")
    secret = new_device_secret()
    device.secret_hash = mosquitto_hash(secret)
    await record_audit(session, actor, "device.credentials", f"device:{device_id}")
    return DeviceCredentials(device_id, device_id, secret)


async def revoke_device(
    session: AsyncSession, device_id: str, *, actor: str, reason: str = ""
) -> Device:
    """Withdraw a device's credentials for good (lost pendant, returned kit)."""
    device = await session.get(Device, device_id)
    if device is None:
        raise ProvisioningError("not_found", f"device {device_id!r} does not exist")
    device.state = "revoked"
    device.state_reason = "revoked"
    device.secret_hash = None
    await record_audit(session, actor, "device.revoke", f"device:{device_id}", {"reason": reason})
    return device
