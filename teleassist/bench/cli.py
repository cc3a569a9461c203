"""``teleassist bench NAME``: discovers the benchmark modules of this package."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from types import ModuleType

import teleassist.bench as package
from teleassist.config import Config

_NOT_BENCHMARKS = {"cli"}


def discover() -> dict[str, ModuleType]:
    """Benchmark modules by their ``NAME``."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_BENCHMARKS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found[str(module.NAME)] = module
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-parser per benchmark."""
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, module in sorted(discover().items()):
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the chosen benchmark."""
    return int(discover()[args.benchmark].run(args, config) or 0)
