"""An operator or supervisor writes a message to the resident's tablet from the card (issue
22): an empty or over-long text is refused in words before anything is sent; a message sent
to be read only, with "I've read it" asked, reaches the tablet's model (not spoken, the
confirmation button shown), and the card follows it to shown and acknowledged without a
reload. A social worker (read-only) sees the list without the form, and an older tablet's
reminder as received (it cannot confirm), not expired.

Chromium at 1366x768 on the operator screenshots' demo hub, served over HTTP and running on
the session's Mosquitto: the hub's command channel publishes the message to the broker, a
tablet-side client there hands it to the tablet's model, and the model's answers go back as
``ack`` messages through the broker to the hub's ingestion and its ack listener."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.db.models import Device, Resident
from hub.ingest import delivery
from hub.ingest.app import MQTT_CLIENT
from hub.ingest.delivery import DeliveryTracker
from hub.ingest.events import IngestedAck
from hub.web.serve import serving
from protocol import (
    Ack,
    Channel,
    PlayMessage,
    decode_command,
    device_topic,
    encode,
    envelope,
    new_message_id,
)
from tablet_app.model import Report, Screen, Speak, TabletModel
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker
from teleassist.screenshots import operator as shots

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000
SIZE = {"width": 1366, "height": 768}
SHOTS = Path(tempfile.gettempdir()) / "ta-message-form"

WORDS = {
    "ca": {
        "empty": "Escriviu el missatge abans d'enviar-lo.",
        "long": "El missatge és massa llarg: 520 caràcters, com a màxim 500.",
        "acknowledged": "Confirmat",
        "silent": "Mostrat (sense veu)",
        "sent": "Missatge enviat a la tauleta.",
    },
    "es": {
        "empty": "Escriba el mensaje antes de enviarlo.",
        "long": "El mensaje es demasiado largo: 520 caracteres, como máximo 500.",
        "acknowledged": "Confirmado",
        "silent": "Mostrado (sin voz)",
        "sent": "Mensaje enviado a la tableta.",
    },
    "en": {
        "empty": "Write the message before sending it.",
        "long": "The message is too long: 520 characters, at most 500.",
        "acknowledged": "Acknowledged",
        "silent": "Shown (not spoken)",
        "sent": "Message sent to the tablet.",
    },
}


@dataclass
class Tablets:
    """The story's tablets on the broker: the commands the hub published to them, and their
    answers sent back the way a tablet sends them (an ``ack`` envelope on its own topic)."""

    client: aiomqtt.Client
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def receive(self) -> None:
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            async with self.arrived:
                self.messages.append((str(message.topic), payload))
                self.arrived.notify_all()

    async def wait_for(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_MS / 1000), self.arrived:
            await self.arrived.wait_for(check)

    async def answer(self, device: str, ack: Ack, now: Any) -> None:
        message = envelope(ack, id=new_message_id(), ts=now, seq=next(self.seq))
        await self.client.publish(device_topic(device, Channel.ACK), encode(message), qos=1)


@dataclass
class Story:
    app: Any
    url: str
    tablets: Tablets


@pytest_asyncio.fixture(loop_scope="session")
async def story(mosquitto: MosquittoBroker) -> AsyncIterator[Story]:
    prefix = f"mf{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="ta-message-form-") as tmp:
        app, _ = await shots._seeded_hub(
            Path(tmp),
            mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port),
            ingest_client_id=f"hub-{prefix}",
            ingest_share_group=f"g{prefix}",
            ingest_flush_interval_s=0.05,
        )
        async with serving(app) as url:
            async with asyncio.timeout(30):
                await app[MQTT_CLIENT].subscribed.wait()
            seeded = await shots._seed(app, url)
            # Each story home gets a tablet to write to.
            async with app[SESSIONMAKER]() as session:
                for rid in seeded["ids"].residents[:3]:
                    resident = await session.get(Resident, rid)
                    assert resident is not None
                    session.add(
                        Device(id=f"demo-tablet-{rid}", home_id=resident.home_id, type="tablet")
                    )
                await session.commit()
            # An insulin reminder an older tablet received two hours ago (its plain ack says
            # nothing more, ever): not to be shown as expired.
            first = seeded["ids"].residents[0]
            at = app[CLOCK]() - timedelta(hours=2)
            async with app[SESSIONMAKER]() as session:
                await delivery.record(
                    session,
                    delivery.Outgoing(
                        "older-1", f"demo-tablet-{first}", first, "medication", "insulina",
                        at, at + timedelta(minutes=30),
                    ),
                )  # fmt: skip
                await session.commit()
            plain = Ack(command_id="older-1", ok=True)
            await DeliveryTracker(lambda: app[SESSIONMAKER]).handle_ack(
                IngestedAck(f"demo-tablet-{first}", "older-ack", at, at, plain)
            )
            async with aiomqtt.Client(
                mosquitto.host, mosquitto.port, identifier=f"{prefix}-tablets"
            ) as client:
                await client.subscribe("ta/v1/c/+/play_message", qos=1)
                tablets = Tablets(client)
                receiving = asyncio.create_task(tablets.receive())
                try:
                    yield Story(app, url, tablets)
                finally:
                    receiving.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await receiving


async def _open_card(chromium: Browser, story: Story, user: str, lang: str) -> Page:
    page = await shots._sign_in(chromium, story.url, user, lang, SIZE)
    await page.goto(f"{story.url}/console")  # a social worker's home is the visor
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector("#card-messages #delivery-list", timeout=TIMEOUT_MS)
    await page.evaluate("document.getElementById('card-messages').scrollIntoView({block: 'start'})")
    return page


async def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.wait_for_timeout(150)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
async def test_a_supervisor_writes_to_the_tablet_and_sees_it_read(
    chromium: Browser, story: Story, lang: str
) -> None:
    words = WORDS[lang]
    before = len(story.tablets.messages)
    page = await _open_card(chromium, story, "laia", lang)
    try:
        box = page.locator("#msg-text")
        error = page.locator("#msg-error")
        # Nothing written: said in words, nothing sent.
        await box.fill("   ")
        await page.click("#msg-send")
        await error.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert (await error.inner_text()).strip() == words["empty"]
        assert await box.get_attribute("aria-invalid") == "true"
        await _shoot(page, f"empty-{lang}")
        # Over the limit: says how long it is and the most it may be.
        await box.fill("x" * 520)
        assert (await page.locator("#msg-count").inner_text()).startswith("520")
        await page.click("#msg-send")
        await page.wait_for_function(
            "w => document.getElementById('msg-error').textContent === w", arg=words["long"]
        )
        await _shoot(page, f"long-{lang}")

        # A message to be read, not spoken, with "I've read it" asked.
        text = f"La infermera ve a les 11 ({lang})"
        await box.fill(text)
        assert await error.is_hidden()  # the words go once the text is right
        await page.uncheck("#msg-speak")
        await page.check("#msg-confirm")
        await page.click("#msg-send")
        line = page.locator("#delivery-list li[data-delivery]", has_text=text)
        await line.wait_for(timeout=TIMEOUT_MS)
        assert await line.get_attribute("data-state") == "sent"
        assert (await page.locator("#detail-notice").inner_text()).strip() == words["sent"]
        assert await box.input_value() == ""  # the form is ready for the next one
        # Through the broker to the tablet; the refused texts never went (the hub publishes
        # in order, so they would have arrived first).
        await story.tablets.wait_for(lambda: len(story.tablets.messages) > before)
        [(topic, payload)] = story.tablets.messages[before:]
        command = decode_command(payload, now=story.app[CLOCK]())
        assert command.body == PlayMessage(
            text=text, language=command.body.language, speak=False, confirm=True
        )
        device = topic.split("/")[3]

        # The tablet shows it (silently, with "I've read it"), then the resident presses it.
        tablet = TabletModel(language=lang)
        tablet.on_command(command.body, story.app[CLOCK](), command.id)
        assert tablet.screen is Screen.NOTICE
        assert tablet.notice_confirm
        effects = tablet.take_effects()
        assert not [e for e in effects if isinstance(e, Speak)]
        at = story.app[CLOCK]()

        async def report(effects: list[Any], step: int) -> None:
            # What the tablet's link does with a Report: an ack on its topic, via the broker.
            for e in effects:
                if isinstance(e, Report):
                    body = Ack(command_id=e.command_id, ok=True, state=e.state, until=e.until)
                    await story.tablets.answer(device, body, at + timedelta(seconds=step))

        await report(effects, 1)
        await page.wait_for_selector(
            f"#delivery-list li[data-delivery='{command.id}'][data-state='shown']",
            timeout=TIMEOUT_MS,
        )
        assert words["silent"] in await line.inner_text()
        tablet.close_notice()
        await report(tablet.take_effects(), 2)
        await page.wait_for_selector(
            f"#delivery-list li[data-delivery='{command.id}'][data-state='acknowledged']",
            timeout=TIMEOUT_MS,
        )
        assert words["acknowledged"] in await line.inner_text()
        await _shoot(page, f"acknowledged-{lang}")
    finally:
        await page.context.close()


async def test_a_read_only_role_sees_the_list_without_the_form(
    chromium: Browser, story: Story
) -> None:
    page = await _open_card(chromium, story, "sergi", "ca")
    try:
        assert await page.locator("#card-messages").is_visible()
        assert await page.locator("#msg-form").count() == 0
        # The older tablet's reminder: received, and why it cannot say more; not expired.
        older = page.locator("#delivery-list li[data-delivery='older-1']")
        assert await older.get_attribute("data-state") == "received"
        assert "Rebut (tauleta antiga: no pot confirmar)" in await older.inner_text()
        await _shoot(page, "social-worker-ca")
    finally:
        await page.context.close()
