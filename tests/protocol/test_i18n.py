from __future__ import annotations

from pathlib import Path

import pytest

from protocol.i18n import Catalog, MissingTranslation, as_language


def test_catalog_texts_and_fallback(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[ok]\nca = "D\'acord, {name}"\nes = "Vale, {name}"\nen = "OK, {name}"\n'
        '[half]\nen = "Only English"\n',
        encoding="utf-8",
    )
    catalog = Catalog.load(path)
    assert catalog.text("ok", "ca", name="Maria") == "D'acord, Maria"
    assert catalog.text("ok", "es-ES", name="Maria") == "Vale, Maria"
    assert catalog.text("half", "ca") == "Only English"
    assert catalog.check() == ["half: missing ca", "half: missing es"]
    assert catalog.for_language("en") == {"ok": "OK, {name}", "half": "Only English"}
    with pytest.raises(MissingTranslation, match="no text 'nope'"):
        catalog.text("nope", "ca")


def test_language_normalisation() -> None:
    assert as_language("CA") == "ca"
    assert as_language("fr", default="en") == "en"
    assert as_language(None) == "ca"
