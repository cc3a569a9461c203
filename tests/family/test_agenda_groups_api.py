"""Agenda, reminders and groups over the real API (SQLite and PostgreSQL)."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import pytest

from hub.auth import Role
from hub.clock import ManualClock
from hub.family.reminders import REMINDERS
from hub.ingest.commands import DeviceCommands
from protocol import Reminder, decode_command
from teleassist.localbroker import MosquittoBroker
from tests.family.conftest import World
from tests.instants import AWKWARD_DAYS


def _at(clock: ManualClock, **delta: float) -> str:
    return (clock() + timedelta(**delta)).isoformat()


async def test_invitation_accept_and_decline(world: World, hub_clock: ManualClock) -> None:
    maria = await world.resident()
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["agenda"])
    await world.link(maria, pere, consent=["alarms"])
    base = f"/api/family/residents/{maria.resident_id}/agenda"
    # Pere may not see the agenda, nor put anything on it.
    for method, body in (
        ("GET", None),
        ("POST", {"title": "x", "starts_at": _at(hub_clock, days=1)}),
    ):
        refused = await world.client.request(method, base, json=body, headers=pere.headers)
        assert refused.status == 403
        assert (await refused.json())["error"] == "consent_required"
    resp = await world.client.post(
        base,
        json={"title": "Visita de l'Anna", "starts_at": _at(hub_clock, days=1), "kind": "visit"},
        headers=anna.headers,
    )
    assert resp.status == 201, await resp.text()
    visit = await resp.json()
    assert visit["status"] == "pending"
    own = await (
        await world.client.post(
            base,
            json={"title": "Metge", "starts_at": _at(hub_clock, hours=3), "kind": "appointment"},
            headers=maria.headers,
        )
    ).json()
    assert own["status"] == "confirmed"
    # Only the resident answers.
    denied = await world.client.post(
        f"/api/family/agenda/{visit['id']}/respond", json={"answer": "accept"}, headers=anna.headers
    )
    assert denied.status == 403
    ok = await world.client.post(
        f"/api/family/agenda/{visit['id']}/respond",
        json={"answer": "accept"},
        headers=maria.headers,
    )
    assert (await ok.json())["status"] == "accepted"
    again = await world.client.post(
        f"/api/family/agenda/{visit['id']}/respond",
        json={"answer": "decline"},
        headers=maria.headers,
    )
    assert again.status == 409
    items = await (await world.client.get(base, headers=maria.headers)).json()
    assert [i["title"] for i in items] == ["Metge", "Visita de l'Anna"]
    stranger = await world.person()
    assert (await world.client.get(base, headers=stranger.headers)).status == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "x"}, "invalid_request"),
        ({"title": "x", "starts_at": "tomorrow"}, "invalid_request"),
        ({"title": "x", "starts_at": "2030-01-01T10:00:00"}, "invalid_request"),
        ({"title": "x", "starts_at": "2020-01-01T10:00:00+00:00"}, "in_the_past"),
        ({"title": "", "starts_at": "2030-01-01T10:00:00+00:00"}, "invalid_request"),
        (
            {"title": "x", "starts_at": "2030-01-01T10:00:00+00:00", "kind": "party"},
            "invalid_request",
        ),
        (
            {
                "title": "x",
                "starts_at": "2030-01-01T10:00:00+00:00",
                "ends_at": "2030-01-01T09:00:00+00:00",
            },
            "invalid_request",
        ),
    ],
)
async def test_bad_agenda_items(world: World, body: dict[str, Any], code: str) -> None:
    maria = await world.resident()
    resp = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/agenda", json=body, headers=maria.headers
    )
    assert resp.status == 400
    assert (await resp.json())["error"] == code


@pytest.mark.broker
async def test_reminder_reaches_the_tablet_over_mqtt(
    world: World, hub_clock: ManualClock, mosquitto: MosquittoBroker
) -> None:
    maria = await world.resident()
    start = hub_clock() + timedelta(hours=2)
    item = await (
        await world.client.post(
            f"/api/family/residents/{maria.resident_id}/agenda",
            json={
                "title": "Metge de capçalera",
                "starts_at": start.isoformat(),
                "remind_before_s": 3600,
            },
            headers=maria.headers,
        )
    ).json()
    service = world.client.app[REMINDERS]
    # The hub's one command sender, over a real connection to the test's broker.
    connection = PahoConnection(mosquitto.port)
    service.sender = DeviceCommands(lambda: connection, hub_clock)
    async with world.sessionmaker() as session:
        from sqlalchemy import select

        from hub.family.models import TabletCredential

        device = await session.scalar(
            select(TabletCredential.device_id).where(
                TabletCredential.resident_id == maria.resident_id
            )
        )
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as sub:
        await sub.subscribe(f"ta/v1/c/{device}/#", qos=1)
        assert await service.run_due(hub_clock()) == 0  # not yet: 2 h before
        hub_clock.advance(timedelta(hours=1, seconds=1))
        async with world.client.ws_connect("/api/family/ws", headers=maria.headers) as ws:
            assert await service.run_due(hub_clock()) == 1
            event = await asyncio.wait_for(ws.receive_json(), 20)
            assert event["type"] == "agenda.reminder"
        msg = await asyncio.wait_for(anext(sub.messages), 20)
        # Stamped with the hub's time: the tablet checks it against its own clock.
        command = decode_command(bytes(msg.payload), now=hub_clock())  # type: ignore[arg-type]
        assert command.ts == hub_clock()
        assert isinstance(command.body, Reminder)
        assert command.body.reminder_id == f"agenda-{item['id']}"
        assert command.body.text == "Metge de capçalera"
        assert command.body.due == start
    # Once only.
    assert await service.run_due(hub_clock()) == 0
    connection.close()


class PahoConnection:
    """A plain paho connection with its network thread: the ingest client's publish shape."""

    def __init__(self, port: int) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_group_with_facilitator_view_events_and_invitations(
    world: World, hub_clock: ManualClock
) -> None:
    facilitator = await world.person(Role.FACILITATOR, name="Laia")
    maria, josep = await world.resident("Maria"), await world.resident("Josep")
    family = await world.person()
    denied = await world.client.post(
        "/api/family/groups", json={"name": "x"}, headers=family.headers
    )
    assert denied.status == 403
    group = await (
        await world.client.post(
            "/api/family/groups", json={"name": "Casal Gràcia"}, headers=facilitator.headers
        )
    ).json()
    gid = group["id"]
    for tablet in (maria, josep):
        await world.join_group(gid, facilitator, tablet)
    dup = await world.client.post(
        f"/api/family/groups/{gid}/members",
        json={"resident_id": maria.resident_id},
        headers=facilitator.headers,
    )
    assert dup.status == 202  # the same answer as for anyone: nothing is revealed
    # Group chat: members post, a non-member cannot.
    cid = group["conversation_id"]
    posted = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": "Bon dia a tothom"},
        headers=maria.headers,
    )  # fmt: skip
    assert posted.status == 201
    outsider = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": "hola"}, headers=family.headers
    )
    assert outsider.status == 403
    # Facilitator's direct chat with a member.
    direct = await world.client.post(
        "/api/family/conversations", json={"with": josep.party}, headers=facilitator.headers
    )
    assert direct.status == 200
    # Facilitator view: Josep has said nothing yet (not started, which is not "quiet"),
    # Maria just spoke.
    view = await (
        await world.client.get(f"/api/family/groups/{gid}", headers=facilitator.headers)
    ).json()
    quiet = {m["name"]: (m["quiet"], m["not_started"]) for m in view["member_list"]}
    assert quiet == {"Josep": (False, True), "Maria": (False, False)}
    hub_clock.advance(timedelta(days=8))
    await world.sign_in(facilitator)
    await world.sign_in(family)
    view = await (
        await world.client.get(f"/api/family/groups/{gid}", headers=facilitator.headers)
    ).json()
    maria_row = next(m for m in view["member_list"] if m["name"] == "Maria")
    assert maria_row["quiet"] is True
    assert maria_row["not_started"] is False
    assert maria_row["quiet_days"] == 8
    # Members see names but not the activity figures.
    member_view = await (
        await world.client.get(f"/api/family/groups/{gid}", headers=maria.headers)
    ).json()
    assert "quiet" not in member_view["member_list"][0]
    assert (
        await world.client.get(f"/api/family/groups/{gid}", headers=family.headers)
    ).status == 403
    # Group event: an invitation on each member's agenda.
    events = await world.client.post(
        f"/api/family/groups/{gid}/events",
        json={"title": "Taller de memòria", "starts_at": _at(hub_clock, days=2)},
        headers=facilitator.headers,
    )
    assert events.status == 201
    agenda = await (
        await world.client.get(
            f"/api/family/residents/{josep.resident_id}/agenda", headers=josep.headers
        )
    ).json()
    assert [(i["title"], i["status"], i["group_id"]) for i in agenda] == [
        ("Taller de memòria", "pending", gid)
    ]
    # Maria invites Josep into her circle; he accepts and they get a direct chat.
    inv = await (
        await world.client.post(
            f"/api/family/groups/{gid}/invitations",
            json={"to_resident": josep.resident_id},
            headers=maria.headers,
        )
    ).json()
    pending = await (
        await world.client.get("/api/family/invitations", headers=josep.headers)
    ).json()
    assert [p["from"]["name"] for p in pending] == ["Maria"]
    wrong = await world.client.post(
        f"/api/family/invitations/{inv['id']}/respond",
        json={"answer": "accept"},
        headers=maria.headers,
    )
    assert wrong.status == 404
    accepted = await (
        await world.client.post(
            f"/api/family/invitations/{inv['id']}/respond",
            json={"answer": "accept"},
            headers=josep.headers,
        )
    ).json()
    assert accepted["status"] == "accepted"
    circle = await (
        await world.client.get(
            f"/api/family/residents/{maria.resident_id}/circle", headers=maria.headers
        )
    ).json()
    assert [c["member"]["name"] for c in circle] == ["Josep"]
    hello = await world.client.post(
        f"/api/family/conversations/{accepted['conversation_id']}/messages",
        json={"text": "Hola Maria!"},
        headers=josep.headers,
    )
    assert hello.status == 201
    # Removing a member takes them out of the group chat.
    gone = await world.client.delete(
        f"/api/family/groups/{gid}/members/{maria.resident_id}", headers=facilitator.headers
    )
    assert gone.status == 204
    late = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": "hola"}, headers=maria.headers
    )
    assert late.status == 403


class RecordingSender:
    """A CommandSender that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    connected = True

    async def send(
        self, device_id: str, body: object, now: object = None, message_id: object = None
    ) -> str:
        self.sent.append((device_id, body))
        return f"m{len(self.sent)}"


@pytest.mark.parametrize("clock_start", AWKWARD_DAYS)
async def test_a_reminder_comes_its_lead_time_before_on_awkward_days(
    world: World, hub_clock: ManualClock, clock_start: datetime
) -> None:
    """Remind-before is real time: on a DST day two hours before is still 7200 s before,
    across midnight, New Year and 29 February alike."""
    maria = await world.resident()
    start = hub_clock() + timedelta(hours=3)
    resp = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/agenda",
        json={"title": "Metge", "starts_at": start.isoformat(), "remind_before_s": 7200},
        headers=maria.headers,
    )
    assert resp.status == 201, await resp.text()
    service = world.client.app[REMINDERS]
    sender = RecordingSender()
    service.sender = sender
    hub_clock.advance(timedelta(minutes=59, seconds=59))
    assert await service.run_due(hub_clock()) == 0
    hub_clock.advance(timedelta(seconds=1))
    assert await service.run_due(hub_clock()) == 1
    [(_, body)] = sender.sent
    assert isinstance(body, Reminder)
    assert body.due == start
