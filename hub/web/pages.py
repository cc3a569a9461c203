"""Server-rendered pages on the shared shell: one :class:`Pages` per web area.

An area (the operator console, the family app, the visor, ...) keeps its templates in
its own folder and its texts in its own catalog; its templates ``{% extends "base.html" %}``
from this package and call ``t("key")``, which looks in the area's catalog first and
then in the shell's (``hub/web/i18n.toml``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from hub.web.dates import jinja_filters, moment_rule
from hub.web.language import page_language
from hub.web.numbers import jinja_filters as number_filters
from hub.web.numbers import plural_category
from protocol.i18n import LANGUAGES, Catalog, Language, MissingTranslation

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static/web"
WEB_CATALOG = Catalog.load(WEB_DIR / "i18n.toml")
# Texts every page's script gets, whatever keys the area hands it: the date and time
# fields in the page's language (static/datefield.js, ADR 0172).
SHELL_JS_KEYS = sorted(key for key in WEB_CATALOG.texts if key.startswith("df_"))
# Every page shows local time of the service (storage is UTC).
DISPLAY_TIMEZONE = "Europe/Madrid"
# Everything comes from the hub itself: no CDN, no inline scripts (page data travels in
# <script type="application/json">, which is not executed). Inline styles are allowed for
# the small SVG charts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@dataclass(frozen=True, slots=True)
class PageUser:
    """Who is signed in, as the page header shows it."""

    id: int
    username: str
    role: str
    language: str
    display_name: str = ""

    @property
    def label(self) -> str:
        """The name to show."""
        return self.display_name or self.username


def _script_json(value: object) -> Markup:
    # Safe inside <script type="application/json">: no "</" can close the element.
    text = json.dumps(value, ensure_ascii=False).replace("</", "<\\/")
    return Markup(text)  # noqa: S704 - JSON escaped for a script element above


def addressed_key(key: str, address_form: str) -> str:
    """The catalogue key of ``key`` phrased for how a person is addressed (issue 23):
    ``key_feminine`` or ``key_masculine``, else ``key_neutral`` (neutral, and unknown: a
    gender nobody stated is never guessed)."""
    form = address_form if address_form in ("feminine", "masculine") else "neutral"
    return f"{key}_{form}"


class Pages:
    """Templates and texts of one web area, rendered inside the shared base template."""

    def __init__(self, template_dir: Path | None = None, catalog: Catalog | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if template_dir is not None:
            loaders.append(jinja2.FileSystemLoader(template_dir))
        loaders.append(jinja2.FileSystemLoader(TEMPLATE_DIR))
        self.catalog = catalog
        self.environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters["tojson_script"] = _script_json
        # Dates in the reader's language (Babel): {{ iso|moment(lang) }}, day, clock.
        self.environment.filters.update(jinja_filters())
        # Numbers, shares and phones too: {{ v|number(lang, 1) }}, share, phone, tel.
        self.environment.filters.update(number_filters())

    def text(self, key: str, lang: str, /, **params: object) -> str:
        """``key`` from the area's catalog, else from the shell's."""
        if self.catalog is not None and key in self.catalog.texts:
            return self.catalog.text(key, lang, **params)
        return WEB_CATALOG.text(key, lang, **params)

    def plural(self, key: str, count: int, lang: str, /, **params: object) -> str:
        """``key_one`` / ``key_other`` (CLDR's category of ``count`` in ``lang``, falling
        back to ``key_other``), with ``n`` = ``count`` among the parameters."""
        chosen = f"{key}_{plural_category(count, lang)}"
        known = self.catalog is not None and chosen in self.catalog.texts
        if not known and chosen not in WEB_CATALOG.texts:
            chosen = f"{key}_other"
        return self.text(chosen, lang, n=count, **params)

    def texts_for(self, lang: str, keys: list[str] | None = None) -> dict[str, str]:
        """Texts for the page's JavaScript (all of both catalogs, or only ``keys``)."""
        merged = WEB_CATALOG.for_language(lang)
        if self.catalog is not None:
            merged.update(self.catalog.for_language(lang))
        if keys is None:
            return merged
        missing = [k for k in keys if k not in merged]
        if missing:
            raise MissingTranslation(f"no text for {', '.join(missing)}")
        return {k: merged[k] for k in keys}

    def render_text(
        self,
        name: str,
        lang: Language,
        context: Mapping[str, Any] | None = None,
        *,
        user: PageUser | None = None,
        js_texts: list[str] | None = None,
    ) -> str:
        """Render template ``name`` to a string (``js_texts``: keys handed to the script,
        besides ``SHELL_JS_KEYS``)."""

        def t(key: str, **params: object) -> str:
            return self.text(key, lang, **params)

        def tn(key: str, count: int, **params: object) -> str:
            return self.plural(key, count, lang, **params)

        def tg(key: str, address_form: str, **params: object) -> str:
            return self.text(addressed_key(key, address_form), lang, **params)

        template = self.environment.get_template(name)
        values: dict[str, Any] = {
            "lang": lang,
            "languages": LANGUAGES,
            "user": user,
            "t": t,
            "tn": tn,
            "tg": tg,
            "static": STATIC_PREFIX,
            "timezone": DISPLAY_TIMEZONE,
            "moment_rule": moment_rule(lang),
            "js_texts": self.texts_for(lang, [*SHELL_JS_KEYS, *(js_texts or [])]),
            "page_data": {},
        }
        values.update(context or {})
        return template.render(values)

    def render(
        self,
        request: web.Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        user: PageUser | None = None,
        js_texts: list[str] | None = None,
        status: int = 200,
    ) -> web.Response:
        """An HTML response of template ``name`` in the request's language."""
        lang = page_language(request, user.language if user else None)
        body = self.render_text(name, lang, context, user=user, js_texts=js_texts)
        response = web.Response(text=body, status=status, content_type="text/html")
        # The pages show personal data: never keep them in a shared cache.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = lang
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response
