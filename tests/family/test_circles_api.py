"""Circles over the real API, on SQLite and PostgreSQL."""

from datetime import timedelta

from hub.clock import ManualClock
from tests.family.conftest import World


async def _code(world: World, tablet_headers: dict[str, str], rid: int, **body: object) -> str:
    resp = await world.client.post(
        f"/api/family/residents/{rid}/linking-codes", json=body, headers=tablet_headers
    )
    assert resp.status == 201, await resp.text()
    code: str = (await resp.json())["code"]
    return code


async def test_join_with_a_code_and_see_the_resident(world: World) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    code = await _code(world, maria.headers, maria.resident_id, consent=["alarms"])
    assert len(code) == 9
    assert code[4] == "-"
    resp = await world.client.post(
        "/api/family/links",
        json={"code": code.lower().replace("-", " "), "relationship": "daughter"},
        headers=anna.headers,
    )
    assert resp.status == 201, await resp.text()
    link = await resp.json()
    assert link["consent"] == ["alarms"]
    assert link["member"] == {"party": anna.party, "name": "Anna"}
    residents = await (await world.client.get("/api/family/residents", headers=anna.headers)).json()
    assert [(r["name"], r["relationship"]) for r in residents] == [("Maria", "daughter")]
    assert residents[0]["conversation_id"] == link["conversation_id"]
    circle = await (
        await world.client.get(
            f"/api/family/residents/{maria.resident_id}/circle", headers=maria.headers
        )
    ).json()
    assert [c["member"]["party"] for c in circle] == [anna.party]


async def test_one_person_in_several_circles(world: World) -> None:
    maria, josep = await world.resident("Maria"), await world.resident("Josep")
    anna = await world.person(name="Anna")
    await world.link(maria, anna)
    await world.link(josep, anna)
    residents = await (await world.client.get("/api/family/residents", headers=anna.headers)).json()
    assert sorted(r["name"] for r in residents) == ["Josep", "Maria"]


async def test_reused_expired_and_unknown_codes_are_refused(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident()
    anna, pere = await world.person(), await world.person()
    code = await _code(world, maria.headers, maria.resident_id)
    ok = await world.client.post(
        "/api/family/links", json={"code": code, "relationship": "son"}, headers=anna.headers
    )
    assert ok.status == 201
    again = await world.client.post(
        "/api/family/links", json={"code": code, "relationship": "son"}, headers=pere.headers
    )
    assert again.status == 410
    assert (await again.json())["error"] == "code_used"
    short = await _code(world, maria.headers, maria.resident_id, ttl_s=60)
    hub_clock.advance(timedelta(seconds=61))
    late = await world.client.post(
        "/api/family/links", json={"code": short, "relationship": "son"}, headers=pere.headers
    )
    assert late.status == 410
    assert (await late.json())["error"] == "code_expired"
    unknown = await world.client.post(
        "/api/family/links", json={"code": "2345-6789", "relationship": "son"}, headers=pere.headers
    )
    assert unknown.status == 404
    assert (await unknown.json())["error"] == "code_unknown"
    bad = await world.client.post(
        "/api/family/links", json={"code": "hello", "relationship": "son"}, headers=pere.headers
    )
    assert bad.status == 400
    assert (await bad.json())["error"] == "code_malformed"
    # Nothing was linked by the failures.
    residents = await (await world.client.get("/api/family/residents", headers=pere.headers)).json()
    assert residents == []


async def test_guessing_is_rate_limited(world: World, hub_clock: ManualClock) -> None:
    maria = await world.resident()
    guesser = await world.person()
    for _ in range(5):
        resp = await world.client.post(
            "/api/family/links",
            json={"code": "ZZZZ-ZZZZ", "relationship": "x"},
            headers=guesser.headers,
        )
        assert resp.status == 404
    good = await _code(world, maria.headers, maria.resident_id)
    blocked = await world.client.post(
        "/api/family/links", json={"code": good, "relationship": "x"}, headers=guesser.headers
    )
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert (await blocked.json())["error"] == "too_many_attempts"
    # Another person is not affected, and the guesser may try again later.
    hub_clock.advance(timedelta(minutes=16))
    await world.sign_in(guesser)
    later = await world.client.post(
        "/api/family/links", json={"code": good, "relationship": "x"}, headers=guesser.headers
    )
    assert later.status == 201


async def test_who_may_make_codes_and_link(world: World) -> None:
    maria, josep = await world.resident("Maria"), await world.resident("Josep")
    anna = await world.person()
    await world.link(maria, anna)
    # A family member cannot make codes, nor can another resident's tablet.
    for headers in (anna.headers, josep.headers):
        resp = await world.client.post(
            f"/api/family/residents/{maria.resident_id}/linking-codes", json={}, headers=headers
        )
        assert resp.status == 403
    # Staff can.
    code = await _code(world, world.operator, maria.resident_id)
    # An operator cannot join a circle with a code.
    op = await world.client.post(
        "/api/family/links", json={"code": code, "relationship": "x"}, headers=world.operator
    )
    assert op.status == 403
    # Already linked.
    again = await world.client.post(
        "/api/family/links", json={"code": code, "relationship": "x"}, headers=anna.headers
    )
    assert again.status == 409
    assert (await again.json())["error"] == "already_linked"
    bad_consent = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/linking-codes",
        json={"consent": ["everything"]},
        headers=maria.headers,
    )
    assert bad_consent.status == 400
    assert (await bad_consent.json())["error"] == "consent_invalid"
    unauth = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/linking-codes", json={}
    )
    assert unauth.status == 401
    forged = await world.client.get(
        "/api/family/me", headers={"Authorization": "Bearer tab_not-a-real-token"}
    )
    assert forged.status == 401


async def test_a_stranger_cannot_read_a_resident(world: World) -> None:
    maria = await world.resident()
    anna, stranger = await world.person(), await world.person()
    await world.link(maria, anna)
    resp = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/circle", headers=stranger.headers
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == "not_linked"
    # Same answer for a resident that does not exist: nothing is confirmed.
    resp = await world.client.get("/api/family/residents/99999/circle", headers=stranger.headers)
    assert resp.status == 403


async def test_consent_change_and_removal(world: World) -> None:
    maria = await world.resident()
    anna = await world.person()
    link = await world.link(maria, anna, consent=["alarms", "activity"])
    forbidden = await world.client.patch(
        f"/api/family/links/{link['link_id']}", json={"consent": []}, headers=anna.headers
    )
    assert forbidden.status == 403
    changed = await world.client.patch(
        f"/api/family/links/{link['link_id']}", json={"consent": ["alarms"]}, headers=maria.headers
    )
    assert (await changed.json())["consent"] == ["alarms"]
    removed = await world.client.delete(
        f"/api/family/links/{link['link_id']}", headers=maria.headers
    )
    assert removed.status == 204
    after = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/circle", headers=anna.headers
    )
    assert after.status == 403
    # The removed member can no longer post in the old chat.
    post = await world.client.post(
        f"/api/family/conversations/{link['conversation_id']}/messages",
        json={"text": "hola"},
        headers=anna.headers,
    )
    assert post.status == 403


async def test_parallel_code_guesses_stop_at_the_limit(world: World) -> None:
    import asyncio

    from hub.family.settings import FAMILY_SETTINGS

    anna = await world.person()
    limit = world.client.app[FAMILY_SETTINGS].link_max_failures
    responses = await asyncio.gather(
        *[
            world.client.post(
                "/api/family/links",
                json={"code": "ZZZZ-ZZZZ", "relationship": "x"},
                headers=anna.headers,
            )
            for _ in range(limit + 15)
        ]
    )
    assert sorted(r.status for r in responses) == [404] * limit + [429] * 15


async def test_one_code_links_one_person_even_when_two_race(world: World) -> None:
    import asyncio

    maria = await world.resident()
    anna, pere = await world.person(), await world.person()
    code = await _code(world, maria.headers, maria.resident_id)
    responses = await asyncio.gather(
        *[
            world.client.post(
                "/api/family/links",
                json={"code": code, "relationship": "x"},
                headers=who.headers,
            )
            for who in (anna, pere)
        ]
    )
    assert sorted(r.status for r in responses) == [201, 410]
