"""Every text exists in Catalan, Spanish and English with the same placeholders."""

from __future__ import annotations

import logging
import string

import pytest

from tablet_app.i18n import _TEXT, LANGUAGES, keys, translate


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(keys()))
def test_every_language_is_filled_with_the_same_placeholders(key: str) -> None:
    ca, es, en = _TEXT[key]
    assert ca.strip()
    assert es.strip()
    assert en.strip()
    assert _fields(ca) == _fields(es) == _fields(en)


def test_translate_fills_values_in_each_language() -> None:
    assert translate("call.incoming", "en", name="Maria") == "Maria is calling you"
    assert translate("call.incoming", "ca", name="Maria") == "Maria us truca"
    assert translate("call.incoming", "es", name="Maria") == "Maria le llama"
    assert set(LANGUAGES) == {"ca", "es", "en"}


def test_a_missing_key_shows_the_key_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert translate("no.such.key", "ca") == "no.such.key"
    assert "no.such.key" in caplog.text


def test_missing_values_leave_the_text_readable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert translate("call.incoming", "en") == "{name} is calling you"
    assert "call.incoming" in caplog.text


# Words that would take the resident's gender in Catalan or Spanish (ADR 0158: the tablet's
# words need none). "sol"/"sola"/"solo" are left out: "una sola vegada", "solo podrá".
GENDERED = {
    "tranquil", "tranquil·la", "tranquilo", "tranquila", "preocupat", "preocupada",
    "preocupado", "cansat", "cansada", "cansado", "benvingut", "benvinguda", "bienvenido",
    "bienvenida", "segur", "segura", "seguro", "preparat", "preparada", "preparado",
    "sentat", "sentada", "sentado", "caigut", "caiguda", "caído", "caída",
    "content", "contenta", "contento", "atent", "atenta", "atento", "ferit", "ferida",
    "herido", "herida", "sol·la", "ell", "ella", "él", "senyor", "senyora", "señor", "señora",
}  # fmt: skip
# Familiar forms: the tablet speaks to the resident as vós / usted throughout.
FAMILIAR = {"tu", "teu", "teva", "tens", "estàs", "pots", "tú", "tienes", "estás", "puedes", "tuyo"}


@pytest.mark.parametrize("key", sorted(keys()))
def test_the_resident_is_addressed_formally_and_without_a_gender(key: str) -> None:
    import re

    for lang in ("ca", "es"):
        words = set(re.findall(r"[\w·]+", translate(key, lang).casefold()))
        # A ".feminine"/".masculine" text is shown only to a resident the centre says is
        # addressed so (ADR 0170); the plain key, for everyone else, stays without gender.
        if not key.endswith((".feminine", ".masculine")):
            assert not words & GENDERED, (key, lang, words & GENDERED)
        assert not words & FAMILIAR, (key, lang, words & FAMILIAR)
