"""``teleassist bench wsocial``: the social-record integration's throughput.

- mapping: social events → validated FHIR R4 resources per second;
- delivery: outbox records delivered per second to a local FHIR-like server that validates
  every resource with fhir.resources (transaction Bundles, OAuth2 token cached);
- signals: resident-weeks assessed per second on a simulated population.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time as wallclock
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
from aiohttp import web
from fhir.resources.R4B import get_fhir_model_class

from integrations.wsocial.delivery import (
    DeliveryWorker,
    FhirClient,
    FhirEndpointSettings,
    TokenProvider,
)
from integrations.wsocial.events import AnySocialEvent
from integrations.wsocial.mapping import to_resources
from integrations.wsocial.outbox import MemoryOutboxStore, new_entry
from integrations.wsocial.population import simulate_population, simulate_weeks
from integrations.wsocial.signals import assess_resident
from teleassist.config import Config
from teleassist.localbroker import free_port

NAME = "wsocial"
HELP = "FHIR mapping, outbox delivery to a local FHIR-like server, weekly signals"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sizes of the three runs."""
    parser.add_argument("--events", type=int, default=2000, help="events to map and deliver")
    parser.add_argument("--residents", type=int, default=206, help="(population is fixed)")
    parser.add_argument("--weeks", type=int, default=16, help="weeks per resident")


def _events(count: int) -> list[AnySocialEvent]:
    from integrations.wsocial.events import AlarmHandled, CheckInSummary, ServiceEvent

    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    made: list[AnySocialEvent] = []
    for n in range(count):
        rid = f"r{n % 500}"
        match n % 3:
            case 0:
                made.append(
                    ServiceEvent(
                        resident_id=rid,
                        occurred_at=t,
                        service_id=f"s{n}",
                        status="active",
                        started_at=t,
                    )
                )
            case 1:
                made.append(
                    AlarmHandled(
                        resident_id=rid,
                        occurred_at=t,
                        alarm_id=f"a{n}",
                        alarm_kind="panic",
                        raised_at=t,
                        answered_at=t,
                        closed_at=t,
                        outcome="false_alarm",
                    )
                )
            case _:
                made.append(
                    CheckInSummary(
                        resident_id=f"{rid}-{n}",
                        occurred_at=t,
                        week_start=date(2026, 11, 2),
                        expected=7,
                        done=6,
                    )
                )
    return made


async def _server(port: int) -> tuple[web.AppRunner, dict[str, int]]:
    seen = {"resources": 0}

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 3600})

    async def transaction(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        entries = body.get("entry", [])
        for entry in entries:
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            seen["resources"] += 1
        return web.json_response(
            {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [{"response": {"status": "201 Created"}} for _ in entries],
            }
        )

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/token", token)
    app.router.add_post("/fhir", transaction)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, seen


async def _deliver(events: list[AnySocialEvent]) -> tuple[float, int]:
    port = free_port()
    runner, seen = await _server(port)
    settings = FhirEndpointSettings(
        base_url=f"http://127.0.0.1:{port}/fhir",
        token_url=f"http://127.0.0.1:{port}/token",
        client_secret="x",  # noqa: S106 - the local test server accepts anything
        batch_size=200,
    )
    store = MemoryOutboxStore()
    now = datetime.now(UTC)
    for event in events:
        await store.add(new_entry(event), now)
    try:
        async with aiohttp.ClientSession() as session:
            worker = DeliveryWorker(
                store, FhirClient(session, settings, TokenProvider(session, settings)), settings
            )
            started = wallclock.perf_counter()
            while (await store.counts())["pending"]:
                await worker.run_once()
            elapsed = wallclock.perf_counter() - started
    finally:
        await runner.cleanup()
    return elapsed, seen["resources"]


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the three measurements and print them."""
    events = _events(args.events)
    started = wallclock.perf_counter()
    for event in events:
        to_resources(event)
    mapping_s = wallclock.perf_counter() - started
    print(f"mapping: {len(events)} events in {mapping_s:.2f} s = {len(events) / mapping_s:.0f}/s")

    delivery_s, received = asyncio.run(_deliver(events))
    print(
        f"delivery: {received} resources (one transaction per record) in {delivery_s:.2f} s"
        f" = {received / delivery_s:.0f}/s (server validates each with fhir.resources)"
    )

    population = simulate_population(seed=1)
    weeks = {r.resident_id: simulate_weeks(r, date(2026, 6, 1), args.weeks) for r in population}
    started = wallclock.perf_counter()
    flagged = 0
    for resident in population:
        result = assess_resident(
            resident.resident_id, weeks[resident.resident_id], lives_alone=resident.lives_alone
        )
        flagged += "social_isolation" in result.active_flags
    signals_s = wallclock.perf_counter() - started
    resident_weeks = len(population) * args.weeks
    print(
        f"signals: {resident_weeks} resident-weeks in {signals_s:.2f} s"
        f" = {resident_weeks / signals_s:.0f}/s; {flagged} residents flagged isolated"
    )
    print(
        json.dumps(
            {
                "bench": NAME,
                "mapping_per_s": round(len(events) / mapping_s),
                "delivery_per_s": round(received / delivery_s),
                "signals_resident_weeks_per_s": round(resident_weeks / signals_s),
                "events": len(events),
            }
        )
    )
    return 0
