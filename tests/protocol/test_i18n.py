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


def test_one_language_type_and_one_catalog_for_every_part() -> None:
    """Issue 25 item 5: the alerts core, the tablet and the wire contract translate through
    protocol.i18n (one ``Language`` type, one ``Catalog``), not three mechanisms."""
    import alerts.i18n
    import protocol.messages
    import tablet_app.i18n
    from protocol import i18n

    assert alerts.i18n.Language is i18n.Language
    assert tablet_app.i18n.Lang is i18n.Language
    assert protocol.messages.Language is i18n.Language
    assert isinstance(alerts.i18n._CATALOG, i18n.Catalog)
    assert isinstance(tablet_app.i18n._CATALOG, i18n.Catalog)
    # Every row of both catalogs is complete in the three languages.
    assert alerts.i18n._CATALOG.check() == []
    assert tablet_app.i18n._CATALOG.check() == []


def test_rows_with_a_missing_language_are_refused() -> None:
    with pytest.raises(ValueError, match="shorter"):
        Catalog.from_rows({"k": ("ca", "es")}, "broken")  # type: ignore[dict-item]
