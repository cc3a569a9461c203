"""Every user guide exists in Catalan, Spanish and English (issue 23), is listed in the guides'
index, and every picture or page it points to exists."""

from __future__ import annotations

import re
from pathlib import Path

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "guides"
TRANSLATED = ("ca", "es")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _english() -> list[str]:
    return sorted(p.name for p in GUIDES.glob("*.md") if p.name != "README.md")


def test_every_guide_is_in_the_three_languages() -> None:
    english = _english()
    assert len(english) >= 6
    for lang in TRANSLATED:
        have = sorted(p.name for p in (GUIDES / lang).glob("*.md"))
        assert have == english, f"docs/guides/{lang}/ differs from the English guides"


def test_every_guide_is_listed_in_the_index() -> None:
    index = (GUIDES / "README.md").read_text(encoding="utf-8")
    linked = set(LINK.findall(index))
    for name in _english():
        for path in (name, *(f"{lang}/{name}" for lang in TRANSLATED)):
            assert path in linked, f"docs/guides/README.md does not link {path}"


def test_every_link_and_picture_of_a_guide_exists() -> None:
    for guide in [GUIDES / "README.md", *GUIDES.glob("*.md"), *GUIDES.glob("*/*.md")]:
        for target in LINK.findall(guide.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (guide.parent / target).exists(), f"{guide.name}: {target} does not exist"


def test_a_translation_is_written_for_its_reader_not_left_in_english() -> None:
    # The first heading says who the guide is for in the reader's language.
    words = {"ca": ("Guia",), "es": ("Guía",)}
    for lang, expected in words.items():
        for guide in (GUIDES / lang).glob("*.md"):
            title = guide.read_text(encoding="utf-8").splitlines()[0]
            assert title.startswith("# "), guide
            assert title[2:].startswith(expected), (guide, title)


def test_a_translated_guide_shows_its_own_language_where_the_picture_exists() -> None:
    screenshots = GUIDES.parent / "screenshots"
    for lang in TRANSLATED:
        for guide in (GUIDES / lang).glob("*.md"):
            for target in LINK.findall(guide.read_text(encoding="utf-8")):
                name = Path(target).name
                if not name.endswith(".png") or f"-{lang}-" in name:
                    continue
                own = re.sub(r"-(ca|es|en)-", f"-{lang}-", name)
                assert not (screenshots / own).exists(), f"{guide}: use {own}, not {name}"
