"""The shared web shell's handler, the sign-in page, and where each role lands after it
(:mod:`hub.web.app` adds it)."""

from __future__ import annotations

from aiohttp import web

from hub.auth.web import public
from hub.web.pages import Pages

# Where each role lands after signing in (areas change their own line here).
HOME_BY_ROLE: dict[str, str] = {
    "operator": "/console",
    "supervisor": "/console",
    "admin": "/console/supervisor",
    "social_worker": "/visor",
    "family": "/family",
    "facilitator": "/family",
    "installer": "/service",
    "coordinator": "/service",
}

SHELL_PAGES = Pages()


@public("the sign-in page")
async def signin_page(request: web.Request) -> web.Response:
    """The sign-in form (public); the script posts to ``/api/auth/login``."""
    return SHELL_PAGES.render(
        request,
        "signin.html",
        {"page_data": {"home_by_role": HOME_BY_ROLE}},
        js_texts=[
            "sign_in",
            "signing_in",
            "invalid_credentials",
            "too_many_attempts",
            "account_disabled",
            "fill_both",
            "error_generic",
            "error_network",
        ],
    )
