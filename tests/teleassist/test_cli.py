from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from teleassist import cli
from teleassist.config import ConfigError, MqttSettings, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "hub", "agent", "sim", "tablet", "bench", "screenshots", "export"):
        assert name in out


@pytest.mark.parametrize("name", ["demo", "bench", "screenshots"])
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([name, "--help"])
    assert info.value.code == 0
    assert "usage: teleassist" in capsys.readouterr().out


def test_installed_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.startswith("teleassist ")


def test_config_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[mqtt]\nhost = "broker.local"\nport = 1884\n', encoding="utf-8")
    config = load_config(path, environ={"TELEASSIST_MQTT__PORT": "1999"})
    assert config.mqtt == MqttSettings(host="broker.local", port=1999)


def test_defaults_run_the_embedded_demo() -> None:
    assert load_config(environ={}).mqtt == MqttSettings()


def test_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, environ={})
    typed = tmp_path / "typed.toml"
    typed.write_text('[mqtt]\nport = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[mqtt\].*Expected `int`"):
        _ = load_config(typed, environ={}).mqtt


def test_bad_config_exits_with_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(tmp_path / "nope.toml"), "demo", "--duration", "0.1"]) == 2
    assert "does not exist" in capsys.readouterr().err
