"""Production refuses unsafe settings (hub/prodcheck.py); the demo keeps its defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.fernet import Fernet

from hub.family.settings import FamilySettings
from hub.prodcheck import check_production, coturn_problems, production_problems, secret_problem
from hub.settings import HubSettings
from teleassist import cli
from teleassist.config import ConfigError, MqttSettings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_COTURN = ROOT / "deploy/coturn/turnserver.conf"


def _token() -> str:
    return secrets.token_urlsafe(32)


def _clean() -> tuple[HubSettings, FamilySettings, MqttSettings]:
    hub = HubSettings(
        mode="production",
        jwt_secret=_token(),
        keysafe_key=Fernet.generate_key().decode("ascii"),
        metrics_token=_token(),
        public_url="https://hub.example.org",
        mosquitto_passwd_file="/mosquitto-dynamic/passwd",
        mosquitto_hub_passwd_file="/mosquitto-dynamic/passwd-hub",
    )
    family = FamilySettings(
        turn_urls=["turn:turn.example.org:3478"],
        turn_secret=_token(),
        turn_server_config=str(SHIPPED_COTURN),
    )
    return hub, family, MqttSettings(username="hub", password=_token())


def _problems(
    hub: dict[str, Any] | None = None,
    family: dict[str, Any] | None = None,
    mqtt: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    debug_logging: bool = False,
) -> list[str]:
    h, f, m = _clean()
    return production_problems(
        msgspec.structs.replace(h, **(hub or {})),
        msgspec.structs.replace(f, **(family or {})),
        msgspec.structs.replace(m, **(mqtt or {})),
        environ=environ or {},
        debug_logging=debug_logging,
    )


def test_a_clean_production_config_passes() -> None:
    hub, family, mqtt = _clean()
    assert production_problems(hub, family, mqtt, environ={}) == []
    check_production(hub, family, mqtt, environ={})  # does not raise
    # Behind a TLS proxy without a public https URL, secure_cookies is enough.
    assert _problems(hub={"public_url": "", "secure_cookies": True}) == []
    # No TURN relay configured: nothing to check about it.
    assert _problems(family={"turn_urls": [], "turn_secret": "", "turn_server_config": ""}) == []
    # No metrics token: /metrics is for signed-in staff only, which is safe.
    assert _problems(hub={"metrics_token": ""}) == []


def test_the_demo_runs_with_every_embedded_default() -> None:
    assert HubSettings().mode == "demo"
    check_production(HubSettings(), FamilySettings(), MqttSettings(), environ={})
    # The same defaults in production mode are refused.
    with pytest.raises(ConfigError, match="refusing to start in production mode"):
        check_production(
            HubSettings(mode="production"), FamilySettings(), MqttSettings(), environ={}
        )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("jwt_secret", "", "jwt_secret is not set"),
        ("jwt_secret", "change-me-in-production-0123456789abcdef", "placeholder"),
        ("jwt_secret", "Secret", "placeholder"),
        ("jwt_secret", "a1b2c3d4e5f6g7h8i9", "too short"),
        ("jwt_secret", "ab" * 32, "not random"),
        ("keysafe_key", "", "keysafe_key is not set"),
        ("keysafe_key", "A" * 43 + "=", "not random"),
        # A fixed id: a random one differs between pytest-xdist workers' collections.
        pytest.param(
            "keysafe_key", _token() + "#!", "not a Fernet key", id="keysafe_key-random#!-not-fernet"
        ),
        ("metrics_token", "example-token-for-prometheus-0123456789", "placeholder"),
        ("metrics_token", "k3Y9-short", "metrics_token is too short"),
    ],
)
def test_hub_secrets(field: str, value: str, reason: str) -> None:
    problems = _problems(hub={field: value})
    assert len(problems) == 1, problems
    assert field in problems[0]
    assert reason in problems[0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [("", "not set"), ("change-me", "placeholder"), ("r4nd0m-but-short", "too short")],
)
def test_turn_secret(value: str, reason: str) -> None:
    problems = _problems(family={"turn_secret": value})
    assert len(problems) == 1, problems
    assert "[family] turn_secret" in problems[0]
    assert reason in problems[0]


def test_insecure_cookies() -> None:
    for public_url in ("", "http://hub.example.org"):
        problems = _problems(hub={"public_url": public_url, "secure_cookies": False})
        assert len(problems) == 1, problems
        assert "cookies are not Secure" in problems[0]


def test_debug_flags() -> None:
    problems = _problems(environ={"PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1"})
    assert problems == [
        "debug flag PYTHONASYNCIODEBUG is set in the environment",
        "debug flag PYTHONDEVMODE is set in the environment",
    ]
    assert _problems(environ={"PYTHONASYNCIODEBUG": ""}) == []
    assert len(_problems(debug_logging=True)) == 1


def test_broker_without_the_hub_only_listener_or_account() -> None:
    problems = _problems(hub={"mosquitto_hub_passwd_file": ""})
    assert len(problems) == 1
    assert "mosquitto_hub_passwd_file" in problems[0]
    assert "0013" in problems[0]
    problems = _problems(mqtt={"password": None})
    assert len(problems) == 1
    assert "[mqtt] password" in problems[0]
    assert "placeholder" in _problems(mqtt={"password": "changeme-changeme"})[0]


def test_a_turn_relay_open_to_private_addresses(tmp_path: Path) -> None:
    problems = _problems(family={"turn_server_config": ""})
    assert len(problems) == 1
    assert "turn_server_config is not set" in problems[0]
    missing = _problems(family={"turn_server_config": str(tmp_path / "nope.conf")})
    assert "No such file" in missing[0]
    # The config shipped before issue 19: a placeholder secret, every private range open.
    old = tmp_path / "old.conf"
    old.write_text(
        "listening-port=3478\nuse-auth-secret\nstatic-auth-secret=change-me-in-production\n",
        encoding="utf-8",
    )
    problems = _problems(family={"turn_server_config": str(old)})
    assert any("static-auth-secret is a placeholder" in p for p in problems)
    for cidr in ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128"):
        assert f"coturn: the relay may reach {cidr} (add denied-peer-ip)" in problems


def test_coturn_ranges_must_be_wholly_denied() -> None:
    shipped = SHIPPED_COTURN.read_text(encoding="utf-8")
    assert coturn_problems(shipped) == []
    # Half of 10/8 left open is still open; a CIDR form counts like a range.
    partial = shipped.replace(
        "denied-peer-ip=10.0.0.0-10.255.255.255", "denied-peer-ip=10.0.0.0-10.127.255.255"
    )
    assert coturn_problems(partial) == [
        "coturn: the relay may reach 10.0.0.0/8 (add denied-peer-ip)"
    ]
    cidr = shipped.replace("denied-peer-ip=10.0.0.0-10.255.255.255", "denied-peer-ip=10.0.0.0/8")
    assert coturn_problems(cidr) == []
    reopened = shipped + "allowed-peer-ip=10.0.0.5\nallow-loopback-peers\nno-auth\n"
    assert len(coturn_problems(reopened)) == 3
    assert coturn_problems(shipped.replace("use-auth-secret", "")) == [
        "coturn: use-auth-secret is not set (the hub mints TURN REST credentials)"
    ]
    garbage = shipped.replace("denied-peer-ip=::1", "denied-peer-ip=not-an-address")
    assert coturn_problems(garbage) == ["coturn: the relay may reach ::1/128 (add denied-peer-ip)"]


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        check_production(
            HubSettings(mode="production", metrics_token="changeme"),
            FamilySettings(turn_urls=["turn:x"]),
            MqttSettings(),
            environ={"PYTHONDEVMODE": "1"},
        )
    message = str(err.value)
    for part in (
        "jwt_secret",
        "keysafe_key",
        "metrics_token",
        "turn_secret",
        "turn_server_config",
        "cookies",
        "PYTHONDEVMODE",
        "[mqtt] password",
    ):
        assert part in message
    assert message.count("\n  - ") == 8


def test_secret_problem_accepts_random_tokens() -> None:
    for _ in range(200):
        assert secret_problem("x", secrets.token_urlsafe(32), 32) is None


def test_the_hub_command_refuses_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("TELEASSIST_"):
            monkeypatch.delenv(name)
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\nmode = "production"\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8"
    )
    assert cli.main(["--config", str(config), "hub", "--no-ingest", "serve"]) == 2
    err = capsys.readouterr().err
    assert "refusing to start in production mode with unsafe settings" in err
    assert "jwt_secret is not set" in err
    assert not (tmp_path / "data").exists()  # stopped before making anything
