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

from hub.alarms.adherence import Week, resident_adherence
from hub.alarms.plans import care_service
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role
from hub.db.models import Resident
from hub.visor.data import load_resident, load_visor
from hub.visor.lookup import KINDS, Match, QueryRefused, find, parse_query
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
VISOR_WEEKS = 8


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
    matches: list[Match] | None = None,
) -> web.Response:
    return VISOR_PAGES.render(
        request,
        "visor_start.html",
        {
            "reasons": REASONS,
            "kinds": KINDS,
            "form": form or {"by": "name", "query": "", "reason": "", "note": ""},
            "error": error,
            "matches": matches or [],
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
    form = {k: str(posted.get(k, "")).strip() for k in ("by", "query", "reason", "note")}
    if "resident" in posted and not form["query"]:  # the resident number, as before
        form["by"], form["query"] = "number", str(posted.get("resident", "")).strip()
    try:
        by, value = parse_query(form["by"], form["query"])
    except QueryRefused as refused:
        return _start(request, user, form, refused.key)
    if form["reason"] not in REASONS:
        return _start(request, user, form, "error_reason_missing")
    if form["reason"] == "other" and len(form["note"]) < 5:
        return _start(request, user, form, "error_note_needed")
    note = form["note"][:300]
    app = request.app
    async with app[SESSIONMAKER]() as session:
        matches = await find(session, by, value)
        if by != "number":
            # Every search run is in the audit log: who looked for whom, why, and how many
            # people it found (a search that finds nobody too).
            await record_audit(
                session,
                user.username,
                "visor.search",
                f"visor:{by}",
                {"by": by, "query": value, "found": len(matches), "reason": form["reason"],
                 "note": note},
                at=app[CLOCK](),
            )  # fmt: skip
            await session.commit()
        if not matches:
            unknown = "error_resident_unknown" if by == "number" else "error_nobody_found"
            return _start(request, user, form, unknown)
        if len(matches) > 1:
            return _start(request, user, form, None, matches)
        resident_id = matches[0].id
        card = await load_resident(session, resident_id)
        if card is None:
            return _start(request, user, form, "error_resident_unknown")
        # The audit entry is committed before anything of the record is read out.
        await record_audit(
            session,
            user.username,
            "visor.view",
            f"resident:{resident_id}",
            {"reason": form["reason"], "note": note, **({"by": by} if by != "number" else {})},
            at=app[CLOCK](),
        )
        await session.commit()
        view = await load_visor(session, resident_id, consent_given=card.consent_given)
        # Medication taken and missed per week (ADR 0152): part of the care the social
        # record gets, so only with the resident's consent to it.
        medication: list[Week] = []
        resident = await session.get(Resident, resident_id) if card.consent_given else None
        if resident is not None:
            doses, weeks = await resident_adherence(
                session, resident, app[CLOCK](), VISOR_WEEKS, care_service(app)
            )
            medication = weeks if doses else []
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
        "medication": medication,
        "medication_share": _share(medication),
    }
    return VISOR_PAGES.render(request, "visor_resident.html", context, user=user)


def _share(weeks: list[Week]) -> float | None:
    """Doses confirmed of those expected over ``weeks`` (None: none expected)."""
    expected = sum(w.expected for w in weeks)
    return sum(w.confirmed for w in weeks) / expected if expected else None
