"""Numbers, shares, phones and plural categories in the reader's language (issue 23)."""

from __future__ import annotations

import pytest

from hub.web import Pages
from hub.web.numbers import format_number, format_phone, format_share, plural_category, tel_href
from protocol.i18n import Catalog


@pytest.mark.parametrize(
    ("lang", "decimal", "thousands", "share"),
    [
        ("ca", "30,5", "1.234,5", "50\xa0%"),
        ("es", "30,5", "1.234,5", "50\xa0%"),
        ("en", "30.5", "1,234.5", "50%"),
    ],
)
def test_decimal_comma_in_catalan_and_spanish(
    lang: str, decimal: str, thousands: str, share: str
) -> None:
    assert format_number(30.5, lang, 1) == decimal
    assert format_number(1234.5, lang, 1) == thousands
    assert format_number(30, lang, 1) == decimal.replace("5", "0")
    assert format_number(30.5, lang, None) == decimal
    assert format_number(32.0, lang, None) == "32"
    assert format_share(0.5, lang) == share
    assert format_share(1 / 3, lang).startswith("33")


@pytest.mark.parametrize(
    ("typed", "shown", "href"),
    [
        ("600111222", "600 11 12 22", "tel:+34600111222"),
        ("600 111 222", "600 11 12 22", "tel:+34600111222"),
        ("+34 600-111-222", "+34 600 11 12 22", "tel:+34600111222"),
        ("0034 931234567", "+34 931 23 45 67", "tel:+34931234567"),
        ("93 123 45 67", "931 23 45 67", "tel:+34931234567"),
        ("112", "112", "tel:112"),
        ("+44 20  7946 0000", "+44 20 7946 0000", "tel:+442079460000"),
        ("", "", ""),
    ],
)
def test_spanish_phone_numbers_are_grouped_and_dial_with_the_prefix(
    typed: str, shown: str, href: str
) -> None:
    assert format_phone(typed) == shown
    assert tel_href(typed) == href


def test_plural_categories_come_from_cldr() -> None:
    for lang in ("ca", "es", "en"):
        assert plural_category(1, lang) == "one"
        assert plural_category(0, lang) == "other"
        assert plural_category(2, lang) == "other"
    # Spanish and Catalan have a 'many' category for round millions in CLDR 42+; anything
    # the catalog has no text for falls back to _other.
    catalog = Catalog({"thing_one": {"ca": "1 cosa"}, "thing_other": {"ca": "{n} coses"}})
    pages = Pages(catalog=catalog)
    assert pages.plural("thing", 1, "ca") == "1 cosa"
    assert pages.plural("thing", 3, "ca") == "3 coses"
    assert pages.plural("thing", 1_000_000, "ca") == "1000000 coses"
