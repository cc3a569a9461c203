"""The service context's place in the hub (``setup(app)``, listed in ``ROUTE_MODULES``): its
settings and app keys, its routes (handlers in ``api``, ``consent``, ``pages``,
``resident_rules``) and the background sweep that confirms installations from what the hub
hears and applies retention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.alarms.plans import CARE_SERVICE
from hub.appkeys import CLOCK, CONFIG, SESSIONMAKER, resident_changed
from hub.registry.keys import on_tablet_paired
from hub.service import api, consent, pages, resident_rules
from hub.service.alarm_terms import AlarmTerms
from hub.service.installation import confirm_installations, link_paired_tablet
from hub.service.models import ServiceRow
from hub.service.queries import apply_retention
from hub.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)


class ServiceSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Section ``[service]`` of the configuration."""

    # How often the hub looks for first messages of devices being installed.
    confirm_interval_s: float = 5.0
    # How often closed referrals are checked against the retention rules.
    retention_interval_s: float = 3600.0


SERVICE_SETTINGS = web.AppKey("service_settings", ServiceSettings)
SWEEP_TASK = web.AppKey("service_sweep", asyncio.Task[None])


async def sweep_once(app: web.Application) -> list[str]:
    """Confirm installations once (one transaction); references that became active."""
    async with app[SESSIONMAKER]() as session, session.begin():
        return await confirm_installations(session, app[CLOCK]())


async def _tell_activated(app: web.Application, references: list[str]) -> None:
    # The alarm rules switch the daily check-in on for a service that became active.
    async with app[SESSIONMAKER]() as session:
        residents = await session.scalars(
            select(ServiceRow.resident_id).where(ServiceRow.reference.in_(references))
        )
        ids = [r for r in residents if r is not None]
    for resident_id in ids:
        await resident_changed(app, resident_id)


async def _sweep(app: web.Application) -> None:
    settings = app[SERVICE_SETTINGS]
    loop = asyncio.get_running_loop()
    next_retention = loop.time()
    while True:
        try:
            activated = await sweep_once(app)
            if activated:
                await _tell_activated(app, activated)
            if loop.time() >= next_retention:
                async with app[SESSIONMAKER]() as session, session.begin():
                    await apply_retention(session, app[CLOCK]())
                next_retention = loop.time() + settings.retention_interval_s
        except Exception:  # keep sweeping: one bad row must not stop installations
            _LOGGER.exception("service sweep failed")
        await asyncio.sleep(settings.confirm_interval_s)


async def _sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SWEEP_TASK] = asyncio.create_task(_sweep(app), name="service-sweep")
    try:
        yield
    finally:
        await cancel_and_wait([app[SWEEP_TASK]])


def setup(app: web.Application) -> None:
    """Add the service API, pages and background sweep."""
    if SERVICE_SETTINGS not in app:
        app[SERVICE_SETTINGS] = app[CONFIG].section("service", ServiceSettings)
    # The alarm engine asks the service of each resident's plan terms and pauses (its port).
    app[CARE_SERVICE] = AlarmTerms()
    # The service API: referrals to discharge, work orders, figures (api.py).
    app.router.add_post("/api/service/applications", api.submit_application)
    app.router.add_post("/api/service/applications/status", api.application_status)
    app.router.add_get("/api/service/referrals", api.list_referrals)
    app.router.add_post("/api/service/referrals", api.submit_referral)
    app.router.add_get("/api/service/referrals/{reference}", api.get_referral)
    app.router.add_post("/api/service/referrals/{reference}/assess", api.assess)
    app.router.add_post("/api/service/referrals/{reference}/care-plan", api.edit_care_plan)
    app.router.add_post("/api/service/referrals/{reference}/care-level", api.change_care_level)
    app.router.add_post("/api/service/referrals/{reference}/work-order", api.create_work_order)
    app.router.add_post("/api/service/referrals/{reference}/address-form", api.change_address_form)
    app.router.add_post("/api/service/referrals/{reference}/suspend", api.suspend)
    app.router.add_post("/api/service/referrals/{reference}/resume", api.resume)
    app.router.add_post("/api/service/referrals/{reference}/discharge", api.discharge)
    app.router.add_post("/api/service/referrals/{reference}/review", api.review)
    app.router.add_put("/api/service/referrals/{reference}/contacts", api.update_contacts)
    app.router.add_post("/api/service/referrals/{reference}/faults", api.report_fault)
    app.router.add_post("/api/service/referrals/{reference}/devices", api.add_device)
    app.router.add_delete(
        "/api/service/referrals/{reference}/devices/{device_id}", api.remove_device
    )
    app.router.add_get("/api/service/maintenance", api.list_maintenance)
    app.router.add_post("/api/service/maintenance/{order_id}/repair", api.repair)
    app.router.add_get("/api/service/work-orders", api.list_work_orders)
    app.router.add_get("/api/service/work-orders/{order_id}", api.get_work_order)
    app.router.add_post("/api/service/work-orders/{order_id}/start", api.start_work_order)
    app.router.add_post("/api/service/work-orders/{order_id}/devices", api.pair_device)
    app.router.add_post("/api/service/work-orders/{order_id}/items/{item}", api.tick_item)
    app.router.add_post("/api/service/work-orders/{order_id}/confirm", api.confirm_work_order)
    app.router.add_get("/api/service/figures", api.figures)
    app.router.add_get("/api/service/reviews", api.list_reviews_due)
    app.router.add_get("/api/service/residents/{resident_id}/paused", api.resident_paused)
    # Consent and the circle, on the service pages (consent.py).
    app.router.add_post(
        "/api/service/referrals/{reference}/consent/social-record", consent.change_social_record
    )
    circle = "/api/service/referrals/{reference}/circle/{link_id}"
    app.router.add_put(circle, consent.change_circle_member)
    app.router.add_delete(circle, consent.remove_circle_member)
    app.router.add_post("/api/service/referrals/{reference}/circle/codes", consent.make_circle_code)
    # The service pages and their static files (pages.py).
    app.router.add_static(pages.STATIC_PREFIX, pages.HERE / "static", name="service-static")
    app.router.add_get("/service/apply", pages.apply_page)
    app.router.add_get("/service/status", pages.status_page)
    app.router.add_get("/service", pages.list_page)
    app.router.add_get("/service/referrals/new", pages.new_referral_page)
    app.router.add_get("/service/referrals/{reference}", pages.referral_page)
    app.router.add_get("/service/work-orders", pages.work_orders_page)
    app.router.add_get("/service/work-orders/{order_id}", pages.work_order_page)
    app.router.add_get("/service/figures", pages.figures_page)
    # Per-resident rules on the card (resident_rules.py).
    app.router.add_get("/api/service/residents/{resident_id}/rules", resident_rules.get_rules)
    app.router.add_post("/api/service/residents/{resident_id}/rules", resident_rules.edit_rules)
    on_tablet_paired(app, link_paired_tablet)
    app.cleanup_ctx.append(_sweep_ctx)
