"""Production refuses unsafe settings: what ``[hub] mode = "production"`` checks at start.

The embedded defaults run the demo (secrets generated into the data folder, plain-HTTP
cookies, no broker accounts). A production hub must not start like that by accident, so
before it listens it gathers every problem with its settings and stops with all of them at
once (an operator fixes them in one go, not one per restart). Pure functions over the
settings and the files they name; :func:`check_production` is called by ``teleassist hub``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from config import ConfigError, MqttSettings
from hub.family.settings import FamilySettings
from hub.settings import MIN_JWT_SECRET_BYTES, HubSettings

# Shared secrets a TURN server, a metrics scraper or the broker compares: long enough that
# guessing is hopeless (32 characters of a random token are ~190 bits).
MIN_SHARED_SECRET_CHARS = 32
MIN_BROKER_PASSWORD_CHARS = 16
# Fewer distinct characters than this is a pattern someone typed, not a random secret.
MIN_DISTINCT_CHARS = 8
# Words of the examples and defaults people paste unchanged (compared without case and
# punctuation); long enough that a random token cannot contain one by chance.
_PLACEHOLDER_PARTS = ("changeme", "placeholder", "example", "replaceme", "yoursecret")
_PLACEHOLDER_WORDS = frozenset(
    {"secret", "password", "passw0rd", "demo", "test", "default", "admin", "teleassist", "hub"}
)
# Debug switches that make the process slower and its logs or errors tell more than they
# should (environment variables of CPython and asyncio).
DEBUG_ENVIRONMENT = ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE")

# Peers a TURN relay must never reach: the host itself, the site's private networks and the
# cloud metadata service (RFC 6890 special-purpose ranges). Each must be covered by a
# ``denied-peer-ip`` line of the coturn configuration.
TURN_DENIED_RANGES: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "fc00::/7",
    "fe80::/10",
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def secret_problem(name: str, value: str, min_chars: int) -> str | None:
    """Why ``value`` is not a usable production secret called ``name`` (None: it is)."""
    if not value:
        return f"{name} is not set"
    folded = "".join(ch for ch in value.lower() if ch.isalnum())
    if folded in _PLACEHOLDER_WORDS or any(part in folded for part in _PLACEHOLDER_PARTS):
        return f"{name} is a placeholder ({value[:4]}…): generate a random one"
    if len(value) < min_chars:
        return f"{name} is too short ({len(value)} characters, at least {min_chars})"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return f"{name} is not random (only {len(set(value))} distinct characters)"
    return None


def _denied_networks(lines: Iterable[str]) -> list[Network]:
    """The networks of ``denied-peer-ip=A-B`` / ``=CIDR`` / ``=IP`` lines."""
    networks: list[Network] = []
    for line in lines:
        value = line.partition("=")[2].strip()
        try:
            if "-" in value:
                first, _, last = value.partition("-")
                networks.extend(
                    ipaddress.summarize_address_range(
                        ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
                    )
                )
            else:
                networks.append(ipaddress.ip_network(value, strict=False))
        except (ValueError, TypeError):
            continue  # coturn refuses the line too; the range stays uncovered
    return networks


def _covered(needed: Network, denied: list[Network]) -> bool:
    remaining = [needed]
    for net in denied:
        if net.version != needed.version:
            continue
        nxt: list[Network] = []
        for part in remaining:
            if part.subnet_of(net):  # type: ignore[arg-type]
                continue
            if net.subnet_of(part):  # type: ignore[arg-type]
                nxt.extend(part.address_exclude(net))  # type: ignore[arg-type]
            else:
                nxt.append(part)
        remaining = nxt
    return not remaining


def coturn_problems(text: str) -> list[str]:
    """What makes a coturn configuration unsafe for a production TURN relay."""
    options: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name = line.partition("=")[0].strip().lstrip("-")
        options.setdefault(name, []).append(line)
    problems: list[str] = []
    for flag in ("no-auth", "allow-loopback-peers"):
        if flag in options:
            problems.append(f"coturn: {flag} must not be set")
    if "use-auth-secret" not in options:
        problems.append("coturn: use-auth-secret is not set (the hub mints TURN REST credentials)")
    for line in options.get("static-auth-secret", []):
        problem = secret_problem(
            "coturn static-auth-secret", line.partition("=")[2].strip(), MIN_SHARED_SECRET_CHARS
        )
        if problem:
            problems.append(problem)
    if "allowed-peer-ip" in options:
        problems.append("coturn: allowed-peer-ip re-opens denied ranges; remove it")
    denied = _denied_networks(options.get("denied-peer-ip", []))
    for cidr in TURN_DENIED_RANGES:
        if not _covered(ipaddress.ip_network(cidr), denied):
            problems.append(f"coturn: the relay may reach {cidr} (add denied-peer-ip)")
    return problems


def production_problems(
    hub: HubSettings,
    family: FamilySettings,
    mqtt: MqttSettings,
    *,
    environ: Mapping[str, str],
    debug_logging: bool = False,
) -> list[str]:
    """Every reason why these settings must not run a production hub (empty: they may)."""
    problems: list[str] = []

    def secret(name: str, value: str, min_chars: int) -> None:
        problem = secret_problem(name, value, min_chars)
        if problem:
            problems.append(problem)

    # Production secrets come from the secret store, not from files the hub makes up: a
    # second worker or a rebuilt container would otherwise sign with another key.
    secret("[hub] jwt_secret", hub.jwt_secret, MIN_JWT_SECRET_BYTES)
    keysafe = secret_problem("[hub] keysafe_key", hub.keysafe_key, 44)
    if keysafe is None:
        try:
            Fernet(hub.keysafe_key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            keysafe = "[hub] keysafe_key is not a Fernet key (urlsafe base64 of 32 bytes)"
    if keysafe:
        problems.append(keysafe)
    for key in hub.keysafe_previous_keys:
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            problems.append("[hub] keysafe_previous_keys holds a value that is not a Fernet key")
    if hub.metrics_token:
        secret("[hub] metrics_token", hub.metrics_token, MIN_SHARED_SECRET_CHARS)
    if family.turn_urls or family.turn_secret:
        secret("[family] turn_secret", family.turn_secret, MIN_SHARED_SECRET_CHARS)
    if family.turn_urls:
        problems.extend(_turn_server_problems(family.turn_server_config))
    if not hub.secure_cookies and not hub.public_url.startswith("https://"):
        problems.append(
            "sign-in cookies are not Secure: serve the hub over HTTPS and set [hub] public_url "
            "to its https:// address (or [hub] secure_cookies = true behind a TLS proxy)"
        )
    for name in DEBUG_ENVIRONMENT:
        if environ.get(name):
            problems.append(f"debug flag {name} is set in the environment")
    if debug_logging:
        problems.append("--log-level DEBUG logs message contents: use INFO in production")
    secret("[mqtt] password (the hub's broker account)", mqtt.password or "", 16)
    if hub.mosquitto_passwd_file and not hub.mosquitto_hub_passwd_file:
        problems.append(
            "[hub] mosquitto_hub_passwd_file is not set: the hub's account would share the "
            "devices' listener (docs/adr/0013: the hub gets a listener of its own)"
        )
    return problems


def _turn_server_problems(config_file: str) -> list[str]:
    if not config_file:
        return [
            "[family] turn_server_config is not set: the hub checks the TURN server's "
            "configuration (denied private peers) before handing its address to callers"
        ]
    try:
        text = Path(config_file).read_text(encoding="utf-8")
    except OSError as err:
        return [f"[family] turn_server_config {config_file}: {err.strerror}"]
    return coturn_problems(text)


def check_production(
    hub: HubSettings,
    family: FamilySettings,
    mqtt: MqttSettings,
    *,
    environ: Mapping[str, str],
    debug_logging: bool = False,
) -> None:
    """Raise :class:`ConfigError` listing every problem when ``hub.mode`` is production."""
    if hub.mode != "production":
        return
    problems = production_problems(hub, family, mqtt, environ=environ, debug_logging=debug_logging)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise ConfigError(
            f"refusing to start in production mode with unsafe settings:\n{listed}\n"
            '(docs/deployment.md; [hub] mode = "demo" runs the demo defaults)'
        )
