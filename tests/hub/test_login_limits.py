"""Sign-in limits (issue 19, high 4): atomic under parallel requests, per address and per
username-and-address, no lock-out of staff from elsewhere, no username oracle. Real
parallel HTTP requests against a running hub on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, ClassVar

import msgspec
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.app import SESSIONMAKER, SETTINGS
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import AuditEntry
from hub.settings import HubSettings
from tests.hub.fixtures import TEST_PASSWORD, MakeUser

Client = TestClient[Any, Any]


@pytest.fixture
def hub_settings(hub_settings: HubSettings) -> HubSettings:
    """The test client is a trusted proxy, so X-Forwarded-For stands for many addresses."""
    return msgspec.structs.replace(hub_settings, trusted_proxies=["127.0.0.1", "::1"])


async def _login(
    client: Client, username: str, password: str = TEST_PASSWORD, address: str = "203.0.113.7"
) -> Any:
    return await client.post(
        "/api/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": f"10.9.9.9, {address}"},  # the left one is not believed
    )


async def _fails(client: Client) -> int:
    async with client.app[SESSIONMAKER]() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "auth.fail")
        )
    return int(count or 0)


async def test_parallel_wrong_passwords_stop_at_the_limit(
    hub_client: Client, make_user: MakeUser
) -> None:
    await make_user(Role.OPERATOR, username="nuria")
    limit = hub_client.app[SETTINGS].max_failed_logins
    responses = await asyncio.gather(
        *[_login(hub_client, "nuria", f"wrong password {n}") for n in range(60)]
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [401] * limit + [429] * (60 - limit)
    assert await _fails(hub_client) == limit  # only those were checked against the hash


async def test_unknown_and_known_usernames_get_the_same_answers(
    hub_client: Client, make_user: MakeUser
) -> None:
    await make_user(Role.OPERATOR, username="olga")
    limit = hub_client.app[SETTINGS].max_failed_logins
    for username in ("olga", "nobody-here"):
        answers = [
            (r.status, (await r.json())["error"])
            for r in [await _login(hub_client, username, "bad password!!", "198.51.100.1")
                      for _ in range(limit + 1)]
        ]  # fmt: skip
        assert answers == [(401, "invalid_credentials")] * limit + [(429, "too_many_attempts")]


async def test_an_attacker_elsewhere_cannot_lock_staff_out(
    hub_client: Client, make_user: MakeUser, hub_clock: ManualClock
) -> None:
    await make_user(Role.OPERATOR, username="pau")
    settings = hub_client.app[SETTINGS]
    for _ in range(3):  # again and again, window after window
        for _ in range(settings.max_failed_logins + 3):
            await _login(hub_client, "pau", "guessing guessing", "192.0.2.66")
        assert (await _login(hub_client, "pau", "guessing", "192.0.2.66")).status == 429
        # Pau at the centre signs in as usual.
        assert (await _login(hub_client, "pau", address="10.20.0.5")).status == 200
        hub_clock.advance(timedelta(seconds=settings.lockout_s))


async def test_one_address_is_limited_whatever_the_username(
    hub_client: Client, make_user: MakeUser
) -> None:
    await make_user(Role.OPERATOR, username="quim")
    settings = hub_client.app[SETTINGS]
    per_address = settings.login_max_failures_per_address
    sprayed = [
        (await _login(hub_client, f"user-{n}", "spray password", "192.0.2.99")).status
        for n in range(per_address + 2)
    ]
    assert sprayed == [401] * per_address + [429] * 2
    # Even the right password of a real user waits at that address; others do not.
    assert (await _login(hub_client, "quim", address="192.0.2.99")).status == 429
    assert (await _login(hub_client, "quim", address="192.0.2.100")).status == 200


async def test_good_sign_ins_do_not_use_up_the_address(
    hub_client: Client, make_user: MakeUser
) -> None:
    await make_user(Role.OPERATOR, username="rita")
    settings = hub_client.app[SETTINGS]
    for _ in range(settings.login_max_failures_per_address + 5):
        assert (await _login(hub_client, "rita", address="10.20.0.9")).status == 200


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    hub_client: Client, make_user: MakeUser
) -> None:
    from hub.http import client_address

    class _Req:
        remote = "192.0.2.1"
        headers: ClassVar[dict[str, str]] = {"X-Forwarded-For": "10.0.0.1"}

    assert client_address(_Req(), ["127.0.0.1"]) == "192.0.2.1"  # type: ignore[arg-type]
    _Req.remote = "127.0.0.1"
    assert client_address(_Req(), ["127.0.0.1"]) == "10.0.0.1"  # type: ignore[arg-type]
    _Req.headers = {"X-Forwarded-For": "10.0.0.1, 127.0.0.1"}
    assert client_address(_Req(), ["127.0.0.1"]) == "10.0.0.1"  # type: ignore[arg-type]
    _Req.headers = {}
    assert client_address(_Req(), ["127.0.0.1"]) == "127.0.0.1"  # type: ignore[arg-type]
