"""Configuration: one TOML file plus environment variables, with demo defaults.

The ground floor beside ``protocol``: every part (hub, device agent, simulator, tablet,
integrations) reads its settings through it, and it imports nothing of theirs. Only the
``teleassist`` shell loads the file (``load_config``) and hands the result down.

Each part of the system declares its own settings as a msgspec Struct and reads it
with :meth:`Config.section`; environment variables override the file as
``TELEASSIST_<SECTION>__<KEY>`` (for example ``TELEASSIST_MQTT__PORT=1884``).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_origin

import msgspec

ENV_PREFIX = "TELEASSIST_"
CONFIG_ENV = "TELEASSIST_CONFIG"

S = TypeVar("S", bound=msgspec.Struct)


class ConfigError(ValueError):
    """A configuration file or variable that cannot be used."""


class MqttSettings(msgspec.Struct, kw_only=True, frozen=True):
    """How to reach the MQTT broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30


@dataclass(frozen=True)
class Config:
    """Raw sections from file and environment; typed views via :meth:`section`."""

    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Path | None = None

    def section(self, name: str, schema: type[S]) -> S:
        """Return section ``name`` converted to ``schema``; raise :class:`ConfigError`."""
        raw = _decoded_containers(name, self.sections.get(name, {}), schema)
        try:
            return msgspec.convert(raw, schema, strict=False)
        except msgspec.ValidationError as err:
            where = f" in {self.source}" if self.source else ""
            raise ConfigError(f"[{name}]{where}: {err}") from None

    @property
    def mqtt(self) -> MqttSettings:
        """Broker settings shared by every part."""
        return self.section("mqtt", MqttSettings)

    def with_overrides(self, name: str, **values: Any) -> Config:
        """A copy with ``values`` set in section ``name`` (used by the CLI and tests)."""
        sections = {k: dict(v) for k, v in self.sections.items()}
        sections.setdefault(name, {}).update(values)
        return Config(sections=sections, source=self.source)


def _decoded_containers(
    section: str, raw: Mapping[str, Any], schema: type[msgspec.Struct]
) -> Mapping[str, Any]:
    """List and table settings given as text (an environment variable is always text) read
    as JSON: ``TELEASSIST_HUB__TRUSTED_PROXIES='["172.30.0.10"]'``. Only for those settings,
    so a password that happens to start with ``[`` stays a string."""
    out = dict(raw)
    for field_ in msgspec.structs.fields(schema):
        value = out.get(field_.encode_name)
        origin = get_origin(field_.type) or field_.type
        if not isinstance(value, str) or origin not in (list, dict):
            continue
        try:
            out[field_.encode_name] = json.loads(value)
        except ValueError:
            kind = "list" if origin is list else "table"
            raise ConfigError(
                f"[{section}] {field_.encode_name}: {value!r} is not a JSON {kind}"
            ) from None
    return out


def _env_sections(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX) :].partition("__")
        if section and name:
            out.setdefault(section.lower(), {})[name.lower()] = value
    return out


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load ``path`` (or ``$TELEASSIST_CONFIG``) and overlay the environment.

    A missing path means "embedded defaults"; a named file that does not exist is an error.
    """
    env = os.environ if environ is None else environ
    chosen = path or env.get(CONFIG_ENV)
    sections: dict[str, dict[str, Any]] = {}
    source: Path | None = None
    if chosen:
        source = Path(chosen)
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {source} does not exist") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{source} is not valid TOML: {err}") from None
        for name, value in data.items():
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: top-level key {name!r} must be a [section]")
            sections[name] = dict(value)
    for name, values in _env_sections(env).items():
        sections.setdefault(name, {}).update(values)
    return Config(sections=sections, source=source)
