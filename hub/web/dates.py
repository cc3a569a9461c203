"""Dates, times and relative times in the reader's language, with Babel (CLDR data).

Every page and message of the hub that shows a moment goes through here or through the
browser's ``Intl`` (``/static/web/ta.js``), never through ``strftime`` patterns written by
hand: Catalan, Spanish and English differ in order, abbreviations and words ("fa 20
minuts", "hace 20 minutos", "20 minutes ago"). The clock is always 24-hour, the zone
Europe/Madrid (the service's), whatever the language.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time, format_timedelta, parse_pattern

# The service is in Catalonia: English readers get British order (day, month) and 24 h.
LOCALES = {"ca": "ca_ES", "es": "es_ES", "en": "en_GB"}
ZONE = ZoneInfo("Europe/Madrid")


def _locale(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, LOCALES["ca"]))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no meaning here; pass an aware one")
    return moment.astimezone(ZONE)


def format_clock(moment: datetime, lang: str) -> str:
    """``21:45`` (local, 24-hour)."""
    return format_time(_aware(moment), "HH:mm", locale=_locale(lang))


def format_day(day: date | datetime, lang: str) -> str:
    """``6 de des. del 2026`` / ``6 dic 2026`` / ``6 Dec 2026``."""
    value = _aware(day) if isinstance(day, datetime) else day
    return format_skeleton("yMMMd", value, locale=_locale(lang))


def format_numeric_day(day: date | datetime, lang: str) -> str:
    """``6/12/2026`` (ca/es) / ``06/12/2026`` (en): day first, for narrow table columns."""
    value = _aware(day) if isinstance(day, datetime) else day
    return format_skeleton("yMd", value, locale=_locale(lang))


def format_moment(moment: datetime, lang: str) -> str:
    """``6 de des. del 2026, 21:45`` / ``6 dic 2026, 21:45`` / ``6 Dec 2026, 21:45``."""
    locale = _locale(lang)
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", format_day(moment, lang)).replace(
        "{0}", format_clock(moment, lang)
    )


def moment_rule(lang: str) -> dict[str, object]:
    """The rules ``format_moment`` and ``format_day`` follow, for the browser
    (``formatDateTime`` and ``formatDay`` in ``/static/web/ta.js``), so that both write a
    moment and a day the same way: ``pattern`` (a moment) and ``day`` (a day) with ``{d}``,
    ``{MMM}``, ``{y}``, ``{HH}`` and ``{mm}`` to fill, and ``months``, the 12 abbreviated
    month names as a date writes them (``de des.``). Chromium's own ``Intl`` data says ``4 de
    des. 2026`` where Babel's CLDR says ``4 de des. del 2026``: one rule, the server's."""
    locale = _locale(lang)
    day = str(parse_pattern(locale.datetime_skeletons["yMMMd"]).format)
    clock = str(parse_pattern("HH:mm").format)
    pattern = str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", clock)
    pattern, day = (re.sub(r"%\((\w+)\)s", r"{\1}", p).replace("%%", "%") for p in (pattern, day))
    fields = set(re.findall(r"\{(\w+)\}", pattern))
    if not fields <= {"d", "MMM", "y", "HH", "mm"}:
        raise ValueError(f"a moment pattern the browser cannot fill: {pattern}")
    months = locale.months["format"]["abbreviated"]
    return {"pattern": pattern, "day": day, "months": [months[m] for m in range(1, 13)]}


def format_ago(moment: datetime, now: datetime, lang: str) -> str:
    """``fa 20 minuts`` / ``hace 20 minutos`` / ``20 minutes ago`` (or ``in …`` ahead)."""
    return format_timedelta(moment - now, add_direction=True, threshold=1.0, locale=_locale(lang))


def parse_iso(value: str | datetime | None) -> datetime | None:
    """An ISO timestamp from the API (``Z`` or offset) → aware datetime; ``None`` stays."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def jinja_filters() -> dict[str, object]:
    """Filters for templates: ``{{ iso|moment(lang) }}``, ``day``, ``clock``."""

    def moment(value: str | datetime | None, lang: str) -> str:
        parsed = parse_iso(value)
        return format_moment(parsed, lang) if parsed else ""

    def day(value: str | datetime | None, lang: str) -> str:
        parsed = parse_iso(value)
        return format_day(parsed, lang) if parsed else ""

    def clock(value: str | datetime | None, lang: str) -> str:
        parsed = parse_iso(value)
        return format_clock(parsed, lang) if parsed else ""

    return {"moment": moment, "day": day, "clock": clock}


__all__ = [
    "LOCALES",
    "format_ago",
    "format_clock",
    "format_day",
    "format_moment",
    "format_numeric_day",
    "jinja_filters",
    "moment_rule",
    "parse_iso",
]
