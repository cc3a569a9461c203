"""``teleassist tablet --config tablet.toml``: run the resident's app."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from config import Config, load_config
from tablet_app.settings import TabletSettings

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``teleassist tablet``."""
    parser.add_argument(
        "--config", dest="tablet_config", help="TOML file with [tablet] and [mqtt] sections"
    )
    parser.add_argument("--demo", action="store_true", help="show a demo family and agenda")
    parser.add_argument("--fullscreen", action="store_true", help="kiosk: fill the screen")
    parser.add_argument("--size", help="window size, e.g. 1920x1200 (default from config)")
    parser.add_argument("--state-dir", type=Path, help="where credentials and the queue live")


def run(args: argparse.Namespace, config: Config) -> int:
    """Start the app and return when its window closes."""
    if args.tablet_config:
        config = load_config(args.tablet_config)
    settings = config.section("tablet", TabletSettings)
    overrides: dict[str, object] = {}
    if args.demo:
        overrides["demo"] = True
    if args.fullscreen:
        overrides["fullscreen"] = True
    if args.state_dir:
        overrides["state_dir"] = str(args.state_dir)
    if args.size:
        try:
            width, height = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise SystemExit(f"--size must look like 1280x800, not {args.size!r}") from None
        overrides.update(width=width, height=height)
    if overrides:
        settings = config.with_overrides("tablet", **overrides).section("tablet", TabletSettings)
    return asyncio.run(_main(settings, config))


async def _main(settings: TabletSettings, config: Config) -> int:
    from tablet_app.kivyenv import prepare_kivy

    prepare_kivy(
        settings.width, settings.height, fullscreen=settings.fullscreen, python_logging=True
    )
    from tablet_app.app import KivyRinger, TabletApp
    from tablet_app.controller import SilentRinger
    from tablet_app.demo import demo_model
    from tablet_app.link import Broker, utc_now
    from tablet_app.model import TabletModel
    from tablet_app.runtime import TabletRuntime
    from tablet_app.speech import EspeakSpeaker

    state_dir = settings.state_path()
    state_dir.mkdir(parents=True, exist_ok=True)
    mqtt = config.mqtt
    broker = Broker(
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=mqtt.password,
        tls=mqtt.tls,
        ca_file=mqtt.ca_file,
        keepalive_s=mqtt.keepalive_s,
    )
    if settings.demo:
        model = demo_model(settings.language, utc_now(), state_dir)
        model.online = False
    else:
        model = TabletModel(language=settings.language)
    model.font_scale = settings.font_scale
    model.high_contrast = settings.high_contrast
    speaker = EspeakSpeaker(enabled=settings.speech)
    try:
        ringer: KivyRinger | SilentRinger = KivyRinger(state_dir)
    except OSError:
        ringer = SilentRinger()
    runtime = TabletRuntime(model, settings, broker, speaker=speaker, ringer=ringer)
    app = TabletApp(model, runtime, utc_now)
    await runtime.start()
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        await runtime.stop()
    return 0
