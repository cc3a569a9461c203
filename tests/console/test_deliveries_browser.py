"""The resident card lists what the centre sent to the tablet and what became of it (issue 22,
item 4; ADR 0163), and follows the tablet's answers without a reload: the insulin reminder the
resident put off says when it rings again, then turns acknowledged when they confirm it.

Chromium at 1366x768 on the operator screenshots' demo hub, in Catalan and English."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.ingest.delivery import DeliveryTracker, TabletDelivery
from hub.ingest.events import IngestedAck
from hub.web.serve import serving
from protocol import Ack
from teleassist.screenshots import operator as shots

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000
SIZE = {"width": 1366, "height": 768}


@pytest_asyncio.fixture(loop_scope="session")
async def story() -> AsyncIterator[tuple[Any, str, dict[int, list[str]]]]:
    with tempfile.TemporaryDirectory(prefix="ta-deliveries-") as tmp:
        app, _ = await shots._seeded_hub(Path(tmp))
        async with serving(app) as url:
            seeded = await shots._seed(app, url)
            ids = await shots.deliveries_setup(app, seeded["ids"].residents[:3])
            yield app, url, ids


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("ca", ("Confirmat", "Mostrat i dit", "Ajornat", "Caducat sense resposta",
                "tornarà a sonar a les")),
        ("en", ("Acknowledged", "Shown and spoken", "Put off", "Expired unanswered",
                "it rings again at")),
    ],
)  # fmt: skip
async def test_the_card_shows_each_message_and_follows_the_tablet(
    chromium: Browser,
    story: tuple[Any, str, dict[int, list[str]]],
    lang: str,
    words: tuple[str, ...],
    tmp_path: Path,
) -> None:
    app, url, ids = story
    page = await shots._sign_in(chromium, url, "laia", lang, SIZE)
    try:
        async with page.expect_navigation():
            await page.click(f"[data-ta-lang='{lang}']")
        await page.wait_for_selector("#card-messages [data-until]", timeout=TIMEOUT_MS)
        section = page.locator("#card-messages")
        shown = await section.inner_text()
        for word in words:
            assert word in shown, (word, shown)
        states = await page.eval_on_selector_all(
            "#card-messages li[data-delivery]", "els => els.map(e => e.dataset.state)"
        )
        # Newest first: the insulin put off, the agenda reminder, the message, the warning.
        assert states == ["postponed", "shown", "acknowledged", "expired"]
        rid = int(
            (
                await section.locator("li[data-delivery]").first.get_attribute("data-delivery")
                or ""
            ).split("-")[1]
        )
        command_id = ids[rid][2]
        async with app[SESSIONMAKER]() as session:
            row = await session.get(TabletDelivery, command_id)
        assert row is not None
        assert row.until is not None
        until = (await page.locator("#card-messages [data-until]").inner_text()).strip()
        assert until.endswith(
            await page.evaluate(
                "iso => new Intl.DateTimeFormat(document.documentElement.lang,"
                " {timeZone: 'Europe/Madrid', hour: '2-digit', minute: '2-digit',"
                " hourCycle: 'h23'}).format(new Date(iso))",
                row.until.isoformat(),
            )
        ), until
        await page.screenshot(path=str(tmp_path / f"card-messages-{lang}.png"))

        # The resident confirms on the tablet: the card follows without a reload.
        at = app[CLOCK]()
        tracker = DeliveryTracker(lambda: app[SESSIONMAKER])
        await tracker.handle_ack(
            IngestedAck(f"demo-tablet-{rid}", f"ok-{lang}", at, at,
                        Ack(command_id=command_id, ok=True, state="acknowledged"))
        )  # fmt: skip
        await page.wait_for_selector(
            f"#card-messages li[data-delivery='{command_id}'][data-state='acknowledged']",
            timeout=TIMEOUT_MS,
        )
        assert await page.locator("#card-messages [data-until]").count() == 0
    finally:
        await page.context.close()
