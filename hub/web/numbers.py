"""Numbers, shares, phone numbers and plurals in the reader's language (Babel, CLDR data).

Like :mod:`hub.web.dates`, nothing here is written by hand per language: ``30,5`` in
Catalan and Spanish, ``30.5`` in English; ``50 %`` / ``50 %`` / ``50%``; the plural
category of a count (``one`` / ``other`` in ca/es/en) from CLDR's rules. Phone numbers
are Spain's: nine digits shown as ``600 11 12 22`` (the grouping Spanish directories
use), ``+34`` kept when it was written, and a ``tel:`` link that always dials
``+34…`` from a mobile.
"""

from __future__ import annotations

import re

from babel import Locale
from babel.numbers import format_decimal, format_percent

from hub.web.dates import LOCALES

_SPANISH = re.compile(r"^(?:\+34|0034)?([5-9]\d{8})$")


def _locale(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, LOCALES["ca"]))


def format_number(value: float, lang: str, decimals: int | None = 0) -> str:
    """``30,5`` (ca/es) or ``30.5`` (en), with exactly ``decimals`` decimals (``None``: as
    many as the value has, up to three: ``19,5``, ``32``)."""
    if decimals is None:
        return format_decimal(value, locale=_locale(lang))
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, pattern, locale=_locale(lang), group_separator=True)


def format_share(value: float, lang: str) -> str:
    """A fraction 0–1 as a whole percentage: ``50 %`` (ca/es), ``50%`` (en)."""
    return format_percent(value, locale=_locale(lang))


def plural_category(count: int, lang: str) -> str:
    """CLDR's plural category of ``count`` in ``lang`` (``one``, ``other``, ``many``…)."""
    return str(_locale(lang).plural_form(abs(count)))


def _digits(phone: str) -> str:
    return re.sub(r"[\s.\-()/]", "", phone.strip())


def format_phone(phone: str | None) -> str:
    """A Spanish number grouped ``600 11 12 22`` (``+34 600 11 12 22`` when written with
    the prefix); anything else (a foreign or short number) is shown as it was typed."""
    if not phone:
        return ""
    compact = _digits(phone)
    found = _SPANISH.match(compact)
    if found is None:
        return " ".join(phone.split())
    d = found.group(1)
    grouped = f"{d[:3]} {d[3:5]} {d[5:7]} {d[7:]}"
    return f"+34 {grouped}" if compact.startswith(("+", "00")) else grouped


def tel_href(phone: str | None) -> str:
    """``tel:+34600111222`` for a Spanish number, ``tel:<digits>`` otherwise."""
    if not phone:
        return ""
    compact = _digits(phone)
    found = _SPANISH.match(compact)
    if found is not None:
        return f"tel:+34{found.group(1)}"
    return "tel:" + re.sub(r"[^\d+]", "", compact)


def jinja_filters() -> dict[str, object]:
    """``{{ v|number(lang, 1) }}``, ``{{ v|share(lang) }}``, ``{{ p|phone }}``, ``tel``."""

    def number(value: float | None, lang: str, decimals: int | None = 0) -> str:
        return "" if value is None else format_number(value, lang, decimals)

    def share(value: float | None, lang: str) -> str:
        return "" if value is None else format_share(value, lang)

    return {"number": number, "share": share, "phone": format_phone, "tel": tel_href}


__all__ = [
    "format_number",
    "format_phone",
    "format_share",
    "jinja_filters",
    "plural_category",
    "tel_href",
]
