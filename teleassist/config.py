"""The shell's name for the configuration core, which lives in :mod:`config`.

Kept so ``teleassist.config`` stays importable for the CLI and existing scripts; parts below
the shell import :mod:`config` directly.
"""

from __future__ import annotations

from config import (
    CONFIG_ENV,
    ENV_PREFIX,
    Config,
    ConfigError,
    MqttSettings,
    load_config,
)

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "Config",
    "ConfigError",
    "MqttSettings",
    "load_config",
]
