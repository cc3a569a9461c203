"""Real processes, degraded and back: the hub (``teleassist hub serve``), a private
Mosquitto with persistence, a private PostgreSQL cluster, and the operator console in
headless Chromium (English and Catalan).

1. The broker is restarted while panics wait in it for the hub (the hub was down): they
   survive in the broker's persistence and each becomes one alarm once both are back.
   Meanwhile the hub runs without a broker, and the console says so.
2. PostgreSQL stops while panics arrive: ingestion keeps them unacknowledged (the broker
   still holds them), the console shows the database banner; PostgreSQL starts again and
   every panic becomes one alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from hub.auth import Role, create_user
from hub.db import make_engine, make_sessionmaker
from hub.db.migrate import upgrade_to_head
from protocol import Channel, Panic
from teleassist.localbroker import MosquittoBroker, free_port, write_mosquitto_config
from tests.hub.alarms.realhub import (
    all_alarms,
    login,
    start_hub,
    stop_hub,
    wait_for_alarms,
    wait_ready,
)
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import Publisher, seed_home
from tests.hub.privatepg import PrivatePostgres, postgres_bin

pytestmark = [
    pytest.mark.broker,
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
]
TIMEOUT = 60_000  # ms, for the browser: the hub reconnects with back-off
SHOTS = Path(os.environ.get("TELEASSIST_TEST_SHOTS", tempfile.gettempdir())) / "degraded"


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    if postgres_bin() is None:
        pytest.fail("PostgreSQL server binaries are missing; run scripts/setup")
    # Not under pytest's tmp (mode 0700 for root): the server runs as ``postgres``.
    directory = Path(tempfile.mkdtemp(prefix="ta-pg-"))
    cluster = PrivatePostgres(directory)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private Mosquitto that keeps sessions and queued messages across a restart."""
    directory = tmp_path / "mqtt"
    directory.mkdir()
    port = free_port()
    extra = [
        "persistence true",
        f"persistence_location {directory}/",
        "sys_interval 1",
    ]
    if os.geteuid() == 0:
        extra.append("user root")  # it would switch to ``mosquitto``, who cannot write here
    broker = MosquittoBroker(port, write_mosquitto_config(directory, port, extra="\n".join(extra)))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class StoreCount:
    """The broker's own count of messages it holds (``$SYS``, refreshed every second).

    The count includes the broker's own ``$SYS`` messages, and that tree changes for some
    seconds after a (re)start (a persistent broker first reloads the old tree): a count
    taken then is no baseline (a CI run compared the held panics against one and waited for
    ever). :meth:`settled` waits for a count that stayed the same for a few seconds."""

    STORE, UPTIME = "$SYS/broker/store/messages/count", "$SYS/broker/uptime"

    def __init__(self, broker: MosquittoBroker) -> None:
        self.broker = broker
        self.value: int | None = None
        self.seconds: list[int | None] = []  # the count at each of the broker's seconds
        self.changed = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
                    await client.subscribe([(self.STORE, 0), (self.UPTIME, 0)])
                    async for message in client.messages:
                        if message.topic.matches(self.STORE):
                            self.value = int(bytes(message.payload))  # type: ignore[arg-type]
                        else:
                            self.seconds = [*self.seconds[-9:], self.value]
                        self.changed.set()
            except aiomqtt.MqttError:
                self.value, self.seconds = None, []
                await asyncio.sleep(0.5)

    async def wait(self, check: Any, timeout: float = 60) -> int:
        """The count once ``check`` holds for it."""
        async with asyncio.timeout(timeout):
            while self.value is None or not check(self.value):
                self.changed.clear()
                await self.changed.wait()
        return self.value

    async def settled(self, check: Any = lambda _: True, timeout: float = 60) -> int:
        """The count once it stayed the same for three of the broker's seconds and
        ``check`` holds for it."""
        async with asyncio.timeout(timeout):
            while True:
                last = self.seconds[-3:]
                steady = len(last) == 3 and len(set(last)) == 1
                if steady and last[0] is not None and check(last[0]):
                    return last[0]
                self.changed.clear()
                await self.changed.wait()


async def _create_database(cluster: PrivatePostgres, name: str) -> str:
    conn = await asyncpg.connect(host=cluster.host, port=cluster.port, user="postgres")
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return cluster.url(name)


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _console(browser: Browser, base: str, username: str, live: str) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT)
    await page.goto(base + "/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(TEST_PASSWORD)
    await page.locator("#signin-submit").click()
    await page.wait_for_url(lambda url: not url.endswith("/login"))
    if not page.url.endswith("/console"):
        await page.goto(base + "/console")
    await expect(page.locator("#conn")).to_have_text(live)
    return page


async def _shot(pages: dict[str, Page], name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for lang, page in pages.items():
        await page.screenshot(path=str(SHOTS / f"{name}-{lang}.png"))


async def _banner_shows(pages: dict[str, Page], problem: str | None) -> None:
    """Wait until every console shows ``problem`` (a selector) in its health banner, or no
    banner when None. The page asks /readyz every 5 s: ask it now, as a page brought to the
    foreground does, and allow for a reply that was in flight when the hub changed (the
    next poll corrects it); ``expect``'s own 5 s default is shorter than one poll."""
    for page in pages.values():
        await page.evaluate("window.__taHealth()")
        if problem is None:
            await expect(page.locator("#hub-health")).to_be_hidden(timeout=TIMEOUT)
        else:
            await expect(page.locator(problem)).to_be_visible(timeout=TIMEOUT)


async def test_broker_restart_and_database_outage_lose_nothing_and_show_on_the_console(
    private_pg: PrivatePostgres,
    persistent_broker: MosquittoBroker,
    tmp_path: Path,
    chromium: Browser,
    http: aiohttp.ClientSession,
) -> None:
    broker = persistent_broker
    tag = secrets.token_hex(4)
    url = await _create_database(private_pg, "teleassist")
    await upgrade_to_head(url)
    db = make_engine(url)
    devices = [f"{tag}-p{n}" for n in range(7)]
    homes: dict[str, str] = {}
    try:
        sessions = make_sessionmaker(db)
        for device in devices:
            home_id, _ = await seed_home(sessions, {device: "pendant"})
            homes[device] = str(home_id)
        async with sessions() as session:
            await create_user(session, "anna", TEST_PASSWORD, Role.OPERATOR, language="en")
            await create_user(session, "jordi", TEST_PASSWORD, Role.OPERATOR, language="ca")
            await session.commit()
    finally:
        await db.dispose()
    data_dir, log = tmp_path / "data", tmp_path / "hub.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fast_reconnect = {"TELEASSIST_MQTT__KEEPALIVE_S": "5"}
    hub = start_hub(url, data_dir, broker, port, tag, log, fast_reconnect)
    counter = StoreCount(broker)
    watcher = asyncio.create_task(counter.run())
    sent: dict[str, str] = {}
    try:
        await wait_ready(http, base, {"code": 200, "broker": "subscribed"})
        pages = {
            "en": await _console(chromium, base, "anna", "Live"),
            "ca": await _console(chromium, base, "jordi", "En directe"),
        }
        banner = {lang: page.locator("#hub-health") for lang, page in pages.items()}
        await expect(banner["en"]).to_be_hidden()
        publisher = Publisher(broker.host, broker.port)
        sent[devices[0]] = publisher.send(devices[0], Channel.EVENT, Panic())
        token = await login(http, base, "anna")
        await wait_for_alarms(http, base, token, 1)

        # 1. The hub stops (cleanly: its session stays at the broker) and three panics
        #    wait in the broker for it; the broker restarts (SIGTERM: it saves them).
        await stop_hub(hub)
        for device in devices[1:4]:
            sent[device] = publisher.send(device, Channel.EVENT, Panic())
        publisher.close()
        await asyncio.to_thread(broker.stop)
        hub = start_hub(url, data_dir, broker, port, tag, log, fast_reconnect)
        await wait_ready(http, base, {"code": 503, "broker": "disconnected", "database": "ok"})
        await _banner_shows(pages, "#hub-health [data-problem=broker]")
        await expect(banner["en"]).to_contain_text("No connection to the MQTT broker since")
        await expect(banner["ca"]).to_contain_text("Sense connexió amb el broker MQTT des de")
        await _shot(pages, "broker-down")
        await asyncio.to_thread(broker.start)
        await wait_ready(http, base, {"code": 200, "broker": "subscribed"})
        await _banner_shows(pages, None)
        token = await login(http, base, "anna")
        await wait_for_alarms(http, base, token, 4)

        # 2. PostgreSQL stops while three more panics arrive.
        held_before = await counter.settled()
        publisher = Publisher(broker.host, broker.port)
        await asyncio.to_thread(private_pg.stop)
        for device in devices[4:]:
            sent[device] = publisher.send(device, Channel.EVENT, Panic())
        await wait_ready(http, base, {"code": 503, "broker": "subscribed"})
        await _banner_shows(pages, "#hub-health [data-problem=database]")
        await expect(banner["en"]).to_contain_text("The database has not answered since")
        await expect(banner["ca"]).to_contain_text("La base de dades no respon des de")
        # Not acknowledged while they cannot be stored: the broker still holds them.
        held = await counter.settled(lambda n: n >= held_before + 3)
        await _shot(pages, "database-down")
        await asyncio.to_thread(private_pg.start)
        await wait_ready(http, base, {"code": 200, "broker": "subscribed", "database": "ok"})
        await _banner_shows(pages, None)
        # Stored, then acknowledged: the broker lets go of them.
        await counter.wait(lambda n: n <= held - 3)
        publisher.close()
        token = await login(http, base, "anna")
        await wait_for_alarms(http, base, token, len(devices))
        # The banner cleared, so the live socket reconnected at once (ta:hub-ready) and
        # refetched the queue; under load the handshake may still take a while.
        for page, live in ((pages["en"], "Live"), (pages["ca"], "En directe")):
            await expect(page.locator("#conn")).to_have_text(live, timeout=TIMEOUT)
            await expect(page.locator(".qitem")).to_have_count(len(devices), timeout=TIMEOUT)
        await _shot(pages, "recovered")
        alarms = await all_alarms(http, base, token)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await stop_hub(hub)
    by_home: dict[str, list[dict[str, Any]]] = {}
    for alarm in alarms:
        by_home.setdefault(alarm["home_id"], []).append(alarm)
    assert sorted(by_home) == sorted(homes.values()), log.read_text()[-3000:]
    for device, message_id in sent.items():
        (alarm,) = by_home[homes[device]]
        assert alarm["rule"] == "panic"
        assert alarm["event_ids"] == [message_id]
