"""``teleassist screenshots DIR``: every area's screens, in every language asked for."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import teleassist.screenshots as package
from teleassist.config import Config

_NOT_AREAS = {"cli"}
# Every language the screens are written in: Spanish was once left out by default, and its
# screenshots went missing while the Catalan and English ones were kept up to date.
DEFAULT_LANGUAGES = ("ca", "es", "en")


def discover() -> dict[str, ModuleType]:
    """Area modules by their ``AREA``."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_AREAS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found[str(module.AREA)] = module
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``DIR`` plus filters by area and language."""
    parser.add_argument("out_dir", type=Path, help="where to write the PNG files")
    parser.add_argument("--area", action="append", help="only these areas (repeatable)")
    parser.add_argument(
        "--lang", action="append", choices=["ca", "es", "en"], help="languages (default ca, es, en)"
    )


def run(args: argparse.Namespace, config: Config) -> int:
    """Capture the chosen areas and list the files written."""
    args.out_dir.mkdir(parents=True, exist_ok=True)
    languages = args.lang or list(DEFAULT_LANGUAGES)
    areas = discover()
    chosen = args.area or sorted(areas)
    unknown = set(chosen) - set(areas)
    if unknown:
        raise SystemExit(
            f"unknown area(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(areas))}"
        )
    written: list[Path] = []
    for name in chosen:
        capture = areas[name].capture
        if inspect.iscoroutinefunction(capture):
            written.extend(asyncio.run(capture(args.out_dir, languages)))
        else:
            written.extend(capture(args.out_dir, languages))
    for path in written:
        print(path)
    return 0
