"""The resident card, queue names, photos and the audited key-safe reveal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.auth import Role
from hub.console.demo_data import DemoIds
from hub.console.residents import age_on

Headers = Callable[..., Awaitable[dict[str, str]]]


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1938, 3, 14), date(2026, 3, 13), 87),
        (date(1938, 3, 14), date(2026, 3, 14), 88),
        (date(1940, 2, 29), date(2026, 2, 28), 85),
        (None, date(2026, 1, 1), None),
    ],
)
def test_age(birth: date | None, today: date, age: int | None) -> None:
    assert age_on(birth, today) == age


async def test_card_has_everything_the_operator_needs(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    headers = await auth_headers(Role.OPERATOR)
    rid = demo.residents[0]
    response = await hub_client.get(f"/api/console/residents/{rid}/card", headers=headers)
    assert response.status == 200
    card = await response.json()
    assert card["resident"]["name"] == "Montserrat Puig i Ferrer"
    assert card["resident"]["address_form"] == "feminine"  # "Viu sola" on the card
    assert card["resident"]["age"] >= 88
    assert "insulina" in card["resident"]["medical_notes"]
    assert card["home"]["has_key_safe"] is True
    assert "4821" not in str(card)  # the code only on demand
    assert [c["priority"] for c in card["contacts"]] == [1, 2, 3]
    assert card["contacts"][0]["is_key_holder"] is True
    assert {d["type"] for d in card["devices"]} >= {"pendant", "gateway", "smoke"}
    assert len(card["activity"]) == 24
    assert sum(h["count"] for h in card["activity"]) > 10
    assert card["activity"][0]["start"] < card["activity"][-1]["start"]

    antonio = await hub_client.get(
        f"/api/console/residents/{demo.residents[1]}/card", headers=headers
    )
    assert (await antonio.json())["resident"]["address_form"] == "masculine"

    names = await hub_client.get(
        "/api/console/residents",
        params={"ids": ",".join(map(str, demo.residents))},
        headers=headers,
    )
    assert [r["name"] for r in (await names.json())["residents"]][:1] == [
        "Montserrat Puig i Ferrer"
    ]
    bad = await hub_client.get("/api/console/residents", params={"ids": "1,x"}, headers=headers)
    assert bad.status == 400
    missing = await hub_client.get("/api/console/residents/9999/card", headers=headers)
    assert missing.status == 404
    photo = await hub_client.get(f"/api/console/residents/{rid}/photo", headers=headers)
    assert photo.status == 200
    assert "MP" in await photo.text()


async def test_card_names_values_in_the_readers_language_and_links_the_map(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    """Devices have one name (kind · room), relationships (codes) read in the
    reader's language, and the address links to the centre's map service (issue 23)."""
    rid = demo.residents[0]
    for lang, smoke, son in (("en", "Smoke detector · kitchen", "son"),
                             ("es", "Detector de humo · cocina", "hijo"),
                             ("ca", "Detector de fum · cuina", "fill")):  # fmt: skip
        headers = await auth_headers(Role.OPERATOR, language=lang)
        card = await (
            await hub_client.get(f"/api/console/residents/{rid}/card", headers=headers)
        ).json()
        assert smoke in [d["name"] for d in card["devices"]]
        first = card["contacts"][0]
        assert (first["relationship"], first["relationship_label"]) == ("son", son)
        assert card["home"]["map_url"] == (
            "https://www.openstreetmap.org/search?query="
            "C%2F%20de%20Verdi%2048%2C%203r%201a%2C%2008012%20Barcelona"
        )
