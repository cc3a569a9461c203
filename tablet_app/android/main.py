"""Entry point for python-for-android: run ``teleassist tablet`` full screen."""

from __future__ import annotations

import os
import sys

from teleassist.cli import main

if __name__ == "__main__":
    config = os.environ.get("TELEASSIST_TABLET_CONFIG", "tablet.toml")
    args = ["tablet", "--fullscreen"] + (["--config", config] if os.path.exists(config) else [])
    sys.exit(main(args))
