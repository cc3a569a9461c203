"""The shared web shell: base template, CSS, small JavaScript helpers and the web catalog.

Every browser area of the hub (operator console, family app, visor, service pages)
renders through a :class:`Pages` built over this shell; see docs/web.md.
"""

from hub.web.app import setup
from hub.web.language import LANGUAGE_COOKIE, accept_language, page_language
from hub.web.pages import (
    DISPLAY_TIMEZONE,
    STATIC_DIR,
    STATIC_PREFIX,
    TEMPLATE_DIR,
    WEB_CATALOG,
    Pages,
    PageUser,
    addressed_key,
)
from hub.web.routes import HOME_BY_ROLE, SHELL_PAGES

__all__ = [
    "DISPLAY_TIMEZONE",
    "HOME_BY_ROLE",
    "LANGUAGE_COOKIE",
    "SHELL_PAGES",
    "STATIC_DIR",
    "STATIC_PREFIX",
    "TEMPLATE_DIR",
    "WEB_CATALOG",
    "PageUser",
    "Pages",
    "accept_language",
    "addressed_key",
    "page_language",
    "setup",
]
