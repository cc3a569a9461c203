"""Delivery of outbox records to the social record's FHIR endpoint.

- Auth: OAuth2 client credentials; the token is cached until shortly before it expires and
  fetched again after a 401.
- Idempotency: each record is sent as a ``transaction`` Bundle of conditional updates
  (``PUT Type?identifier=system|value``) — or, in ``put`` mode, as the same conditional
  updates one by one — so a retry after a lost response updates, never duplicates.
- Failures: network errors, 408, 429 and 5xx are retried with exponential back-off; a
  record that fails ``max_attempts`` times becomes *dead* (visible to admins, replayable).
  A 4xx that says the content is wrong (400, 404, 409, 412, 422) goes dead at once: sending
  the same bytes again cannot succeed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote_plus

import aiohttp
import msgspec

from integrations.wsocial.events import EventDecodeError, decode_event
from integrations.wsocial.mapping import MappedResource, MappingError, to_resources
from integrations.wsocial.mapping import transaction_bundle as build_bundle
from integrations.wsocial.outbox import OutboxRecord, OutboxStore

_LOGGER = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"


class FhirEndpointSettings(msgspec.Struct, kw_only=True, frozen=True):
    """``[wsocial]`` settings: where and how to deliver (``enabled`` starts the worker)."""

    enabled: bool = False
    base_url: str = "http://127.0.0.1:8090/fhir"
    token_url: str = "http://127.0.0.1:8090/token"  # noqa: S105 - a URL, not a secret
    client_id: str = "teleassist"
    client_secret: str = ""
    scope: str | None = None
    mode: Literal["transaction", "put"] = "transaction"
    timeout_s: float = 15.0
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    jitter: float = 0.2
    batch_size: int = 20
    poll_s: float = 2.0


class DeliveryError(Exception):
    """An attempt failed; ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _status_error(what: str, status: int, body: str) -> DeliveryError:
    retryable = status in (401, 403, 408, 425, 429) or status >= 500
    return DeliveryError(f"{what}: HTTP {status}: {body[:300]}", retryable=retryable)


class TokenProvider:
    """OAuth2 client-credentials tokens, cached until ``expires_in`` minus a margin."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: FhirEndpointSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._settings = settings
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def _basic_auth(self) -> dict[str, str]:
        # RFC 6749 §2.3.1: id and secret are form-encoded, then sent as HTTP Basic.
        pair = f"{quote_plus(self._settings.client_id)}:{quote_plus(self._settings.client_secret)}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def invalidate(self) -> None:
        """Forget the cached token (the endpoint said 401)."""
        self._token = None

    async def token(self) -> str:
        """A valid access token, fetched only when needed."""
        async with self._lock:
            if self._token is not None and self._monotonic() < self._expires:
                return self._token
            form = {"grant_type": "client_credentials"}
            if self._settings.scope:
                form["scope"] = self._settings.scope
            try:
                async with self._session.post(
                    self._settings.token_url, data=form, headers=self._basic_auth()
                ) as response:
                    text = await response.text()
                    if response.status != 200:
                        raise _status_error("token endpoint", response.status, text)
                    data: dict[str, Any] = msgspec.json.decode(text)
            except (aiohttp.ClientError, TimeoutError) as err:
                raise DeliveryError(f"token endpoint unreachable: {err!r}", retryable=True) from err
            except msgspec.DecodeError as err:
                raise DeliveryError("token endpoint returned non-JSON", retryable=True) from err
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise DeliveryError("token response without access_token", retryable=True)
            lifetime = float(data.get("expires_in", 300))
            # Renew a little early so a request never leaves with a token about to expire.
            self._expires = self._monotonic() + max(0.0, lifetime - min(30.0, lifetime / 5))
            self._token = token
            return token


class FhirClient:
    """Sends mapped resources to the endpoint; raises :class:`DeliveryError`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: FhirEndpointSettings,
        tokens: TokenProvider,
    ) -> None:
        self._session = session
        self._settings = settings
        self._tokens = tokens

    async def _send(self, method: str, url: str, body: dict[str, Any]) -> str:
        token = await self._tokens.token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": FHIR_JSON,
            "Accept": FHIR_JSON,
        }
        try:
            async with self._session.request(
                method, url, data=msgspec.json.encode(body), headers=headers
            ) as response:
                text = await response.text()
                if response.status == 401:
                    self._tokens.invalidate()
                if response.status >= 300:
                    raise _status_error(f"{method} {url}", response.status, text)
                return text
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryError(f"{method} {url}: {err!r}", retryable=True) from err

    async def deliver(self, resources: list[MappedResource]) -> None:
        """Deliver all ``resources`` (atomically in ``transaction`` mode)."""
        base = self._settings.base_url.rstrip("/")
        if self._settings.mode == "put":
            for item in resources:
                await self._send("PUT", f"{base}/{item.conditional_url}", item.as_json())
            return
        text = await self._send("POST", base, build_bundle(resources))
        _check_transaction_response(text, len(resources))


def _check_transaction_response(text: str, expected: int) -> None:
    try:
        data = msgspec.json.decode(text)
    except msgspec.DecodeError as err:
        raise DeliveryError("transaction response is not JSON", retryable=True) from err
    if not isinstance(data, dict) or data.get("type") != "transaction-response":
        raise DeliveryError("response is not a transaction-response Bundle", retryable=True)
    entries = data.get("entry") or []
    if len(entries) != expected:
        raise DeliveryError(
            f"transaction-response has {len(entries)} entries, expected {expected}",
            retryable=True,
        )
    for entry in entries:
        status = str((entry.get("response") or {}).get("status", ""))
        if not status.startswith(("200", "201")):
            raise DeliveryError(f"transaction entry status {status!r}", retryable=False)


@dataclass(frozen=True)
class AttemptResult:
    """What one pass of the worker did."""

    delivered: int
    failed: int
    dead: int


def backoff_delay(attempts: int, settings: FhirEndpointSettings, rng: random.Random) -> float:
    """Seconds to wait after the ``attempts``-th failure: base·2^(n-1), capped, jittered."""
    raw = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** max(0, attempts - 1))
    return float(raw * (1.0 - settings.jitter * rng.random()))


class DeliveryWorker:
    """Reads due outbox records and delivers them; owns no task (see :meth:`run`)."""

    def __init__(
        self,
        store: OutboxStore,
        client: FhirClient,
        settings: FhirEndpointSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Deliver now instead of waiting for the next poll (after an enqueue)."""
        self._wake.set()

    async def _attempt(self, record: OutboxRecord) -> Literal["delivered", "failed", "dead"]:
        try:
            event = decode_event(record.payload)
            resources = to_resources(event)
        except (EventDecodeError, MappingError) as err:
            await self._store.mark_failed(record.id, f"cannot map: {err}", self._clock(), True)
            _LOGGER.error("outbox %s dead: cannot map (%s)", record.id, err)
            return "dead"
        try:
            await self._client.deliver(resources)
        except DeliveryError as err:
            attempts = record.attempts + 1
            dead = not err.retryable or attempts >= self._settings.max_attempts
            delay = backoff_delay(attempts, self._settings, self._rng)
            next_at = self._clock() + timedelta(seconds=delay)
            await self._store.mark_failed(record.id, str(err), next_at, dead)
            if dead:
                _LOGGER.error("outbox %s dead after %d attempts: %s", record.id, attempts, err)
                return "dead"
            _LOGGER.warning("outbox %s attempt %d failed: %s", record.id, attempts, err)
            return "failed"
        await self._store.mark_delivered(record.id, self._clock())
        return "delivered"

    async def run_once(self) -> AttemptResult:
        """One pass over the due records. A failure stops the pass for that line only."""
        records = await self._store.due(self._clock(), self._settings.batch_size)
        outcome = {"delivered": 0, "failed": 0, "dead": 0}
        for record in records:
            outcome[await self._attempt(record)] += 1
        return AttemptResult(**outcome)

    async def run(self) -> None:
        """Deliver forever; cancel the task to stop (the owner awaits it)."""
        while True:
            try:
                result = await self.run_once()
            except Exception:  # the store may be briefly unavailable; keep the worker alive
                _LOGGER.exception("outbox pass failed")
                result = AttemptResult(0, 0, 0)
            if result.delivered == self._settings.batch_size:
                continue  # more may be waiting
            self._wake.clear()
            # asyncio.timeout: 3.11's wait_for can swallow a cancellation racing the wake.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.poll_s):
                    await self._wake.wait()
