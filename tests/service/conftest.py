"""Service tests drive confirmation themselves: the background sweep is slowed down so
it never races a test's own requests (the browser test sets its own interval)."""

from __future__ import annotations

import pytest
from aiohttp import web

from hub.app import create_app
from hub.clock import ManualClock
from hub.service.app import SERVICE_SETTINGS, ServiceSettings
from hub.settings import HubSettings


@pytest.fixture
def hub_app(hub_settings: HubSettings, hub_clock: ManualClock) -> web.Application:
    """The hub with a sweep that waits an hour between rounds."""
    app = create_app(hub_settings, clock=hub_clock)
    app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=3600)
    return app
