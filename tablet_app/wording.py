"""Dates and times in plain words, in the resident's local time.

Storage and the wire are UTC; the resident reads "Tomorrow at 10:00", never a date
format. Everything takes ``now`` as an argument so it can be tested without a clock.
Names of days and months and the order of day and month come from Babel's CLDR data
(as on the hub, hub/web/dates.py), never from lists kept here; the clock is 24-hour.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton

from tablet_app.i18n import Lang, translate

LOCAL_TZ = ZoneInfo("Europe/Madrid")
# English readers in Catalonia: British order (23 November).
_LOCALES: dict[Lang, str] = {"ca": "ca_ES", "es": "es_ES", "en": "en_GB"}


def _weekday(day: date, lang: Lang) -> str:
    return format_date(day, "EEEE", locale=_LOCALES[lang])


def _day_month(day: date, lang: Lang) -> str:
    """``23 de novembre`` / ``23 de noviembre`` / ``23 November``."""
    return format_skeleton("MMMMd", day, locale=_LOCALES[lang])


def local(moment: datetime, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """``moment`` (aware) in local time; a naive value is refused."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no meaning here; pass an aware one")
    return moment.astimezone(tz)


def clock_text(now: datetime, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``16:05``."""
    return local(now, tz).strftime("%H:%M")


def date_text(now: datetime, lang: Lang, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``Monday 23 November`` / ``dilluns, 23 de novembre``."""
    day = local(now, tz).date()
    weekday, day_month = _weekday(day, lang), _day_month(day, lang)
    if lang == "en":
        return f"{weekday} {day_month}"
    return f"{weekday.capitalize()}, {day_month}"


def when_text(moment: datetime, now: datetime, lang: Lang, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``Today at 10:00``, ``Tomorrow at 10:00``, ``Thursday at 10:00`` or a date."""
    at = local(moment, tz)
    today = local(now, tz).date()
    hhmm = at.strftime("%H:%M")
    days = (at.date() - today).days
    if days == 0:
        return translate("agenda.today", lang, time=hhmm)
    if days == 1:
        return translate("agenda.tomorrow", lang, time=hhmm)
    if 1 < days < 7:
        return translate("agenda.weekday", lang, day=_weekday(at.date(), lang), time=hhmm)
    return translate("agenda.weekday", lang, day=_day_month(at.date(), lang), time=hhmm)


def day_words(moment: datetime, now: datetime, lang: Lang, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``Today``, ``Yesterday`` or ``22 November`` (no time: a caption under a photo)."""
    day, today = local(moment, tz).date(), local(now, tz).date()
    if day == today:
        return translate("day.today", lang)
    if (today - day).days == 1:
        return translate("day.yesterday", lang)
    return _day_month(day, lang)


def duration_text(seconds: float, lang: Lang) -> str:
    """A time left in plain words: ``3 minutes`` (rounded up) from one minute on,
    ``45 seconds`` under it; never ``0``: a time that is up is ``1 second``."""
    if seconds < 0:
        raise ValueError("a time left cannot be negative")
    whole = max(1, math.ceil(seconds))
    if whole > 60:
        minutes = math.ceil(whole / 60)
        return translate("time.minutes", lang, n=minutes)
    if whole == 60:
        return translate("time.minute", lang)
    if whole == 1:
        return translate("time.second", lang)
    return translate("time.seconds", lang, n=whole)


# How long before a deadline an "I'm OK" starts to count for it: the hub's
# ``alerts.CheckInSettings.opens_before`` (the hub sends no other; a test pins the two).
CHECK_IN_OPENS_BEFORE = timedelta(hours=10)


def check_in_window_opens(
    deadlines: list[time],
    due: datetime,
    tz: ZoneInfo = LOCAL_TZ,
    opens_before: timedelta = CHECK_IN_OPENS_BEFORE,
) -> datetime:
    """From when a check-in counts for the deadline falling at ``due``: the hub's rule
    (``alerts.CheckInSettings.window_opens``) mirrored, as the tablet does not carry the
    ``alerts`` package (ADR 0183): ``opens_before`` the deadline and, with several
    deadlines a day, not before the previous one (each needs its own "I'm OK")."""
    opens = due.astimezone(UTC) - opens_before  # absolute hours, as the hub's UTC instants
    if len(deadlines) > 1:
        here = local(due, tz)
        before = [
            c
            for day in (here.date(), here.date() - timedelta(days=1))
            for deadline in deadlines
            if (c := datetime.combine(day, deadline, tzinfo=tz)) < due
        ]
        if before:
            opens = max(opens, max(before))
    return opens


def next_deadline(
    deadlines: list[time],
    now: datetime,
    tz: ZoneInfo = LOCAL_TZ,
    *,
    last_check_in: datetime | None = None,
) -> datetime | None:
    """The next check-in deadline after ``now`` that the hub will still check, or ``None``
    if there are none.

    One that a check-in at ``last_check_in`` already answers (:func:`check_in_window_opens`)
    is skipped: with 10:30 and 19:00, a morning "I'm OK" answers 10:30 but not 19:00, so
    the next one is today's 19:00; after the evening's, tomorrow's 10:30.
    """
    if not deadlines:
        return None
    today = local(now, tz).date()
    ahead = sorted(
        candidate
        for offset in range(4)
        for deadline in deadlines
        if (
            candidate := datetime.combine(
                today + timedelta(days=offset), deadline, tzinfo=tz
            ).astimezone(UTC)
        )
        > now
    )
    due = next(
        (
            c
            for c in ahead
            if last_check_in is None or last_check_in < check_in_window_opens(deadlines, c, tz)
        ),
        ahead[0],
    )
    return due.astimezone(now.tzinfo)


# Words of a name that are not its own initial: "Maria del Carmen" is "MC".
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "i", "y", "da", "van", "von"})


def initials(name: str) -> str:
    """One or two capital letters for ``name``: the first word's and, if there is more
    than one, the last word's that is not a particle ("Maria del Carmen" → "MC")."""
    # "d'Alòs" counts from its "A"; a word that starts with no letter ("(avi)") is skipped
    words = [w.rsplit("'", 1)[-1] for w in name.replace("-", " ").replace("’", "'").split()]
    words = [w for w in words if w[:1].isalpha()]
    if not words:
        return ""
    first = words[0][0].upper()
    rest = [w for w in words[1:] if w.lower() not in _PARTICLES]
    return first + rest[-1][0].upper() if rest else first
