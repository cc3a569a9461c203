"""Real stand-ins for the services the hub sends account messages through: an HTTP SMS
gateway and an SMTP server, both on free loopback ports, recording what they received."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class SmsGateway:
    """``POST /sms`` with the hub's JSON; refuses anything else (so a wrong request fails)."""

    url: str = ""
    token: str = "sms-test-token"
    sent: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def until(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until ``count`` messages have arrived in all; all of them."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.sent) >= count)
        return list(self.sent)

    async def handle(self, request: web.Request) -> web.Response:
        assert request.headers.get("Authorization") == f"Bearer {self.token}"
        assert request.content_type == "application/json"
        body = await request.json()
        assert set(body) == {"to", "from", "text", "reference"}, body
        assert re.fullmatch(r"\+[0-9]{8,15}", body["to"]), body["to"]
        self.sent.append(body)
        async with self._arrived:
            self._arrived.notify_all()
        return web.json_response({"id": f"sms-{len(self.sent)}"}, status=202)

    def codes(self) -> list[str]:
        """The 6-digit codes in the texts sent, oldest first."""
        return [m.group(0) for s in self.sent if (m := re.search(r"\b\d{6}\b", s["text"]))]


@dataclass
class SmtpServer:
    """Enough SMTP for ``smtplib``: EHLO, MAIL, RCPT, DATA, QUIT."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 standin ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                data = await reader.readuntil(b"\r\n.\r\n")
                message = email.message_from_bytes(data[:-5], policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                self.messages.append(message)
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    def codes(self) -> list[str]:
        """The 6-digit codes in the bodies received, oldest first."""
        out = []
        for message in self.messages:
            if match := re.search(r"\b\d{6}\b", message.get_content()):
                out.append(match.group(0))
        return out


@asynccontextmanager
async def message_standins() -> AsyncIterator[tuple[SmsGateway, SmtpServer]]:
    """Both stand-ins, running."""
    sms = SmsGateway()
    app = web.Application()
    app.router.add_post("/sms", sms.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sms.url = str(server.make_url("/sms"))
    smtp = SmtpServer()
    listener = await asyncio.start_server(smtp._session, "127.0.0.1", 0)
    smtp.port = listener.sockets[0].getsockname()[1]
    try:
        yield sms, smtp
    finally:
        listener.close()
        await listener.wait_closed()
        await server.close()
