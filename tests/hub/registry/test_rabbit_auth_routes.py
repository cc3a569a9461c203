"""The broker's HTTP auth backend served by the hub (docs/adr/0146): every answer, every refusal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hub.app import SESSIONMAKER, create_app
from hub.clock import ManualClock
from hub.db.models import Device, Home
from hub.registry.credentials import mosquitto_hash
from hub.registry.rabbit import HIDE_AUTH_TOKEN, DeviceAuthority
from hub.settings import HubSettings

TOKEN = "s3cret-token"


async def _client(aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock) -> Any:
    settings = msgspec.structs.replace(
        hub_settings, ingest_transport="rabbitmq", broker_auth_token=TOKEN
    )
    client = await aiohttp_client(create_app(settings, clock=hub_clock))
    async with client.app[SESSIONMAKER]() as session:
        home = Home(address="Carrer Major 3")
        session.add(home)
        await session.flush()
        secret = mosquitto_hash("s1")
        session.add_all(
            [
                Device(id="gw.1", home_id=home.id, type="gateway", secret_hash=secret),
                Device(id="pir1", home_id=home.id, type="motion", gateway_id="gw.1"),
                Device(id="other", home_id=home.id, type="gateway", secret_hash=secret),
                Device(
                    id="old", home_id=home.id, type="gateway", secret_hash=secret, state="revoked"
                ),
                Device(id="nokey", home_id=home.id, type="gateway"),
            ]
        )
        await session.commit()
    return client


async def _ask(client: Any, kind: str, token: str = TOKEN, **form: str) -> tuple[int, str]:
    response = await client.post(f"/broker-auth/{token}/{kind}", data=form)
    return response.status, await response.text()


async def test_without_the_token_nothing_is_answered(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock
) -> None:
    client = await _client(aiohttp_client, hub_settings, hub_clock)
    form = {"username": "gw.1", "password": "s1", "client_id": "gw.1"}
    assert (await _ask(client, "user", **form)) == (200, "allow")
    assert (await _ask(client, "user", token="wrong", **form))[0] == 404
    assert (await _ask(client, "user", token=TOKEN + "x", **form))[0] == 404
    assert (await _ask(client, "nonsense", **form))[0] == 404


async def test_who_may_connect(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock
) -> None:
    client = await _client(aiohttp_client, hub_settings, hub_clock)
    cases = [
        ({"username": "gw.1", "password": "s1", "client_id": "gw.1"}, "allow"),
        ({"username": "gw.1", "password": "wrong", "client_id": "gw.1"}, "deny"),
        ({"username": "gw.1", "password": "s1", "client_id": "other"}, "deny"),  # not its id
        ({"username": "gw.1", "password": "s1", "client_id": "_hub-p01"}, "deny"),
        ({"username": "old", "password": "s1", "client_id": "old"}, "deny"),  # revoked
        ({"username": "nokey", "password": "", "client_id": "nokey"}, "deny"),
        ({"username": "ghost", "password": "s1", "client_id": "ghost"}, "deny"),
        ({"username": "_hub-p01", "password": "s1", "client_id": "_hub-p01"}, "deny"),
        ({"username": "bad/id", "password": "s1", "client_id": "bad/id"}, "deny"),
    ]
    for form, answer in cases:
        assert (await _ask(client, "user", **form)) == (200, answer), form
    assert (await _ask(client, "vhost", username="gw.1", vhost="/")) == (200, "allow")
    assert (await _ask(client, "vhost", username="gw.1", vhost="other")) == (200, "deny")
    assert (await _ask(client, "vhost", username="old", vhost="/")) == (200, "deny")


async def test_what_a_device_may_touch(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock
) -> None:
    client = await _client(aiohttp_client, hub_settings, hub_clock)
    resources = [
        ("exchange", "amq.topic", "allow"),
        ("exchange", "amq.direct", "deny"),
        ("queue", "mqtt-subscription-gw.1qos1", "allow"),
        ("queue", "mqtt-subscription-gw.1qos0", "allow"),
        ("queue", "mqtt-subscription-otherqos1", "deny"),
        ("queue", "mqtt-subscription-_hub-p01qos1", "deny"),
        ("vhost", "/", "deny"),
    ]
    for kind, name, answer in resources:
        form = {"username": "gw.1", "resource": kind, "name": name, "permission": "configure"}
        assert (await _ask(client, "resource", **form)) == (200, answer), (kind, name)
    topics = [
        ("write", "ta.v1.d.gw/1.event", "allow"),  # '.' in an id is '/' in a routing key
        ("write", "ta.v1.d.pir1.telemetry", "allow"),  # a sensor it relays
        ("write", "ta.v1.d.other.event", "deny"),
        ("write", "ta.v1.d.gw/1.bogus", "deny"),
        ("write", "ta.v1.d.gw/1.event.extra", "deny"),
        ("write", "ta.v1.c.gw/1.ping", "deny"),
        ("read", "ta.v1.c.gw/1.#", "allow"),
        ("read", "ta.v1.c.pir1.event_received", "allow"),
        ("read", "ta.v1.c.*.event_received", "deny"),
        ("read", "ta.v1.c.#", "deny"),
        ("read", "ta.v1.c.other.ping", "deny"),
        ("read", "ta.v1.d.gw/1.event", "deny"),
        ("configure", "ta.v1.d.gw/1.event", "deny"),
    ]
    for permission, key, answer in topics:
        form = {
            "username": "gw.1",
            "resource": "topic",
            "name": "amq.topic",
            "permission": permission,
            "routing_key": key,
        }
        assert (await _ask(client, "topic", **form)) == (200, answer), (permission, key)
    revoked = {"username": "old", "name": "amq.topic", "permission": "write"}
    assert (await _ask(client, "topic", routing_key="ta.v1.d.old.event", **revoked))[1] == "deny"


def test_the_token_never_reaches_the_access_log(tmp_path: Path) -> None:
    record = logging.LogRecord(
        "aiohttp.access", logging.INFO, __file__, 1,
        '127.0.0.1 "POST /broker-auth/%s/user HTTP/1.1" 200', (TOKEN,), None,
    )  # fmt: skip
    assert HIDE_AUTH_TOKEN.filter(record)
    assert TOKEN not in record.getMessage()
    assert "/broker-auth/***/user" in record.getMessage()


class _CountingSessions:
    """Wraps a sessionmaker: how many sessions were open at once, at most."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.open = self.peak = 0

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            async with self.real() as session:
                yield session
        finally:
            self.open -= 1


async def test_questions_that_come_together_share_one_bounded_lookup(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock
) -> None:
    # After a broker node is lost every device reconnects and the nodes ask user, vhost,
    # resource and topic at once: one read per device, and never the whole pool (ADR 0169).
    client = await _client(aiohttp_client, hub_settings, hub_clock)
    sessions = _CountingSessions(client.app[SESSIONMAKER])
    authority = DeviceAuthority(sessions, "hub", lookups=2)  # type: ignore[arg-type]
    same = await asyncio.gather(*(authority.device("gw.1") for _ in range(20)))
    assert authority.reads == 1
    assert all(found is same[0] for found in same)
    assert same[0] is not None
    assert same[0].writes == {"gw/1", "pir1"}  # routing tokens
    many = await asyncio.gather(
        *(authority.device(d) for d in ["other", "old", "nokey", "pir1", "missing", "gw.1"])
    )
    assert [found is not None for found in many] == [True, False, False, False, False, True]
    assert sessions.peak <= 2
    assert authority.reads == 1 + 5  # gw.1 came from the cache


async def test_a_lookup_bound_below_one_is_refused(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock
) -> None:
    client = await _client(aiohttp_client, hub_settings, hub_clock)
    with pytest.raises(ValueError, match="lookups"):
        DeviceAuthority(client.app[SESSIONMAKER], "hub", lookups=0)
