"""Group membership needs the resident's (or the centre's) consent (issue 19, high 2).

A facilitator asks; before the resident accepts, the facilitator sees no name or activity,
cannot message (nor call: the same
may_contact rule) or put events on the agenda; the answer never reveals which resident
ids exist. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.auth import Role
from hub.clock import ManualClock
from hub.family.models import GroupMember
from tests.family.conftest import Person, World


async def _group(world: World, facilitator: Person) -> dict[str, Any]:
    resp = await world.client.post(
        "/api/family/groups", json={"name": "Casal Gràcia"}, headers=facilitator.headers
    )
    assert resp.status == 201
    body: dict[str, Any] = await resp.json()
    return body


async def _ask(world: World, gid: int, who: Person, resident_id: int) -> tuple[int, Any]:
    resp = await world.client.post(
        f"/api/family/groups/{gid}/members", json={"resident_id": resident_id}, headers=who.headers
    )
    return resp.status, await resp.json()


async def test_a_facilitator_reaches_no_one_before_they_accept(
    world: World, hub_clock: ManualClock
) -> None:
    laia = await world.person(Role.FACILITATOR, name="Laia")
    maria = await world.resident("Maria")
    group = await _group(world, laia)
    gid = group["id"]
    status, body = await _ask(world, gid, laia, maria.resident_id)
    assert (status, body) == (202, {"group_id": gid, "resident_id": maria.resident_id,
                                    "status": "requested"})  # fmt: skip
    # Nothing of Maria is shown, and nothing reaches her, until she accepts.
    view = await (await world.client.get(f"/api/family/groups/{gid}", headers=laia.headers)).json()
    assert (view["members"], view["member_list"]) == (0, [])
    direct = await world.client.post(
        "/api/family/conversations", json={"with": maria.party}, headers=laia.headers
    )
    assert direct.status == 403
    starts = (hub_clock() + timedelta(days=2)).isoformat()
    event = await world.client.post(
        f"/api/family/groups/{gid}/events",
        json={"title": "Taller", "starts_at": starts},
        headers=laia.headers,
    )
    assert event.status == 409
    chat = await world.client.post(
        f"/api/family/conversations/{group['conversation_id']}/messages",
        json={"text": "hola"},
        headers=maria.headers,
    )
    assert chat.status == 403
    groups = await (await world.client.get("/api/family/groups", headers=maria.headers)).json()
    assert groups == []
    # Maria sees the request, with the group and who leads it, and accepts.
    requests = await (
        await world.client.get("/api/family/group-requests", headers=maria.headers)
    ).json()
    assert [(r["group_id"], r["group_name"], r["facilitator"]["name"]) for r in requests] == [
        (gid, "Casal Gràcia", "Laia")
    ]
    accepted = await world.client.post(
        f"/api/family/groups/{gid}/respond", json={"answer": "accept"}, headers=maria.headers
    )
    assert accepted.status == 200
    assert (await accepted.json())["status"] == "accepted"
    view = await (await world.client.get(f"/api/family/groups/{gid}", headers=laia.headers)).json()
    assert [m["name"] for m in view["member_list"]] == ["Maria"]
    direct = await world.client.post(
        "/api/family/conversations", json={"with": maria.party}, headers=laia.headers
    )
    assert direct.status == 200
    again = await world.client.post(
        f"/api/family/groups/{gid}/respond", json={"answer": "accept"}, headers=maria.headers
    )
    assert again.status == 404


async def test_the_answer_does_not_reveal_which_residents_exist(world: World) -> None:
    laia = await world.person(Role.FACILITATOR)
    maria = await world.resident()
    gid = (await _group(world, laia))["id"]
    known = await _ask(world, gid, laia, maria.resident_id)
    unknown = await _ask(world, gid, laia, maria.resident_id + 1000)
    repeated = await _ask(world, gid, laia, maria.resident_id)
    assert {known[0], unknown[0], repeated[0]} == {202}
    assert known[1].keys() == unknown[1].keys() == repeated[1].keys()
    assert unknown[1]["status"] == known[1]["status"] == "requested"
    bad = await world.client.post(
        f"/api/family/groups/{gid}/members", json={"resident_id": "x"}, headers=laia.headers
    )
    assert bad.status == 400
    other = await world.person(Role.FACILITATOR)
    refused = await _ask(world, gid, other, maria.resident_id)
    assert refused[0] == 403


async def test_a_declined_request_cannot_be_repeated(world: World) -> None:
    laia = await world.person(Role.FACILITATOR)
    maria = await world.resident()
    gid = (await _group(world, laia))["id"]
    await _ask(world, gid, laia, maria.resident_id)
    declined = await world.client.post(
        f"/api/family/groups/{gid}/respond", json={"answer": "decline"}, headers=maria.headers
    )
    assert (await declined.json())["status"] == "declined"
    assert (await _ask(world, gid, laia, maria.resident_id))[0] == 202
    gone = await world.client.delete(
        f"/api/family/groups/{gid}/members/{maria.resident_id}", headers=laia.headers
    )
    assert gone.status == 204
    assert (await _ask(world, gid, laia, maria.resident_id))[0] == 202
    pending = await (
        await world.client.get("/api/family/group-requests", headers=maria.headers)
    ).json()
    assert pending == []
    async with world.sessionmaker() as session:
        row = await session.get(GroupMember, (gid, maria.resident_id))
    assert row is not None
    assert row.status == "declined"
    bad = await world.client.post(
        f"/api/family/groups/{gid}/respond", json={"answer": "maybe"}, headers=maria.headers
    )
    assert bad.status == 400


async def test_the_centre_accepts_for_a_resident_and_others_cannot(world: World) -> None:
    laia = await world.person(Role.FACILITATOR)
    maria, josep = await world.resident("Maria"), await world.resident("Josep")
    family = await world.person(Role.FAMILY)
    operator = await world.person(Role.OPERATOR)
    gid = (await _group(world, laia))["id"]
    await _ask(world, gid, laia, maria.resident_id)
    # Josep's tablet answers only for Josep; a family member answers for no one.
    wrong = await world.client.post(
        f"/api/family/groups/{gid}/respond",
        json={"answer": "accept", "resident_id": maria.resident_id},
        headers=josep.headers,
    )
    assert wrong.status == 404
    refused = await world.client.post(
        f"/api/family/groups/{gid}/respond",
        json={"answer": "accept", "resident_id": maria.resident_id},
        headers=family.headers,
    )
    assert refused.status == 403
    listed = await world.client.get(
        f"/api/family/group-requests?resident_id={maria.resident_id}", headers=operator.headers
    )
    assert [r["group_id"] for r in await listed.json()] == [gid]
    missing = await world.client.post(
        f"/api/family/groups/{gid}/respond", json={"answer": "accept"}, headers=operator.headers
    )
    assert missing.status == 400
    done = await world.client.post(
        f"/api/family/groups/{gid}/respond",
        json={"answer": "accept", "resident_id": maria.resident_id},
        headers=operator.headers,
    )
    assert (await done.json())["status"] == "accepted"
    # Staff adding a member is the centre's acceptance at once.
    added = await _ask(world, gid, operator, josep.resident_id)
    assert added == (201, {"group_id": gid, "resident_id": josep.resident_id,
                           "status": "accepted"})  # fmt: skip
    unknown = await _ask(world, gid, operator, josep.resident_id + 1000)
    assert unknown[0] == 404
    view = await (await world.client.get(f"/api/family/groups/{gid}", headers=laia.headers)).json()
    assert sorted(m["name"] for m in view["member_list"]) == ["Josep", "Maria"]
