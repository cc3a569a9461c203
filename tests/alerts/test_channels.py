"""Channels against real local servers: SMTP (aiosmtpd), an SMS gateway, a webhook receiver,
and the tablet over a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import aiohttp
import aiomqtt
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from alerts import Detection, Explanation, RuleKind, raise_alarm
from alerts.channels import (
    EmailChannel,
    Recipient,
    RetryPolicy,
    SmsChannel,
    SmsGatewaySettings,
    SmtpSettings,
    TabletChannel,
    WebhookChannel,
    WebhookSettings,
    contact_notification,
    signature,
)
from alerts.channels.tablet import AiomqttPublisher
from alerts.channels.webhook import SIGNATURE_HEADER
from alerts.model import PromptRequest
from protocol import AlarmReceived, Prompt, command_subscription, decode_command
from teleassist.localbroker import free_port

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=3, base_delay_s=0.0, timeout_s=5)


def _alarm():
    return raise_alarm(
        "alarm-1",
        Detection(
            rule=RuleKind.FALL,
            home_id="h1",
            resident_id="r1",
            at=T0,
            explanation=Explanation.of("fall", room="bathroom", time="10:00"),
        ),
    )


JOAN = Recipient("c-joan", "Joan", "es", email="joan@example.org", phone="+34600000001")
KATE = Recipient("c-kate", "Kate", "en", email="kate@example.org")


def test_notification_text_is_in_the_recipients_language() -> None:
    es = contact_notification(_alarm(), JOAN, "Rosa", "https://hub/ack/abc")
    assert es.subject == "Teleasistencia: Caída — Rosa"
    assert "Caída detectada (baño) a las 10:00" in es.text
    assert "https://hub/ack/abc" in es.text
    en = contact_notification(_alarm(), KATE, "Rosa")
    assert en.subject == "Teleassistance: Fall — Rosa"
    assert "(the centre will call you)" in en.text


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_email_is_delivered_to_a_real_smtp_server(smtp_server) -> None:
    inbox, port = smtp_server
    channel = EmailChannel(SmtpSettings(port=port, sender="central@teleassist.test"))
    result = await channel.send(contact_notification(_alarm(), JOAN, "Rosa"))
    assert result.delivered, result.detail
    (raw,) = inbox.messages
    message = message_from_bytes(raw)
    assert str(make_header(decode_header(message["Subject"]))) == "Teleasistencia: Caída — Rosa"
    assert message["To"] == "joan@example.org"
    assert message["X-Teleassist-Alarm"] == "alarm-1"
    assert message["Content-Language"] == "es"


async def test_email_failure_is_reported_not_raised() -> None:
    channel = EmailChannel(SmtpSettings(port=free_port(), timeout_s=2))
    result = await channel.send(contact_notification(_alarm(), JOAN, "Rosa"))
    assert not result.delivered
    assert "SMTP" in result.detail
    no_address = await channel.send(
        contact_notification(_alarm(), Recipient("x", "X", "ca"), "Rosa")
    )
    assert not no_address.delivered
    assert "no e-mail" in no_address.detail


async def _serve(aiohttp_server, handler):
    app = web.Application()
    app.router.add_post("/send", handler)
    return await aiohttp_server(app)


async def test_sms_gateway_validates_and_retries_a_server_error(aiohttp_server) -> None:
    received: list[dict] = []

    async def gateway(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer sms-token"
        body = await request.json()
        assert set(body) == {"to", "from", "text", "reference"}
        assert body["to"].startswith("+34")
        assert len(body["text"]) <= 459
        received.append(body)
        if len(received) == 1:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"id": "sms-42"}, status=202)

    server = await _serve(aiohttp_server, gateway)
    async with aiohttp.ClientSession() as session:
        channel = SmsChannel(
            SmsGatewaySettings(str(server.make_url("/send")), token="sms-token", retry=FAST),
            session,
        )
        result = await channel.send(contact_notification(_alarm(), JOAN, "Rosa"))
    assert result.delivered
    assert result.attempts == 2
    assert result.reference == "sms-42"
    assert received[-1]["reference"] == "alarm-1"


async def test_sms_refused_payload_is_not_retried_and_is_reported(aiohttp_server) -> None:
    calls = 0

    async def gateway(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.json_response({"error": "bad number"}, status=400)

    server = await _serve(aiohttp_server, gateway)
    async with aiohttp.ClientSession() as session:
        channel = SmsChannel(SmsGatewaySettings(str(server.make_url("/send")), retry=FAST), session)
        result = await channel.send(contact_notification(_alarm(), JOAN, "Rosa"))
    assert not result.delivered
    assert result.detail == "HTTP 400"
    assert calls == 1


async def test_webhook_is_signed(aiohttp_server) -> None:
    seen: list[dict] = []

    async def receiver(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers[SIGNATURE_HEADER] != signature("s3cret", raw):
            return web.Response(status=401)
        seen.append(json.loads(raw))
        return web.Response(status=204)

    server = await _serve(aiohttp_server, receiver)
    async with aiohttp.ClientSession() as session:
        good = WebhookChannel(
            WebhookSettings(str(server.make_url("/send")), "s3cret", FAST), session
        )
        bad = WebhookChannel(WebhookSettings(str(server.make_url("/send")), "wrong", FAST), session)
        ok = await good.send(contact_notification(_alarm(), KATE, "Rosa"))
        refused = await bad.send(contact_notification(_alarm(), KATE, "Rosa"))
    assert ok.delivered
    assert seen[0]["alarm_id"] == "alarm-1"
    assert seen[0]["language"] == "en"
    assert not refused.delivered
    assert refused.detail == "HTTP 401"


async def test_unreachable_endpoint_fails_after_the_retries() -> None:
    delays: list[float] = []

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    policy = RetryPolicy(attempts=3, base_delay_s=0.5, factor=2, timeout_s=2)
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{free_port()}/send"
        channel = SmsChannel(SmsGatewaySettings(url, retry=policy), session, sleep=no_wait)
        result = await channel.send(contact_notification(_alarm(), JOAN, "Rosa"))
    assert not result.delivered
    assert result.attempts == 3
    assert delays == [0.5, 1.0]
    assert "ClientConnectorError" in result.detail


@pytest.mark.broker
async def test_tablet_prompt_and_alarm_received_over_mqtt(mosquitto) -> None:
    device = "tablet-h1"
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as listener:
        await listener.subscribe(command_subscription(device), qos=1)
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as hub:
            channel = TabletChannel(AiomqttPublisher(hub))
            request = PromptRequest(
                home_id="h1",
                resident_id="r1",
                prompt_id="p1",
                kind="inactivity",
                sent_at=T0,
                expires=T0 + timedelta(minutes=5),
                explanation=Explanation.of("never"),
            )
            await channel.prompt(device, request, T0)
            await channel.alarm_received(device, "alarm-1", "ev-1", T0)
        bodies = []
        async with asyncio.timeout(10):
            async for message in listener.messages:
                decoded = decode_command(bytes(message.payload), now=T0)
                bodies.append((str(message.topic), decoded.body))
                if len(bodies) == 2:
                    break
    (topic1, prompt), (topic2, received) = bodies
    assert topic1 == f"ta/v1/c/{device}/prompt"
    assert isinstance(prompt, Prompt)
    assert prompt.prompt_id == "p1"
    assert prompt.expires == T0 + timedelta(minutes=5)
    assert topic2 == f"ta/v1/c/{device}/alarm_received"
    assert received == AlarmReceived(alarm_id="alarm-1", event_id="ev-1")
