"""``teleassist hub``: run the hub, migrate its database, create users.

teleassist hub [serve] [--host H] [--port P] [--data-dir DIR]
teleassist hub migrate
teleassist hub create-user NAME --role operator [--password-stdin]
teleassist hub weekly-signals [--week YYYY-MM-DD]
teleassist hub roles-table docs/roles.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import msgspec
from aiohttp import web

from config import Config, MqttSettings
from hub.auth.passwords import WeakPasswordError
from hub.auth.roles import Role
from hub.settings import HubSettings, load_hub_settings
from protocol.i18n import LANGUAGES

_LOGGER = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT_S = 5.0
# The whole stop (sockets closed, batches flushed, tasks ended): past it the hub logs what
# it still waits for and exits (exit status 1) rather than stay up (docs/adr/0173). Below
# the 30 s a supervisor (the benchmarks, systemd's default 90 s) gives before SIGKILL.
STOP_LIMIT_S = 25.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``teleassist hub``."""
    parser.add_argument("--host", help="HTTP address to listen on (hub.http_host)")
    parser.add_argument("--port", type=int, help="HTTP port (hub.http_port)")
    parser.add_argument("--data-dir", help="where the hub keeps its files (hub.data_dir)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (hub.database_url)")
    parser.add_argument(
        "--no-ingest", action="store_true", help="serve the API only; do not connect to MQTT"
    )
    sub = parser.add_subparsers(dest="hub_command", metavar="ACTION")
    sub.add_parser("serve", help="run the hub (the default)")
    sub.add_parser("migrate", help="bring the database schema up to date and exit")
    create = sub.add_parser("create-user", help="add a user who can sign in")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--display-name", default="")
    create.add_argument("--language", default="ca", choices=list(LANGUAGES))
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    home = sub.add_parser("create-home", help="register a home; prints its id")
    home.add_argument("--address", required=True)
    home.add_argument("--abss-area", default="")
    home.add_argument("--access-notes", default="")
    device = sub.add_parser("add-device", help="register a device; prints its broker secret")
    device.add_argument("device_id")
    device.add_argument("--home", type=int, required=True, help="home id")
    device.add_argument("--type", required=True, help="pendant, gateway, motion, contact...")
    device.add_argument("--room")
    device.add_argument("--gateway", help="the gateway that relays this sensor")
    revoke = sub.add_parser("revoke-device", help="withdraw a device's credentials")
    revoke.add_argument("device_id")
    revoke.add_argument("--reason", default="")
    sub.add_parser("sync-broker", help="rewrite the broker's password file and ACL now")
    sub.add_parser(
        "rotate-keysafe-key",
        help="re-encrypt key-safe codes and carephone keys with [hub] keysafe_key "
        "(the old key in keysafe_previous_keys)",
    )
    backup = sub.add_parser(
        "backup", help="write the database, telemetry, files and settings into a new folder"
    )
    backup.add_argument("folder", help="a new (or empty) folder; it will hold secrets")
    restore = sub.add_parser(
        "restore", help="load a backup folder into a fresh database and data folder"
    )
    restore.add_argument("folder")
    weekly = sub.add_parser(
        "weekly-signals",
        help="compute the weekly risk signals for the social record now (idempotent)",
    )
    weekly.add_argument(
        "--week",
        type=_day,
        help="any day of the week to run (default: the last closed week)",
    )
    roles = sub.add_parser(
        "roles-table", help="rewrite the endpoint permission table in docs/roles.md"
    )
    roles.add_argument("markdown", type=Path, help="the Markdown file (docs/roles.md)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _settings(args: argparse.Namespace, config: Config) -> HubSettings:
    settings = load_hub_settings(config)
    overrides = {
        "http_host": args.host,
        "http_port": args.port,
        "data_dir": args.data_dir,
        "database_url": args.database_url,
    }
    return msgspec.structs.replace(
        settings, **{k: v for k, v in overrides.items() if v is not None}
    )


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the chosen action; a database schema this hub does not know stops it (exit 2)."""
    from hub.db import SchemaMismatch

    try:
        return _run(args, config)
    except SchemaMismatch as err:
        print(f"teleassist hub: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, config: Config) -> int:
    settings = _settings(args, config)
    action = args.hub_command or "serve"
    if action == "roles-table":
        return _roles_table(args.markdown)
    if action == "migrate":
        from hub.db import upgrade_to_head

        asyncio.run(upgrade_to_head(settings.resolved_database_url()))
        print("database schema is up to date")
        return 0
    if action == "create-user":
        return _create_user(args, settings)
    if action == "weekly-signals":
        from hub.clock import utc_now
        from hub.signals.cli import run_from_cli

        return asyncio.run(run_from_cli(settings, args.week, utc_now()))
    if action == "rotate-keysafe-key":
        return asyncio.run(_rotate_keysafe_key(settings))
    if action in ("backup", "restore"):
        return _backup_or_restore(action, args, config, settings)
    if action in ("create-home", "add-device", "revoke-device", "sync-broker"):
        from hub.registry.cli import run_registry_action

        return asyncio.run(run_registry_action(action, args, settings, config.mqtt))
    _refuse_unsafe_production(args, config, settings)
    return asyncio.run(serve(settings, mqtt=None if args.no_ingest else config.mqtt, config=config))


def routes_app() -> web.Application:
    """The full hub app (not started, no configuration), to read its router."""
    from hub.app import create_app

    data_dir = tempfile.mkdtemp(prefix="ta-roles-")
    return create_app(HubSettings(data_dir=data_dir, migrate_on_start=False))


def _roles_table(path: Path) -> int:
    from hub.console.roles import write_table

    missing = write_table(path, routes_app())
    if missing:
        sys.stderr.write("routes without a declared access:\n  " + "\n  ".join(missing) + "\n")
        return 1
    return 0


def _refuse_unsafe_production(
    args: argparse.Namespace, config: Config, settings: HubSettings
) -> None:
    """In production mode, stop before listening when a setting is unsafe (ConfigError)."""
    from hub.family.settings import SECTION as FAMILY_SECTION
    from hub.family.settings import FamilySettings
    from hub.prodcheck import check_production

    check_production(
        settings,
        config.section(FAMILY_SECTION, FamilySettings),
        config.mqtt,
        environ=os.environ,
        debug_logging=getattr(args, "log_level", "INFO") == "DEBUG",
    )


def _backup_or_restore(
    action: str, args: argparse.Namespace, config: Config, settings: HubSettings
) -> int:
    """``backup FOLDER`` or ``restore FOLDER`` (hub/backup.py); 1 with the reason on failure."""
    from pathlib import Path

    from hub.backup import BackupError, backup, restore
    from hub.clock import utc_now
    from hub.family.settings import SECTION as FAMILY_SECTION
    from hub.family.settings import FamilySettings

    media = config.section(FAMILY_SECTION, FamilySettings).media_path(settings.data_path)
    folder = Path(args.folder)
    try:
        if action == "backup":
            manifest = asyncio.run(backup(settings, folder, os.environ, utc_now(), media))
            print(f"backup written to {folder}: {json.dumps(manifest['counts'])}")
        else:
            counts = asyncio.run(restore(settings, folder, os.environ, media))
            print(f"restored from {folder}: {json.dumps(counts.as_dict())}")
    except BackupError as err:
        print(f"teleassist hub {action}: {err}", file=sys.stderr)
        return 1
    return 0


def _create_user(args: argparse.Namespace, settings: HubSettings) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    from hub.auth.service import UserExistsError

    try:
        user_id = asyncio.run(
            add_user(
                settings,
                args.username,
                password,
                Role(args.role),
                display_name=args.display_name,
                language=args.language,
            )
        )
    except (WeakPasswordError, UserExistsError, ValueError) as err:
        print(f"teleassist hub create-user: {err}", file=sys.stderr)
        return 1
    print(f"user {args.username} ({args.role}) created with id {user_id}")
    return 0


async def add_user(
    settings: HubSettings,
    username: str,
    password: str,
    role: Role,
    *,
    display_name: str = "",
    language: str = "ca",
) -> int:
    """Create a user in the hub's database (migrating it first); return the user id."""
    from hub.auth.service import create_user
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head

    url = settings.resolved_database_url()
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            user = await create_user(
                session, username, password, role, display_name=display_name, language=language
            )
            await session.commit()
            return user.id
    finally:
        await engine.dispose()


async def serve(
    settings: HubSettings, mqtt: MqttSettings | None = None, config: Config | None = None
) -> int:
    """Run the hub until SIGINT/SIGTERM, then stop gracefully (cleanup contexts flush).

    ``config`` is the parsed configuration the hub's contexts read their sections from.
    """
    from aiohttp import web

    from hub import gcpolicy, latencyprobe
    from hub.app import create_app
    from hub.tasks import stop_within

    probe = latencyprobe.from_environment()
    app = create_app(settings, config=config, mqtt=mqtt)
    # Open websockets (consoles, family apps) must not hold a restart up for a minute:
    # after this long their handlers are cancelled and the cleanup contexts run.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    _LOGGER.info(
        "hub listening on http://%s:%d (process CPU %.2f s since it started)",
        settings.http_host,
        settings.http_port,
        time.process_time(),
    )
    # Started: what exists now lives on; later collections skip it (docs/adr/0115).
    gcpolicy.settle()
    freezer = asyncio.create_task(gcpolicy.keep_frozen(), name="gc-freeze")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        _LOGGER.info("hub stopping")
        freezer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await freezer
        stopped = await stop_within(runner.cleanup(), STOP_LIMIT_S)
        if probe is not None:
            probe.stop()
    if not stopped:
        # Not through asyncio.run's own clean-up: it waits for every task with no limit.
        logging.shutdown()
        os._exit(1)
    _LOGGER.info("hub stopped")
    return 0


async def _rotate_keysafe_key(settings: HubSettings) -> int:
    """Re-encrypt what is held at rest with the current key; exit 1 if something is left."""
    from hub.db import make_engine, make_sessionmaker
    from hub.db.crypto import KeySafeCipher
    from hub.keyrotation import rotate_encrypted
    from hub.settings import with_secrets

    settings = with_secrets(settings)
    cipher = KeySafeCipher(settings.keysafe_key, settings.keysafe_previous_keys)
    engine = make_engine(settings.resolved_database_url())
    try:
        async with make_sessionmaker(engine)() as session:
            result = await rotate_encrypted(session, cipher)
            await session.commit()
    finally:
        await engine.dispose()
    print(f"{result.rotated} values re-encrypted with the current key")
    if result.unreadable:
        print(
            "not readable with any configured key (left as they are): "
            + ", ".join(result.unreadable),
            file=sys.stderr,
        )
        return 1
    return 0
