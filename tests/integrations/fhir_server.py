"""A FHIR-like HTTP server for the delivery tests (wSocial itself cannot run here).

It is strict where it matters: OAuth2 client credentials on ``/token``, bearer tokens that
expire, every resource validated with ``fhir.resources`` (R4B), conditional update by
identifier, and a ledger that counts creates, updates and duplicates. It can fail on
purpose (HTTP 503 at a seeded rate, or *after* applying a transaction — the lost-response
case), refuse one identifier forever, and be stopped and started again on the same port.
"""

from __future__ import annotations

import base64
import itertools
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

CLIENT_ID = "teleassist"
CLIENT_SECRET = "s3cret-for-tests"


@dataclass
class Ledger:
    """What the server saw."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ids_by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    creates: int = 0
    updates: int = 0
    duplicates: int = 0
    invalid: int = 0
    unauthorized: int = 0
    token_requests: int = 0
    injected_failures: int = 0
    requests: int = 0
    history: list[tuple[str, str, str]] = field(default_factory=list)  # (type, key, status)


class FakeFhirServer:
    """Start with :meth:`start`; ``base_url`` and ``token_url`` point at it."""

    def __init__(self, port: int, seed: int = 7) -> None:
        self.port = port
        self.ledger = Ledger()
        self.failure_rate = 0.0
        self.fail_after_apply_rate = 0.0
        self.refuse_keys: set[str] = set()  # identifier values answered with 500, always
        self.reject_keys: set[str] = set()  # identifier values answered with 422
        self.token_lifetime_s = 3600
        self._rng = random.Random(seed)
        self._tokens: dict[str, float] = {}
        self._runner: web.AppRunner | None = None
        self._counter = itertools.count(1)

    @property
    def base_url(self) -> str:
        """The FHIR base."""
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return f"http://127.0.0.1:{self.port}/token"

    def expire_tokens(self) -> None:
        """Make every issued token invalid (the client must fetch a new one)."""
        self._tokens.clear()

    async def start(self) -> None:
        """Listen on ``port``."""
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/fhir", self._transaction)
        app.router.add_put("/fhir/{type}", self._conditional_put)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening: clients get connection refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ auth

    async def _token(self, request: web.Request) -> web.Response:
        self.ledger.token_requests += 1
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = await request.post()
        if header != f"Basic {expected}" or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(16)
        self._tokens[token] = time.monotonic() + self.token_lifetime_s
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s}
        )

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        expires = self._tokens.get(token)
        if expires is None or expires < time.monotonic():
            self.ledger.unauthorized += 1
            return False
        return True

    # ------------------------------------------------------------ FHIR

    def _outcome(self, status: int, text: str) -> web.Response:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
        }
        return web.json_response(body, status=status, content_type="application/fhir+json")

    def _validate(self, resource: dict[str, Any], url: str) -> tuple[str, str, str]:
        """Validate one resource for a conditional update; return (type, system|value, id)."""
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            raise ValueError("resourceType missing")
        get_fhir_model_class(resource_type).model_validate(resource)
        path, _, query = url.partition("?")
        if path != resource_type or not query.startswith("identifier="):
            raise ValueError(f"not a conditional update for {resource_type}: {url}")
        key = unquote(query.removeprefix("identifier="))
        identifiers = {f"{i['system']}|{i['value']}" for i in resource.get("identifier", [])}
        if key not in identifiers:
            raise ValueError(f"conditional key {key} not among the resource's identifiers")
        return resource_type, key, str(resource.get("id", ""))

    def _apply(self, resource_type: str, key: str, rid: str, resource: dict[str, Any]) -> str:
        slot = (resource_type, key)
        self.ledger.history.append((resource_type, key, str(resource.get("status", ""))))
        if slot in self.ledger.resources:
            if self.ledger.ids_by_key[slot] != rid:
                # A second resource for the same business identifier: the idempotency bug
                # this server exists to catch.
                self.ledger.duplicates += 1
            self.ledger.resources[slot] = resource
            self.ledger.updates += 1
            return "200 OK"
        self.ledger.resources[slot] = resource
        self.ledger.ids_by_key[slot] = rid or f"srv-{next(self._counter)}"
        self.ledger.creates += 1
        return "201 Created"

    def _injected(self, keys: list[str]) -> web.Response | None:
        if any(k.rsplit("|", 1)[-1] in self.refuse_keys for k in keys):
            self.ledger.injected_failures += 1
            return self._outcome(500, "refused on purpose")
        if any(k.rsplit("|", 1)[-1] in self.reject_keys for k in keys):
            self.ledger.invalid += 1
            return self._outcome(422, "business rule failed (on purpose)")
        if self._rng.random() < self.failure_rate:
            self.ledger.injected_failures += 1
            return self._outcome(503, "temporarily unavailable (on purpose)")
        return None

    async def _transaction(self, request: web.Request) -> web.Response:
        self.ledger.requests += 1
        if not self._authorized(request):
            return self._outcome(401, "invalid or expired token")
        body = await request.json()
        try:
            Bundle.model_validate(body)
            if body.get("type") != "transaction":
                raise ValueError("Bundle.type must be transaction")
            checked = [
                (self._validate(e["resource"], e["request"]["url"]), e["resource"])
                for e in body.get("entry", [])
                if e["request"]["method"] == "PUT"
            ]
            if len(checked) != len(body.get("entry", [])):
                raise ValueError("only conditional PUT entries are accepted")
        except (ValueError, KeyError, TypeError) as err:
            self.ledger.invalid += 1
            return self._outcome(400, f"invalid: {err}")
        failure = self._injected([key for (_, key, _), _ in checked])
        if failure is not None:
            return failure
        statuses = [self._apply(t, k, i, r) for (t, k, i), r in checked]
        if self._rng.random() < self.fail_after_apply_rate:
            # Applied, but the answer is lost: the client must retry without duplicating.
            self.ledger.injected_failures += 1
            return self._outcome(502, "applied, response lost (on purpose)")
        response = {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [{"response": {"status": status}} for status in statuses],
        }
        return web.json_response(response, content_type="application/fhir+json")

    async def _conditional_put(self, request: web.Request) -> web.Response:
        self.ledger.requests += 1
        if not self._authorized(request):
            return self._outcome(401, "invalid or expired token")
        resource = await request.json()
        url = f"{request.match_info['type']}?{request.query_string}"
        try:
            resource_type, key, rid = self._validate(resource, unquote(url))
        except (ValueError, KeyError, TypeError) as err:
            self.ledger.invalid += 1
            return self._outcome(400, f"invalid: {err}")
        failure = self._injected([key])
        if failure is not None:
            return failure
        status = self._apply(resource_type, key, rid, resource)
        return web.json_response(
            resource, status=int(status[:3]), content_type="application/fhir+json"
        )
