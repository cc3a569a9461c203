"""``teleassist``: one command with a subcommand per part of the system.

Subcommand modules are imported only when used, so a gateway that installed the
``agent`` extra can run ``teleassist agent`` without Kivy or the hub's dependencies.
Each module exposes ``add_arguments(parser)`` and ``run(args, config) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from teleassist import __version__
from teleassist.config import ConfigError, load_config


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand lives and what it does, for ``--help``."""

    module: str
    help: str
    extra: str


SUBCOMMANDS: dict[str, Subcommand] = {
    "demo": Subcommand(
        "teleassist.demo", "run the embedded demo: broker, hub and simulated homes", "all"
    ),
    "hub": Subcommand(
        "hub.cli", "run the hub: ingestion, storage, alarms, API and web pages", "hub"
    ),
    "agent": Subcommand("device_agent.cli", "run a home gateway agent", "agent"),
    "sim": Subcommand("teleassist.sim", "simulated homes and the fleet load generator", "agent"),
    "tablet": Subcommand("tablet_app.cli", "run the resident's tablet app (Kivy)", "tablet"),
    "bench": Subcommand("teleassist.bench.cli", "run a benchmark and print its figures", "all"),
    "screenshots": Subcommand(
        "teleassist.screenshots.cli", "write screenshots of every screen", "all"
    ),
    "export": Subcommand("integrations.wsocial.cli", "export data sets (open data)", "hub"),
}


def _load(name: str) -> ModuleType:
    sub = SUBCOMMANDS[name]
    try:
        return importlib.import_module(sub.module)
    except ModuleNotFoundError as err:
        if err.name and (err.name == sub.module or sub.module.startswith(err.name + ".")):
            raise SystemExit(f"teleassist {name}: not available in this version") from None
        raise SystemExit(
            f"teleassist {name}: missing dependency {err.name!r};"
            f" install the extra: pip install 'teleassist[{sub.extra}]'"
        ) from None


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only ``selected``'s module is imported."""
    parser = argparse.ArgumentParser(
        prog="teleassist",
        description="Teleassist: open home teleassistance for older people.",
    )
    parser.add_argument("--version", action="version", version=f"teleassist {__version__}")
    parser.add_argument("--config", help="TOML configuration file (default: $TELEASSIST_CONFIG)")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument(
        "--log-json", action="store_true", help="one JSON object per log line (production)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, sub in SUBCOMMANDS.items():
        child = subparsers.add_parser(name, help=sub.help, description=sub.help)
        if name == selected:
            _load(name).add_arguments(child)
    return parser


def _selected(argv: Sequence[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--config", "--log-level"):
            skip = True
        elif arg in SUBCOMMANDS:
            return arg
        elif not arg.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``teleassist`` script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = _selected(args_list)
    args = build_parser(selected).parse_args(args_list)
    from teleassist.logs import configure_logging

    configure_logging(args.log_level, json_lines=args.log_json)
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"teleassist: {err}", file=sys.stderr)
        return 2
    module = _load(args.command)
    try:
        return int(module.run(args, config) or 0)
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("interrupted")
        return 130
    except ConfigError as err:
        print(f"teleassist {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
