"""``teleassist screenshots DIR`` without ``--lang`` writes every language of the screens."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from teleassist.config import load_config
from teleassist.screenshots import cli


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def _record(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the real areas by one that writes nothing and remembers its languages."""
    asked: list[list[str]] = []

    def capture(out_dir: Path, languages: list[str]) -> list[Path]:
        asked.append(list(languages))
        return []

    monkeypatch.setattr(cli, "discover", lambda: {"fake": SimpleNamespace(capture=capture)})
    return asked


def test_by_default_catalan_spanish_and_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _record(monkeypatch)
    assert cli.run(_parse(str(tmp_path)), load_config(environ={})) == 0
    assert asked == [["ca", "es", "en"]]


def test_lang_chooses_the_languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _record(monkeypatch)
    assert cli.run(_parse(str(tmp_path), "--lang=es"), load_config(environ={})) == 0
    assert asked == [["es"]]


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parse(str(tmp_path), "--lang=fr")


def test_an_unknown_area_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _record(monkeypatch)
    with pytest.raises(SystemExit, match="unknown area"):
        cli.run(_parse(str(tmp_path), "--area=nowhere"), load_config(environ={}))
