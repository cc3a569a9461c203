"""The Android build spec packages everything the tablet imports when it starts.

The app is started as python-for-android starts it (``tablet_app/android/main.py``: full
screen, its config from ``TELEASSIST_TABLET_CONFIG``) under Xvfb with ``-X importtime``, until
it reports itself online to the broker; then every module it imported is checked against
``tablet_app/android/buildozer.spec``: the project's own modules against
``source.include_patterns``/``source.exclude_dirs``, the others against ``requirements`` (a
listed distribution, or one that pip installs with a listed one).
"""

from __future__ import annotations

import asyncio
import configparser
import fnmatch
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from functools import cache
from importlib import metadata
from pathlib import Path

import aiomqtt
import pytest
from packaging.requirements import Requirement

from protocol import decode_status, device_topic
from tablet_app.xserver import virtual_display
from teleassist.localbroker import MosquittoBroker

pytestmark = [pytest.mark.tablet, pytest.mark.broker]

ROOT = Path(__file__).resolve().parents[2]
ANDROID = ROOT / "tablet_app" / "android"
PROJECT = {"tablet_app", "protocol", "config", "teleassist"}
# Imported by this machine's interpreter as it starts (site, .pth files), not by the app.
INTERPRETER = {"sitecustomize", "usercustomize", "_distutils_hack"}
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def spec() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ANDROID / "buildozer.spec", encoding="utf-8")
    return parser["app"]


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def listed_requirements() -> set[str]:
    """``requirements`` as distribution names (p4a's ``python3`` is the interpreter)."""
    names = {_name(Requirement(r.strip()).name) for r in spec()["requirements"].split(",")}
    return names - {"python3"}


@cache
def _requires(distribution: str) -> frozenset[str]:
    """What pip installs with ``distribution`` (this machine's metadata, no extras)."""
    try:
        declared = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return frozenset()
    found = set()
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found.add(_name(requirement.name))
    return frozenset(found)


def installed_with(listed: set[str]) -> set[str]:
    """``listed`` and everything pip installs with them."""
    seen: set[str] = set()
    todo = list(listed)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_requires(name))
    return seen


def imported_at_start(stderr: str) -> set[str]:
    """Module names from ``python -X importtime``'s report."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name)
    return names


def problems(modules: set[str]) -> list[str]:
    """Each imported module the spec would leave out of the APK."""
    app = spec()
    patterns = [p.strip() for p in app["source.include_patterns"].split(",")]
    excluded = [d.strip() for d in app["source.exclude_dirs"].split(",")]
    packaged = installed_with(listed_requirements())
    distributions = metadata.packages_distributions()
    found = []
    for name in sorted(modules):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names or top in INTERPRETER:
            continue
        found_spec = importlib.util.find_spec(top)
        if found_spec is None:
            continue  # an optional import that failed here too: the app runs without it
        origin = found_spec.origin or ""
        if Path(origin).is_relative_to(STDLIB) and "site-packages" not in origin:
            continue  # the interpreter's own (e.g. _sysconfigdata_*)
        if top in PROJECT:
            spec_ = importlib.util.find_spec(name)
            if spec_ is None or spec_.origin is None or not spec_.has_location:
                continue  # a namespace package: nothing of its own to package
            path = Path(spec_.origin).relative_to(ROOT).as_posix()
            if not any(fnmatch.fnmatch(path, p) for p in patterns) or any(
                path.startswith(f"{d}/") for d in excluded
            ):
                found.append(f"{name}: {path} is not in source.include_patterns")
            continue
        owners = {_name(d) for d in distributions.get(top, [])}
        if not owners:
            found.append(f"{name}: no installed distribution provides it")
        elif not owners & packaged:
            found.append(f"{name}: distribution {sorted(owners)} is not in requirements")
    return found


def test_the_parsing_finds_what_is_missing() -> None:
    """The check itself: a module of a distribution outside the spec, and a project module
    outside its patterns, are reported; the standard library is not."""
    found = problems({"json", "kivy.app", "sqlalchemy.orm", "hub.settings"})
    assert any(p.startswith("sqlalchemy.orm:") for p in found)
    assert any(p.startswith("hub.settings:") for p in found)
    assert not any(p.startswith(("json", "kivy")) for p in found)


async def test_every_module_the_tablet_imports_at_start_is_in_the_spec(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = tmp_path / "tablet.toml"
    config.write_text(
        f'[tablet]\nstate_dir = "{tmp_path / "state"}"\ndevice_id = "tablet-apk"\n'
        f"speech = false\n[mqtt]\nport = {mosquitto.port}\n"
    )
    with virtual_display(1280, 800) as display:
        env = dict(
            os.environ,
            DISPLAY=display,
            KIVY_NO_CONSOLELOG="1",
            PYTHONPATH=str(ROOT),  # p4a puts source.dir on the path
            TELEASSIST_TABLET_CONFIG=str(config),
        )
        process = subprocess.Popen(
            [sys.executable, "-X", "importtime", str(ANDROID / "main.py")],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as hub:
                await hub.subscribe(device_topic("tablet-apk", "status"), qos=1)
                async with asyncio.timeout(90):
                    async for message in hub.messages:
                        status = decode_status(bytes(message.payload))  # type: ignore[arg-type]
                        if status.body.state == "online":
                            break
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
    stderr = err.decode(errors="replace")
    assert "Traceback" not in stderr, stderr[-2000:]
    modules = imported_at_start(stderr)
    assert {"tablet_app.app", "aiortc", "av", "kivy"} <= modules
    assert problems(modules) == []
