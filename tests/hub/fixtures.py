"""Hub fixtures for the whole suite (imported by tests/conftest.py).

- ``database_url``: a fresh, migrated, empty database — PARAMETRIZED over SQLite and
  PostgreSQL, so every test using it runs on both. ``empty_database_url``: same, unmigrated.
- ``hub_settings``, ``hub_clock`` (a :class:`~hub.clock.ManualClock`), ``hub_app``,
  ``hub_client`` (aiohttp test client of a running hub), ``hub_sessionmaker``.
- ``make_user(role, ...)`` and ``token_for(role)`` / ``auth_headers(role)``: async factories.

See docs/development.md.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.clock import ManualClock
from hub.db import upgrade_to_head
from hub.db.models import User
from hub.settings import HubSettings
from teleassist.config import Config, load_config
from tests.instants import DEFAULT_START

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
TEST_PASSWORD = "correct horse battery staple"

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pg_url(name: str) -> str:
    """SQLAlchemy URL of database ``name`` on the test server."""
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


async def _pg_admin(*statements: str) -> None:
    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=30
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def create_pg_database(template: str | None = None) -> str:
    """Create a database with a random name (optionally from ``template``); return its name."""
    name = f"ta_test_{secrets.token_hex(6)}"
    suffix = f" TEMPLATE {template}" if template else ""
    asyncio.run(_pg_admin(f"CREATE DATABASE {name}{suffix}"))
    return name


def drop_pg_database(name: str) -> None:
    """Drop a test database even if a connection was left open."""
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hub-db-template") / "template.sqlite"
    asyncio.run(upgrade_to_head(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    name = create_pg_database()
    try:
        asyncio.run(upgrade_to_head(pg_url(name)))
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest schema, on SQLite and then on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "hub.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = create_pg_database(template=request.getfixturevalue("_postgres_template"))
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all, on SQLite and then on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
        return
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture
def clock_start() -> datetime:
    """Where ``hub_clock`` starts: a fixed instant, never the machine's time. A test that
    depends on the time of day or the date names its instant by parametrizing this fixture:
    ``@pytest.mark.parametrize("clock_start", TIMES_OF_DAY)`` (see ``tests/instants.py``)."""
    return DEFAULT_START


@pytest.fixture
def hub_clock(clock_start: datetime) -> ManualClock:
    """The hub's clock in tests: starts at ``clock_start``, moves only with ``advance``."""
    return ManualClock(clock_start)


@pytest.fixture
def hub_settings(tmp_path: Path, database_url: str) -> HubSettings:
    """Settings of a test hub on ``database_url`` with its files under ``tmp_path``."""
    return HubSettings(
        data_dir=str(tmp_path / "hub-data"),
        database_url=database_url,
        migrate_on_start=False,  # the database fixture is already at head
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
        http_port=0,
        # The weekly signals job would run its start-up catch-up beside the test and add
        # risk events to the outbox at an unforeseeable moment; its own tests switch it on.
        weekly_signals_enabled=False,
    )


@pytest.fixture
def hub_config() -> Config:
    """The parsed configuration handed to the test hub, read as ``teleassist`` reads it.

    Tests configure a section as an operator would, with ``TELEASSIST_<SECTION>__<KEY>``
    (``monkeypatch.setenv`` in a fixture or parameter listed before the hub's).
    """
    return load_config()


@pytest.fixture
def hub_app(
    hub_settings: HubSettings, hub_clock: ManualClock, hub_config: Config
) -> web.Application:
    """The hub application (not started yet; ``hub_client`` starts it)."""
    return create_app(hub_settings, config=hub_config, clock=hub_clock)


@pytest.fixture
async def hub_client(
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]],
    hub_app: web.Application,
) -> TestClient[Any, Any]:
    """A client of the running hub (a real server on a free port)."""
    return await aiohttp_client(hub_app)


@pytest.fixture
def hub_sessionmaker(hub_client: TestClient[Any, Any]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the running hub's database."""
    app: web.Application = hub_client.app
    return app[SESSIONMAKER]


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(hub_sessionmaker: async_sessionmaker[AsyncSession]) -> MakeUser:
    """``await make_user(Role.OPERATOR, username=None, password=TEST_PASSWORD, **kw)``."""

    async def make(
        role: Role, username: str | None = None, password: str = TEST_PASSWORD, **kw: Any
    ) -> User:
        async with hub_sessionmaker() as session:
            user = await create_user(
                session, username or f"{role.value}-{secrets.token_hex(3)}", password, role, **kw
            )
            await session.commit()
            return user

    return make


@pytest.fixture
def token_for(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    hub_clock: ManualClock,
) -> Callable[..., Awaitable[str]]:
    """``await token_for(Role.OPERATOR)``: a new user of that role and its access token."""

    async def token(role: Role, **kw: Any) -> str:
        user = await make_user(role, **kw)
        async with hub_sessionmaker() as session:
            pair = await issue_tokens(session, user, hub_client.app[SETTINGS], hub_clock())
            await session.commit()
        return pair.access_token

    return token


@pytest.fixture
def auth_headers(
    token_for: Callable[..., Awaitable[str]],
) -> Callable[..., Awaitable[dict[str, str]]]:
    """``await auth_headers(Role.ADMIN)``: an ``Authorization`` header for a new user."""

    async def headers(role: Role, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token_for(role, **kw)}"}

    return headers
