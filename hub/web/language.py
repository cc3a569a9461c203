"""Which language a page is shown in.

Order of preference: an explicit ``?lang=`` on the request, the ``ta_lang`` cookie the
language switch sets, the signed-in user's own language, the browser's
``Accept-Language``, and finally Catalan (the service's default).
"""

from __future__ import annotations

from aiohttp import web

from protocol.i18n import DEFAULT_LANGUAGE, LANGUAGES, Language, as_language

LANGUAGE_COOKIE = "ta_lang"


def _supported(value: str | None) -> Language | None:
    if not value:
        return None
    short = value.strip().lower()[:2]
    return short if short in LANGUAGES else None


def accept_language(header: str) -> Language | None:
    """The first supported language of an ``Accept-Language`` header, by its q-values."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        choices.append((-quality, index, tag))
    for negative_q, _, tag in sorted(choices):
        found = _supported(tag)
        if found and negative_q < 0:
            return found
    return None


def page_language(request: web.Request, user_language: str | None = None) -> Language:
    """The language to render ``request`` in (see the module docstring for the order)."""
    for candidate in (
        request.query.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        user_language,
    ):
        found = _supported(candidate)
        if found:
            return found
    header = request.headers.get("Accept-Language", "")
    return accept_language(header) or as_language(None, DEFAULT_LANGUAGE)
