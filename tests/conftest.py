"""Fixtures shared by the whole suite: real services started once per session."""

from __future__ import annotations

import asyncio
import faulthandler
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from teleassist.localbroker import MosquittoBroker, mosquitto_available, running_mosquitto

# Shared, noisy machines: Hypothesis must judge correctness, never speed.
hypothesis_settings.register_profile(
    "teleassist", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("teleassist")


def _dump_asyncio_tasks(signum: int, frame: object) -> None:
    """``kill -USR1 <pytest pid>``: print every task of the running event loop with where it
    waits (a hung fixture teardown shows only ``select`` in a thread dump)."""
    loop = asyncio._get_running_loop()
    if loop is None:
        print("no running event loop", file=sys.stderr)
        return
    for task in asyncio.all_tasks(loop):
        print(f"--- {task.get_name()}: {task!r}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)


signal.signal(signal.SIGUSR1, _dump_asyncio_tasks)
faulthandler.register(signal.SIGUSR2, all_threads=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For pytest-xdist (scripts/test, docs/adr/0166):

    - tests of the session's 3-node RabbitMQ cluster (the ``rabbit`` fixture of
      tests/scale/conftest.py, or the ``rabbitmq`` marker) run on one worker, so that one
      cluster is started, not one per worker (``tryfirst``: xdist reads the group from the
      marker in its own hook of the same name);
    - in a worker, the ``slow`` tests come first (in their own order, every worker sorting
      alike): the longest ones (benchmarks, screenshots, whole-system tests) are at the end of
      the file order, and one of minutes started last would leave the other worker idle.
    """
    for item in items:
        uses_cluster = "rabbit" in getattr(item, "fixturenames", ())
        if uses_cluster or item.get_closest_marker("rabbitmq") is not None:
            item.add_marker(pytest.mark.xdist_group("rabbitmq"))
    if getattr(config.option, "loadgroup", False):
        for item in items:
            _name_xdist_group(item)
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _name_xdist_group(item: pytest.Item) -> None:
    """Add ``@group`` to a grouped test's id, which is how ``--dist loadgroup`` finds groups.

    pytest-xdist 3.8 does it by setting ``item._nodeid``, which pytest 9.2 no longer reads (its
    ids are structured, ``item._id``): every group was silently spread over both workers
    (pytest-dev/pytest-xdist#1386, fix pending). Where xdist's own suffix still takes, it
    adds a second ``@group``; the scheduler reads the last one, so the group is the same.
    """
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")})  # fmt: skip
    if not names:
        return
    group = "_".join(names)
    grouped = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(grouped)
    else:
        item._nodeid = grouped  # type: ignore[attr-defined]
    if not item.nodeid.endswith(f"@{group}"):
        # Another pytest or xdist may keep the id elsewhere again: stop rather than run the
        # group's tests on both workers without a word (how pytest-xdist#1386 went unseen).
        raise pytest.UsageError(
            f"xdist_group {group!r} did not reach the test id of {item.nodeid}: --dist "
            "loadgroup would spread the group over the workers; see _name_xdist_group"
        )


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id with production costs takes 0.1–0.8 s a hash here and the suite creates
    hundreds of users; in-process hubs use the cheapest profile instead. (Hubs the tests run
    as subprocesses keep the production parameters.)"""
    from argon2 import PasswordHasher, profiles

    from hub.auth import passwords

    original = passwords._HASHER
    passwords._HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
    passwords.dummy_hash.cache_clear()
    try:
        yield
    finally:
        passwords._HASHER = original
        passwords.dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A private anonymous Mosquitto on a free port, shared by the session."""
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed; run scripts/setup")
    directory: Path = tmp_path_factory.mktemp("mosquitto")
    with running_mosquitto(directory) as broker:
        yield broker


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[object]:
    """Debian's headless Chromium through Playwright's async API, shared by the session.

    Browser tests run on the session loop: mark them
    ``pytest.mark.asyncio(loop_scope="session")``. (Playwright's sync API would keep a loop
    running in the main thread and break every later asyncio test.) Typed ``object`` so
    this file needs no Playwright import; tests annotate ``playwright.async_api.Browser``.
    """
    from playwright.async_api import async_playwright

    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH, chromium_available

    if not chromium_available():
        pytest.fail("chromium is not installed; run scripts/setup")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()


# Hub fixtures (database_url over SQLite and PostgreSQL, hub_client, token_for...):
# see tests/hub/fixtures.py and docs/development.md.
from tests.hub.fixtures import (  # noqa: E402, F401
    _postgres_template,
    _sqlite_template,
    auth_headers,
    clock_start,
    database_url,
    empty_database_url,
    hub_app,
    hub_client,
    hub_clock,
    hub_config,
    hub_sessionmaker,
    hub_settings,
    make_user,
    token_for,
)
