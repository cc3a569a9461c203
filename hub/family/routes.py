"""The family network's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``)."""

from __future__ import annotations

from aiohttp import web

from hub.appkeys import SETTINGS
from hub.family import circles, conversations, media_routes
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.settings import FAMILY_SETTINGS, MEDIA_STORE, SECTION, FamilySettings
from hub.media import LocalDiskStore
from teleassist.config import load_config


def setup(app: web.Application) -> None:
    """Settings, media store, live hub and every ``/api/family`` route."""
    if FAMILY_SETTINGS not in app:
        app[FAMILY_SETTINGS] = load_config().section(SECTION, FamilySettings)
    if MEDIA_STORE not in app:
        app[MEDIA_STORE] = LocalDiskStore(app[FAMILY_SETTINGS].media_path(app[SETTINGS].data_path))
    app[LIVE_HUB] = LiveHub()
    circles.setup_routes(app)
    conversations.setup_routes(app)
    media_routes.setup_routes(app)
