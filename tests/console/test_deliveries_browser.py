"""The resident card lists what the centre sent to the tablet and what became of it (issue 22,
item 4; ADR 0163), and follows the tablet's answers without a reload: the story's insulin
reminder of last night, put off and never confirmed, still says it was put off; a reminder
put off now says when it rings again, then turns acknowledged when she confirms it.

Chromium at 1366x768 on the operator screenshots' demo hub, in Catalan and English."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.ingest.delivery import DeliveryTracker, Outgoing, forget, record
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
        ("ca", ("Confirmat", "Mostrat i dit", "Caducat sense resposta",
                "Havia premut «Recorda-m'ho més tard» (fins a les 20:10)",
                "tornarà a sonar a les")),
        ("en", ("Acknowledged", "Shown and spoken", "Expired unanswered",
                "They had pressed “Remind me later” (until 20:10)", "it rings again at")),
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
    command_id = ""
    try:
        async with page.expect_navigation():
            await page.click(f"[data-ta-lang='{lang}']")
        await page.wait_for_selector("#card-messages [data-put-off]", timeout=TIMEOUT_MS)
        rid = int(
            (
                await page.locator("#card-messages li[data-delivery]").first.get_attribute(
                    "data-delivery"
                )
                or ""
            ).split("-")[1]
        )
        # A reminder sent now and put off ("remind me later"): it rings again in 10 minutes.
        at = app[CLOCK]()
        command_id = f"now-{rid}-{lang}"
        async with app[SESSIONMAKER]() as session:
            await record(
                session,
                Outgoing(command_id, f"demo-tablet-{rid}", rid, "medication", "insulina",
                         at, at + timedelta(minutes=45)),
            )  # fmt: skip
            await session.commit()
        tracker = DeliveryTracker(lambda: app[SESSIONMAKER])
        again, second = at + timedelta(minutes=10), timedelta(seconds=1)
        await tracker.handle_ack(
            IngestedAck(f"demo-tablet-{rid}", f"later-{lang}", at, at,
                        Ack(command_id=command_id, ok=True, state="postponed", until=again))
        )  # fmt: skip
        # The card's list is read once on opening it: open it again to see the new command.
        await page.reload()
        await page.wait_for_selector("#card-messages [data-until]", timeout=TIMEOUT_MS)
        section = page.locator("#card-messages")
        shown = await section.inner_text()
        for word in words:
            assert word in shown, (word, shown)
        states = await page.eval_on_selector_all(
            "#card-messages li[data-delivery]", "els => els.map(e => e.dataset.state)"
        )
        # Newest first: the one put off now, the agenda reminder, the message, this morning's
        # insulin, the cold warning and last night's insulin.
        assert states == ["postponed", "shown", "acknowledged", "acknowledged", "expired",
                          "expired"]  # fmt: skip
        last_night = page.locator(f"#card-messages li[data-delivery='{ids[rid][0]}']")
        assert await last_night.locator("[data-put-off]").count() == 1
        until = (await page.locator("#card-messages [data-until]").inner_text()).strip()
        assert until.endswith(
            await page.evaluate(
                "iso => new Intl.DateTimeFormat(document.documentElement.lang,"
                " {timeZone: 'Europe/Madrid', hour: '2-digit', minute: '2-digit',"
                " hourCycle: 'h23'}).format(new Date(iso))",
                again.isoformat(),
            )
        ), until
        await page.screenshot(path=str(tmp_path / f"card-messages-{lang}.png"))

        # The resident confirms on the tablet: the card follows without a reload.
        await tracker.handle_ack(
            IngestedAck(f"demo-tablet-{rid}", f"ok-{lang}", at + second, at + second,
                        Ack(command_id=command_id, ok=True, state="acknowledged"))
        )  # fmt: skip
        await page.wait_for_selector(
            f"#card-messages li[data-delivery='{command_id}'][data-state='acknowledged']",
            timeout=TIMEOUT_MS,
        )
        assert await page.locator("#card-messages [data-until]").count() == 0
    finally:
        await page.context.close()
        async with app[SESSIONMAKER]() as session:  # the other language's run sees the story
            await forget(session, command_id)
            await session.commit()


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("ca", "havia de tornar a sonar a les 10:20, encara sense confirmar"),
        ("en", "it was to ring again at 10:20, not confirmed yet"),
    ],
)
async def test_a_reminder_put_off_until_a_time_gone_by_does_not_say_it_rings_again(
    chromium: Browser, story: tuple[Any, str, dict[int, list[str]]], lang: str, said: str
) -> None:
    """Put off at 10:10 until 10:20 and no newer word from the tablet by 10:30: the card does
    not promise a ring at a time already gone."""
    app, url, ids = story
    rid = next(iter(ids))
    now = app[CLOCK]()
    sent, command_id = now - timedelta(minutes=20), f"gone-{rid}-{lang}"
    async with app[SESSIONMAKER]() as session:
        await record(
            session,
            Outgoing(command_id, f"demo-tablet-{rid}", rid, "medication", "insulina",
                     sent, sent + timedelta(minutes=45)),
        )  # fmt: skip
        await session.commit()
    tracker = DeliveryTracker(lambda: app[SESSIONMAKER])
    await tracker.handle_ack(
        IngestedAck(f"demo-tablet-{rid}", f"gone-{lang}", sent, sent,
                    Ack(command_id=command_id, ok=True, state="postponed",
                        until=sent + timedelta(minutes=10)))
    )  # fmt: skip
    page = await shots._sign_in(chromium, url, "laia", lang, SIZE)
    try:
        async with page.expect_navigation():
            await page.click(f"[data-ta-lang='{lang}']")
        line = page.locator(f"#card-messages li[data-delivery='{command_id}'] [data-until]")
        await line.wait_for(timeout=TIMEOUT_MS)
        text = await line.inner_text()
        assert said in text, text
    finally:
        await page.context.close()
        async with app[SESSIONMAKER]() as session:
            await forget(session, command_id)
            await session.commit()
