"""The public application form and status check are limited per address (issue 19,
medium: the status check value could be enumerated, the form had no limit). Parallel
requests against a real hub on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from hub.service.api import APPLY_LIMIT, STATUS_LIMIT
from tests.service.helpers import Client, application, submit


async def test_status_guesses_stop_at_the_limit(hub_client: Client) -> None:
    reference, check = await submit(hub_client)
    guesses = await asyncio.gather(
        *[
            hub_client.post(
                "/api/service/applications/status",
                json={"reference": reference, "check": f"{n:06d}"},
            )
            for n in range(STATUS_LIMIT.limit + 10)
        ]
    )
    statuses = sorted(r.status for r in guesses)
    assert statuses == [404] * STATUS_LIMIT.limit + [429] * 10
    refused = next(r for r in guesses if r.status == 429)
    assert int(refused.headers["Retry-After"]) > 0
    # Even the right check value waits now: guessing cannot go on.
    right = await hub_client.post(
        "/api/service/applications/status", json={"reference": reference, "check": check}
    )
    assert right.status == 429


async def test_applications_per_address_are_limited(hub_client: Client) -> None:
    answers = []
    for n in range(APPLY_LIMIT.limit):
        person = application(person_name=f"PERSONA NUMERO {n}")
        answers.append((await hub_client.post("/api/service/applications", json=person)).status)
    assert answers == [201] * APPLY_LIMIT.limit
    extra = await hub_client.post(
        "/api/service/applications", json=application(person_name="UNA MES")
    )
    assert extra.status == 429
    assert (await extra.json())["error"] == "too_many_attempts"
