"""``teleassist hub create-user`` and ``migrate`` on a real SQLite file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from teleassist.cli import main


def test_create_user_then_duplicate_and_weak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["hub", "--data-dir", str(tmp_path)]
    assert main([*base, "migrate"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main([*base, "create-user", "ona", "--role", "operator", "--password-stdin"]) == 0
    assert "created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main([*base, "create-user", "ona", "--role", "admin", "--password-stdin"]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*base, "create-user", "pau", "--role", "admin", "--password-stdin"]) == 1
    assert "at least" in capsys.readouterr().err
    assert (tmp_path / "hub.sqlite").exists()


def test_provisioning_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    passwd = tmp_path / "passwd"
    monkeypatch.setenv("TELEASSIST_HUB__MOSQUITTO_PASSWD_FILE", str(passwd))
    base = ["hub", "--data-dir", str(tmp_path)]
    assert main([*base, "create-home", "--address", "Carrer Nou 5"]) == 0
    assert "home 1 created" in capsys.readouterr().out
    assert main([*base, "add-device", "h1-pendant", "--home", "1", "--type", "pendant"]) == 0
    out = capsys.readouterr().out
    assert "mqtt secret:" in out
    assert "h1-pendant:$7$" in passwd.read_text()
    assert main([*base, "add-device", "h1-pendant", "--home", "1", "--type", "pendant"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*base, "revoke-device", "h1-pendant"]) == 0
    assert "h1-pendant" not in passwd.read_text()
