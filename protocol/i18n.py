"""Translations shared by every part: catalogs of ``key -> {ca, es, en}``.

Each package keeps its own catalog (a TOML file beside its code, one table per key) and
loads it with :meth:`Catalog.load`. ``Catalog.check()`` is what tests call to prove every
key exists in every language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

Language = Literal["ca", "es", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "ca"


class MissingTranslation(KeyError):
    """A key, or one of its languages, is missing from a catalog."""


def as_language(value: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """``value`` if it is a supported language (``ca-ES`` → ``ca``), else ``default``."""
    if value:
        short = value.strip().lower()[:2]
        for lang in LANGUAGES:
            if lang == short:
                return lang
    return default


@dataclass(frozen=True)
class Catalog:
    """Texts by key and language, with ``str.format`` placeholders."""

    texts: Mapping[str, Mapping[str, str]]
    name: str = "catalog"

    @classmethod
    def from_rows(cls, rows: Mapping[str, tuple[str, str, str]], name: str) -> Catalog:
        """A catalog from ``key -> (ca, es, en)`` rows kept in code (the alerts core's and the
        tablet's texts), so every part translates through :meth:`text`."""
        return cls({key: dict(zip(LANGUAGES, row, strict=True)) for key, row in rows.items()}, name)

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """Read a TOML catalog: ``[key]`` tables with ``ca``, ``es`` and ``en`` strings."""
        source = Path(path)
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return cls({k: dict(v) for k, v in data.items()}, name=source.name)

    def text(self, key: str, lang: str, /, **params: object) -> str:
        """The text for ``key`` in ``lang`` with ``params`` filled in."""
        try:
            entry = self.texts[key]
        except KeyError:
            raise MissingTranslation(f"{self.name}: no text {key!r}") from None
        template = entry.get(as_language(lang)) or entry.get("en")
        if template is None:
            raise MissingTranslation(f"{self.name}: {key!r} has no {lang!r} text")
        return template.format(**params) if params else template

    def for_language(self, lang: str) -> dict[str, str]:
        """Every text in one language (to hand to a web page or a Kivy screen)."""
        chosen = as_language(lang)
        return {key: entry.get(chosen) or entry.get("en", key) for key, entry in self.texts.items()}

    def check(self) -> list[str]:
        """Problems with the catalog: keys missing a language (empty means complete)."""
        return [
            f"{key}: missing {lang}"
            for key, entry in sorted(self.texts.items())
            for lang in LANGUAGES
            if not entry.get(lang)
        ]
