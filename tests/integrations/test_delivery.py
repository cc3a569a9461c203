"""Outbox delivery against a local FHIR-like server: once, valid, with the right codes."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from integrations.wsocial.delivery import (
    DeliveryWorker,
    FhirClient,
    FhirEndpointSettings,
    TokenProvider,
    backoff_delay,
)
from integrations.wsocial.events import EVENT_KINDS, event_kind
from integrations.wsocial.mapping import to_resources
from integrations.wsocial.outbox import (
    MemoryOutboxStore,
    OutboxEntry,
    OutboxStore,
    new_entry,
    pick_due,
)
from teleassist.localbroker import free_port
from tests.instants import machine_now
from tests.integrations.fhir_server import CLIENT_ID, CLIENT_SECRET, FakeFhirServer
from tests.integrations.samples import T0, sample_events


class Clock:
    """A clock the test moves by hand (back-off waits without sleeping)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[FakeFhirServer]:
    fake = FakeFhirServer(free_port())
    await fake.start()
    yield fake
    await fake.stop()


def _settings(server: FakeFhirServer, **overrides: object) -> FhirEndpointSettings:
    base = {
        "base_url": server.base_url,
        "token_url": server.token_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "max_attempts": 6,
        "backoff_base_s": 10.0,
        "backoff_max_s": 600.0,
        "jitter": 0.0,
        "timeout_s": 10.0,
    }
    base.update(overrides)
    return FhirEndpointSettings(**base)  # type: ignore[arg-type]


class Rig:
    """Store, worker and clock wired to one server."""

    def __init__(
        self,
        server: FakeFhirServer,
        session: aiohttp.ClientSession,
        store: OutboxStore | None = None,
        **overrides: object,
    ) -> None:
        self.server = server
        self.clock = Clock()
        self.store: Any = store or MemoryOutboxStore()
        self.settings = _settings(server, **overrides)
        self.tokens = TokenProvider(session, self.settings)
        client = FhirClient(session, self.settings, self.tokens)
        self.worker = DeliveryWorker(
            self.store, client, self.settings, clock=self.clock, rng=random.Random(1)
        )

    async def enqueue(self, entries: list[OutboxEntry]) -> None:
        assert isinstance(self.store, MemoryOutboxStore)
        for entry in entries:
            await self.store.add(entry, self.clock())

    async def drain(self, max_passes: int = 200) -> None:
        """Run passes, jumping the clock to the next due time, until nothing is pending."""
        for _ in range(max_passes):
            await self.worker.run_once()
            pending = await self.store.list("pending", limit=10_000)
            if not pending:
                return
            heads = pick_due(pending, T0 + timedelta(days=3650), 10_000)
            self.clock.now = max(self.clock.now, min(r.next_attempt_at for r in heads))
        raise AssertionError("outbox did not drain")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client:
        yield client


def _all_entries(residents: int = 3) -> list[OutboxEntry]:
    return [new_entry(e) for r in range(residents) for e in sample_events(f"res-{r}")]


def _expected_keys(residents: int = 3) -> set[tuple[str, str]]:
    keys = set()
    for r in range(residents):
        for event in sample_events(f"res-{r}"):
            m = to_resources(event)[0]
            keys.add((m.resource_type, f"{m.identifier_system}|{m.identifier_value}"))
    return keys


@pytest.mark.parametrize("mode", ["transaction", "put"])
async def test_every_event_type_delivered_once_valid_despite_failures(
    server: FakeFhirServer, session: aiohttp.ClientSession, mode: str
) -> None:
    server.failure_rate = 0.3
    server.fail_after_apply_rate = 0.2 if mode == "transaction" else 0.0
    rig = Rig(server, session, mode=mode, max_attempts=30)
    entries = _all_entries()
    await rig.enqueue(entries)
    await rig.drain()

    counts = await rig.store.counts()
    assert counts == {"pending": 0, "delivered": len(entries), "dead": 0, "withdrawn": 0}
    ledger = server.ledger
    assert ledger.injected_failures > 0  # the failures really happened
    assert ledger.duplicates == 0
    assert ledger.invalid == 0
    assert set(ledger.resources) == _expected_keys()
    assert {event_kind(e) for e in sample_events()} == set(EVENT_KINDS)
    # Ordered per resource: the service row ends as "completed", the pendant as removed.
    for (rtype, _key), resource in ledger.resources.items():
        if rtype == "ServiceRequest":
            assert resource["status"] == "completed"
            assert resource["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == (
                "419099009"
            )
        if rtype == "DeviceUseStatement":
            assert resource["status"] == "completed"
    service_history = [s for t, k, s in ledger.history if t == "ServiceRequest" and "res-0" in k]
    assert service_history == sorted(service_history, key=["active", "on-hold", "completed"].index)
    assert ledger.token_requests == 1  # cached


async def test_delivery_survives_the_endpoint_being_down(
    server: FakeFhirServer, session: aiohttp.ClientSession
) -> None:
    rig = Rig(server, session)
    entries = _all_entries(1)
    await rig.enqueue(entries)
    await server.stop()
    for _ in range(3):
        await rig.worker.run_once()
        pending = await rig.store.list("pending", limit=1000)
        heads = pick_due(pending, T0 + timedelta(days=3650), 1000)
        rig.clock.now = min(r.next_attempt_at for r in heads)
    pending = await rig.store.list("pending", limit=1000)
    assert len(pending) == len(entries)  # nothing lost, nothing dead yet
    assert any(
        "unreachable" in (r.last_error or "") or "Connect" in (r.last_error or "") for r in pending
    )
    waits = sorted({(r.next_attempt_at - T0).total_seconds() for r in pending})
    assert waits[-1] > 10.0  # backed off
    await server.start()
    await rig.drain()
    assert (await rig.store.counts())["delivered"] == len(entries)
    assert server.ledger.duplicates == 0
    assert set(server.ledger.resources) == _expected_keys(1)


async def test_dead_letter_after_n_failures_then_replay(
    server: FakeFhirServer, session: aiohttp.ClientSession
) -> None:
    rig = Rig(server, session, max_attempts=4)
    server.refuse_keys = {"alarm-res-0-1"}
    entries = _all_entries(1)
    await rig.enqueue(entries)
    await rig.drain()
    dead = await rig.store.list("dead")
    # The alarm's Encounter and its 112 Communication share the alarm id: both refused.
    assert sorted(d.kind for d in dead) == ["alarm", "escalation_112"]
    assert [d.attempts for d in dead] == [4, 4]
    assert all("HTTP 500" in (d.last_error or "") for d in dead)
    assert (await rig.store.counts())["delivered"] == len(entries) - 2

    server.refuse_keys = set()
    for record in dead:
        assert await rig.store.replay(record.id, rig.clock())
        assert not await rig.store.replay(record.id, rig.clock())  # no longer dead
    await rig.drain()
    assert await rig.store.counts() == {
        "pending": 0,
        "delivered": len(entries),
        "dead": 0,
        "withdrawn": 0,
    }
    assert set(server.ledger.resources) == _expected_keys(1)


async def test_rejected_content_goes_dead_at_once(
    server: FakeFhirServer, session: aiohttp.ClientSession
) -> None:
    rig = Rig(server, session)
    server.reject_keys = {"svc-res-0"}
    await rig.enqueue(_all_entries(1))
    await rig.drain()
    dead = await rig.store.list("dead")
    assert [d.attempts for d in dead] == [1, 1, 1]  # the three service states
    assert all("HTTP 422" in (d.last_error or "") for d in dead)


async def test_expired_token_is_renewed_and_bad_credentials_lose_nothing(
    server: FakeFhirServer, session: aiohttp.ClientSession
) -> None:
    rig = Rig(server, session)
    entries = _all_entries(1)
    await rig.enqueue(entries[:2])
    await rig.drain()
    server.expire_tokens()
    await rig.enqueue(entries[2:4])
    await rig.drain()
    assert server.ledger.unauthorized == 1
    assert server.ledger.token_requests == 2

    wrong = Rig(server, session, client_secret="wrong", max_attempts=3)
    await wrong.enqueue(entries[:1])
    await wrong.drain()
    (dead,) = await wrong.store.list("dead")
    assert "token endpoint: HTTP 401" in (dead.last_error or "")


async def test_undecodable_payload_is_dead_with_the_reason(
    server: FakeFhirServer, session: aiohttp.ClientSession
) -> None:
    rig = Rig(server, session)
    good = new_entry(sample_events()[0])
    bad = OutboxEntry("e-bad", "service", "res-0", "k", b'{"kind":"service"}')
    await rig.enqueue([bad, good])
    await rig.drain()
    (dead,) = await rig.store.list("dead")
    assert dead.event_id == "e-bad"
    assert "cannot map" in (dead.last_error or "")
    assert (await rig.store.counts())["delivered"] == 1


async def test_the_same_event_enqueued_twice_is_stored_once() -> None:
    store = MemoryOutboxStore()
    entry = new_entry(sample_events()[0], event_id="fixed")
    first = await store.add(entry, T0)
    second = await store.add(entry, T0)
    assert first.id == second.id
    assert (await store.counts())["pending"] == 1


async def test_worker_task_delivers_in_the_background_and_stops_on_cancel(
    server: FakeFhirServer, session: aiohttp.ClientSession
) -> None:
    rig = Rig(server, session, poll_s=0.05, backoff_base_s=0.01)
    rig.worker._clock = lambda: machine_now()  # real time for this one
    entries = _all_entries(1)
    for entry in entries:
        await rig.store.add(entry, machine_now())
    task = asyncio.create_task(rig.worker.run())
    try:
        for _ in range(400):
            if (await rig.store.counts())["delivered"] == len(entries):
                break
            await asyncio.sleep(0.05)
        assert (await rig.store.counts())["delivered"] == len(entries)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_backoff_grows_exponentially_and_is_capped() -> None:
    settings = FhirEndpointSettings(backoff_base_s=5, backoff_max_s=60, jitter=0.0)
    rng = random.Random(0)
    assert [backoff_delay(n, settings, rng) for n in (1, 2, 3, 4, 5, 9)] == [
        5,
        10,
        20,
        40,
        60,
        60,
    ]
    jittered = FhirEndpointSettings(backoff_base_s=5, backoff_max_s=60, jitter=0.5)
    assert all(2.5 <= backoff_delay(1, jittered, rng) <= 5 for _ in range(50))
    assert timedelta(seconds=backoff_delay(2, settings, rng)) == timedelta(seconds=10)
