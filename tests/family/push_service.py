"""A Web Push service stand-in (RFC 8030) that checks what the hub sends the way a real one
and the browser would: the VAPID authorization (RFC 8292: an ES256 JWT for this origin,
signed by the key in ``k``, not expired, with a contact), and the body decrypted with the
browser's keys (RFC 8291 over RFC 8188 ``aes128gcm``). The decryption is written here from
the RFCs, with ``cryptography`` only, so it does not share code with the sender.

A "browser" is :class:`PushClient`: a P-256 key pair and a 16-byte auth secret, as
``PushManager.subscribe()`` makes them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.instants import machine_now


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


@dataclass
class PushClient:
    """One browser's subscription keys (the user agent's side of RFC 8291)."""

    name: str
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 §3.4 and RFC 8188 §2: one record, padding delimiter 0x02."""
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        assert idlen == 65, "the key id must be the server's 65-byte public key"
        server_public = body[21 : 21 + idlen]
        ciphertext = body[21 + idlen :]
        assert 18 <= len(ciphertext) <= rs, "one record within the record size"
        server_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), server_public)
        ecdh = self.private.exchange(ec.ECDH(), server_key)
        prk_key = _hmac(self.auth, ecdh)
        key_info = b"WebPush: info\x00" + self.public + server_public
        ikm = _hmac(prk_key, key_info + b"\x01")
        prk = _hmac(salt, ikm)
        cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
        nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        content = padded.rstrip(b"\x00")
        assert content.endswith(b"\x02"), "the last record ends with the 0x02 delimiter"
        return content[:-1]


@dataclass
class Received:
    """One push as the browser would see it."""

    client: str
    payload: dict[str, Any]
    ttl: int


@dataclass
class PushService:
    """Endpoints ``/push/<name>``; ``gone`` names answer 410 as for an unsubscribed browser."""

    origin: str = ""
    server_key: str = ""  # the hub's VAPID public key (base64url), to compare with k=
    clients: dict[str, PushClient] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    received: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    refusals: list[str] = field(default_factory=list)

    def subscription(self, client: PushClient) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives, for ``client``."""
        self.clients[client.name] = client
        return {
            "endpoint": f"{self.origin}/push/{client.name}",
            "keys": {"p256dh": b64(client.public), "auth": b64(client.auth)},
        }

    def _check_vapid(self, header: str) -> None:
        scheme, _, params = header.partition(" ")
        assert scheme == "vapid", header
        fields = dict(p.strip().split("=", 1) for p in params.split(","))
        token, key = fields["t"], fields["k"]
        assert key == self.server_key, "k= is the key the browser subscribed with"
        head_b64, claims_b64, signature_b64 = token.split(".")
        assert json.loads(unb64(head_b64)) == {"typ": "JWT", "alg": "ES256"}
        claims = json.loads(unb64(claims_b64))
        signature = unb64(signature_b64)
        assert len(signature) == 64, "ES256: r and s, 32 bytes each"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(key))
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        assert claims["aud"] == self.origin, claims
        # The push service checks exp against its own clock: the machine's (RFC 8292 §2).
        now = int(machine_now().timestamp())
        assert now < claims["exp"] <= now + 24 * 3600, claims
        assert claims["sub"].startswith(("mailto:", "https:")), claims

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            self._check_vapid(request.headers["Authorization"])
            assert request.headers["Content-Encoding"] == "aes128gcm"
            ttl = int(request.headers["TTL"])
            body = await request.read()
            if name in self.gone:
                return web.Response(status=410)
            payload = json.loads(self.clients[name].decrypt(body))
        except Exception as err:
            self.refusals.append(f"{name}: {err!r}")
            return web.Response(status=400, text=repr(err))
        await self.received.put(Received(name, payload, ttl))
        return web.Response(status=201)

    async def next(self, timeout: float = 30.0) -> Received:
        """The next push received (fails after ``timeout`` s with what was refused)."""
        try:
            return await asyncio.wait_for(self.received.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"no push arrived; refused: {self.refusals}") from None


@asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    """The stand-in, running on a free loopback port."""
    service = PushService()
    app = web.Application()
    app.router.add_post("/push/{name}", service.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    service.origin = str(server.make_url("")).rstrip("/")
    try:
        yield service
    finally:
        await server.close()
