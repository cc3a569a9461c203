"""Hub settings: defaults, generated secrets, refused weak secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.settings import HubSettings, load_hub_settings, with_secrets
from teleassist.config import ConfigError, load_config


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=str(tmp_path))
    first = with_secrets(settings)
    second = with_secrets(settings)
    assert first.jwt_secret == second.jwt_secret
    assert len(first.jwt_secret) >= 32
    assert first.keysafe_key == second.keysafe_key
    mode = stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode)
    assert mode == 0o600


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    url = HubSettings(data_dir=str(tmp_path)).resolved_database_url()
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("jwt_secret", "short", "at least 32 bytes"), ("keysafe_key", "nope", "Fernet key")],
)
def test_weak_secrets_are_refused(tmp_path: Path, field: str, value: str, match: str) -> None:
    settings = HubSettings(data_dir=str(tmp_path), **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=match):
        with_secrets(settings)


def test_environment_overrides() -> None:
    config = load_config(environ={"TELEASSIST_HUB__HTTP_PORT": "9999"})
    assert load_hub_settings(config).http_port == 9999


def test_list_settings_from_the_environment_are_json() -> None:
    config = load_config(
        environ={
            "TELEASSIST_HUB__TRUSTED_PROXIES": '["172.30.0.10", "10.0.0.2"]',
            "TELEASSIST_HUB__JWT_SECRET": "[not a list: a secret stays text]",
        }
    )
    settings = load_hub_settings(config)
    assert settings.trusted_proxies == ["172.30.0.10", "10.0.0.2"]
    assert settings.jwt_secret == "[not a list: a secret stays text]"


@pytest.mark.parametrize("value", ["172.30.0.10", "[172.30.0.10", '{"a": 1}'])
def test_a_list_setting_that_is_not_a_json_list_is_refused(value: str) -> None:
    config = load_config(environ={"TELEASSIST_HUB__TRUSTED_PROXIES": value})
    with pytest.raises(ConfigError, match=r"\[hub\]"):
        load_hub_settings(config)
