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
