"""A Prometheus scraper reads ``/metrics`` with the configured ``hub.metrics_token``."""

from __future__ import annotations

import msgspec
import pytest

from hub.settings import HubSettings


@pytest.fixture
def hub_settings(hub_settings: HubSettings) -> HubSettings:
    return msgspec.structs.replace(hub_settings, metrics_token="scrape-token-for-tests")


async def test_a_scraper_uses_the_metrics_token(hub_client) -> None:
    ok = await hub_client.get(
        "/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"}
    )
    assert ok.status == 200
    assert "teleassist_alarms_open" in await ok.text()
    for wrong in (
        "Bearer scrape-token-for-test",
        "Bearer scrape-token-for-testsX",
        "scrape-token-for-tests",
        "Basic x",
    ):
        assert (await hub_client.get("/metrics", headers={"Authorization": wrong})).status == 401
