"""``teleassist hub create-home | add-device | revoke-device | sync-broker``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from config import MqttSettings
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.crypto import KeySafeCipher
from hub.registry import service
from hub.registry.sync import make_broker_security
from hub.settings import HubSettings, with_secrets

ACTOR = "cli"


async def run_registry_action(
    action: str, args: argparse.Namespace, settings: HubSettings, mqtt: MqttSettings
) -> int:
    """Carry out one provisioning action against the hub's database."""
    settings = with_secrets(settings)
    url = settings.resolved_database_url()
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            try:
                if action == "create-home":
                    home = await service.create_home(
                        session,
                        address=args.address,
                        abss_area=args.abss_area,
                        access_notes=args.access_notes,
                        cipher=KeySafeCipher(settings.keysafe_key, settings.keysafe_previous_keys),
                        actor=ACTOR,
                    )
                    await session.commit()
                    print(f"home {home.id} created")
                elif action == "add-device":
                    _, creds = await service.provision_device(
                        session,
                        device_id=args.device_id,
                        home_id=args.home,
                        device_type=args.type,
                        room=args.room,
                        gateway_id=args.gateway,
                        actor=ACTOR,
                    )
                    await session.commit()
                    print(f"device {creds.device_id} registered")
                    print(f"mqtt username: {creds.username}")
                    print(f"mqtt secret:   {creds.secret}   (shown once; store it on the device)")
                elif action == "revoke-device":
                    await service.revoke_device(
                        session, args.device_id, actor=ACTOR, reason=args.reason
                    )
                    await session.commit()
                    print(f"device {args.device_id} revoked")
            except service.ProvisioningError as err:
                print(f"teleassist hub {action}: {err.message}", file=sys.stderr)
                return 1
            if settings.mosquitto_passwd_file and action != "create-home":
                security = await asyncio.to_thread(make_broker_security, settings, mqtt)
                changed = await security.sync(session)
                print("broker files updated" if changed else "broker files already up to date")
            elif action == "sync-broker":
                print("hub.mosquitto_passwd_file is not set: nothing to do", file=sys.stderr)
                return 1
    finally:
        await engine.dispose()
    return 0
