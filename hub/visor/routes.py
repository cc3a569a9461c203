"""``/visor``: the reason form, and ``POST /visor/view`` that audits and shows the record.

Only the social-worker role may look. The look-up is a POST carrying the reason, so every
showing of the record is one request and one audit entry (who, which resident, why); a
reload asks the browser to send the form again rather than showing it silently.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role
from hub.family.jsonio import is_int32_id
from hub.visor.data import load_resident, load_visor
from hub.web import DISPLAY_TIMEZONE, Pages, PageUser
from hub.web.auth import page_requires
from hub.web.language import page_language
from integrations.wsocial.signals import CATALOG as SIGNAL_CATALOG
from integrations.wsocial.vocabulary import concept
from protocol.i18n import Catalog

HERE = Path(__file__).parent
VISOR_PAGES = Pages(HERE / "templates", Catalog.load(HERE / "i18n.toml"))
REASONS: tuple[str, ...] = ("assessment", "follow_up", "incident", "coordination", "other")
_ZONE = ZoneInfo(DISPLAY_TIMEZONE)


def _local(moment: datetime) -> str:
    return moment.astimezone(_ZONE).strftime("%d/%m/%Y %H:%M")


def _local_date(moment: datetime) -> str:
    return moment.astimezone(_ZONE).strftime("%d/%m/%Y")


def _day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _day_short(day: date) -> str:
    return day.strftime("%d/%m")


for _name, _filter in {
    "local": _local,
    "local_date": _local_date,
    "day": _day,
    "day_short": _day_short,
}.items():
    VISOR_PAGES.environment.filters[_name] = _filter


def _start(
    request: web.Request,
    user: PageUser,
    form: dict[str, str] | None = None,
    error: str | None = None,
) -> web.Response:
    return VISOR_PAGES.render(
        request,
        "visor_start.html",
        {
            "reasons": REASONS,
            "form": form or {"resident": "", "reason": "", "note": ""},
            "error": error,
        },
        user=user,
        status=400 if error else 200,
    )


@page_requires(Role.SOCIAL_WORKER)
async def start_page(request: web.Request, user: PageUser) -> web.Response:
    """The look-up form: resident number and the reason for looking."""
    return _start(request, user)


@page_requires(Role.SOCIAL_WORKER)
async def view_page(request: web.Request, user: PageUser) -> web.Response:
    """Check the reason, write the audit entry, then show the resident's record."""
    posted = await request.post()
    form = {k: str(posted.get(k, "")).strip() for k in ("resident", "reason", "note")}
    if not is_int32_id(form["resident"]):
        return _start(request, user, form, "error_resident_id")
    if form["reason"] not in REASONS:
        return _start(request, user, form, "error_reason_missing")
    if form["reason"] == "other" and len(form["note"]) < 5:
        return _start(request, user, form, "error_note_needed")
    note = form["note"][:300]
    resident_id = int(form["resident"])
    app = request.app
    async with app[SESSIONMAKER]() as session:
        card = await load_resident(session, resident_id)
        if card is None:
            return _start(request, user, form, "error_resident_unknown")
        # The audit entry is committed before anything of the record is read out.
        await record_audit(
            session,
            user.username,
            "visor.view",
            f"resident:{resident_id}",
            {"reason": form["reason"], "note": note},
            at=app[CLOCK](),
        )
        await session.commit()
        view = await load_visor(session, resident_id, consent_given=card.consent_given)
    lang = page_language(request, user.language)
    reason_text = VISOR_PAGES.text(f"reason_{form['reason']}", lang)
    if note:
        reason_text = f"{reason_text} — {note}"

    def concept_text(key: str) -> str:
        return concept(key).text(lang)

    def domain_text(key: str) -> str:
        return SIGNAL_CATALOG.text(f"domain.{key}", lang)

    context: dict[str, Any] = {
        "resident": card,
        "view": view,
        "reason_text": reason_text,
        "concept": concept_text,
        "domain": domain_text,
        "risk_concept": lambda risk: risk,
        "outcome_concept": lambda outcome: f"outcome_{outcome}",
    }
    return VISOR_PAGES.render(request, "visor_resident.html", context, user=user)


def setup(app: web.Application) -> None:
    """Add ``/visor`` pages and their static files."""
    app.router.add_static("/static/visor", HERE / "static", name="visor-static")
    app.router.add_get("/visor", start_page)
    app.router.add_post("/visor/view", view_page)
