"""`teleassist demo --data-dir DIR` keeps data there and never empties a directory not its own."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from teleassist import cli
from teleassist.demo import DEMO_MARKER, DataDirError, prepare_data_dir


def test_a_new_directory_is_made_private_and_marked(tmp_path: Path) -> None:
    target = tmp_path / "new" / "demo"
    assert prepare_data_dir(target) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert (target / DEMO_MARKER).exists()


def test_a_foreign_non_empty_directory_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "thesis.odt").write_text("years of work", encoding="utf-8")
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "hub.sqlite").write_text("a real hub", encoding="utf-8")
    with pytest.raises(DataDirError, match="not empty"):
        prepare_data_dir(tmp_path)
    assert (tmp_path / "thesis.odt").read_text(encoding="utf-8") == "years of work"
    assert (tmp_path / "hub" / "hub.sqlite").exists()


def test_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(DataDirError, match="not a directory"):
        prepare_data_dir(target)
    assert target.read_text(encoding="utf-8") == "x"


def test_an_earlier_demo_s_data_are_replaced_and_nothing_else(tmp_path: Path) -> None:
    prepare_data_dir(tmp_path)
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "hub.sqlite").write_text("old demo", encoding="utf-8")
    (tmp_path / "tablet.log").write_text("old log", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    prepare_data_dir(tmp_path)
    assert not (tmp_path / "hub").exists()
    assert not (tmp_path / "tablet.log").exists()
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_the_cli_refuses_a_foreign_directory_with_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("keep", encoding="utf-8")
    code = cli.main(["demo", "--data-dir", str(tmp_path), "--no-tablet", "--duration", "0.1"])
    assert code == 2
    assert "not made by the demo" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "keep"
