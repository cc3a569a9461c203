"""Alarm notices for the circle (consent "alarms") and the "I'm on my way" answer."""

from __future__ import annotations

import asyncio

from alerts.channels.base import Notification, Recipient
from hub.appkeys import CLOCK
from hub.family.alarms import FamilyPushChannel
from hub.family.live import LIVE_HUB
from tests.family.conftest import World


async def test_notice_reaches_consenting_members_and_they_answer(world: World) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, pere, consent=[])
    base = f"/api/family/residents/{maria.resident_id}/alarm-notices"
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as ws:
        posted = await world.client.post(
            base, json={"alarm_ref": "A-17", "event_type": "panic"}, headers=world.operator
        )
        assert posted.status == 201
        assert (await posted.json())["pushed"] == 1
        event = await asyncio.wait_for(ws.receive_json(), 30)
        assert event["type"] == "alarm.notice"
        assert event["notice"]["event_type"] == "panic"
    notices = await (await world.client.get(base, headers=anna.headers)).json()
    assert [n["alarm_ref"] for n in notices] == ["A-17"]
    # Pere did not get consent: no notices for him, and he cannot answer.
    refused = await world.client.get(base, headers=pere.headers)
    assert refused.status == 403
    assert (await refused.json())["error"] == "consent_required"
    nid = notices[0]["id"]
    no = await world.client.post(f"/api/family/alarm-notices/{nid}/on-my-way", headers=pere.headers)
    assert no.status == 403
    ok = await world.client.post(f"/api/family/alarm-notices/{nid}/on-my-way", headers=anna.headers)
    assert [a["name"] for a in (await ok.json())["acknowledgements"]] == ["Anna"]
    # The operator sees it.
    seen = await (await world.client.get(base, headers=world.operator)).json()
    assert seen[0]["acknowledgements"][0]["party"] == anna.party
    # Only staff post notices.
    denied = await world.client.post(
        base, json={"alarm_ref": "x", "event_type": "panic"}, headers=anna.headers
    )
    assert denied.status == 403


async def test_family_push_channel_for_the_alerts_engine(world: World) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, pere, consent=["activity"])
    app = world.client.app
    channel = FamilyPushChannel(world.sessionmaker, app[LIVE_HUB], app[CLOCK])

    def note(party: str) -> Notification:
        return Notification(
            alarm_id="AL-9",
            recipient=Recipient(recipient_id=party, name="x"),
            subject="Alarm",
            text="Maria pressed her help button",
            data=(("resident_id", str(maria.resident_id)), ("event_type", "fall")),
        )

    no_consent = await channel.send(note(pere.party))
    assert not no_consent.delivered
    assert "consent" in no_consent.detail
    offline = await channel.send(note(anna.party))
    assert not offline.delivered
    assert "stored" in offline.detail
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as ws:
        await asyncio.sleep(0)  # let the socket register
        for _ in range(50):
            if app[LIVE_HUB].online(anna.party):
                break
            await asyncio.sleep(0.1)
        online = await channel.send(note(anna.party))
        assert online.delivered
        assert (await asyncio.wait_for(ws.receive_json(), 30))["type"] == "alarm.notice"
    notices = await (
        await world.client.get(
            f"/api/family/residents/{maria.resident_id}/alarm-notices", headers=anna.headers
        )
    ).json()
    assert len(notices) == 1  # one notice per alarm, updated rather than repeated


async def test_activity_summary_needs_the_activity_consent(world: World) -> None:
    from datetime import timedelta

    from hub.db.models import Device, Resident, StoredEvent

    maria = await world.resident("Maria")
    anna = await world.person()
    pere = await world.person()
    await world.link(maria, anna, consent=["activity"])
    await world.link(maria, pere, consent=["alarms"])
    now = world.client.app[CLOCK]()
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        session.add(Device(id=f"pir-{maria.resident_id}", home_id=resident.home_id, type="pir"))
        await session.flush()
        for n, (kind, ago) in enumerate([("check_in", 3), ("motion", 1), ("motion", 30)]):
            at = now - timedelta(hours=ago)
            session.add(
                StoredEvent(
                    message_id=f"m{maria.resident_id}-{n}", device_id=f"pir-{maria.resident_id}",
                    type=kind, ts=at, received_at=at, seq=n, body={},
                )
            )  # fmt: skip
        await session.commit()
    url = f"/api/family/residents/{maria.resident_id}/activity"
    summary = await (await world.client.get(url, headers=anna.headers)).json()
    assert summary["events_24h"] == 2
    assert summary["last_check_in"] == (now - timedelta(hours=3)).isoformat()
    assert summary["last_movement"] == (now - timedelta(hours=1)).isoformat()
    refused = await world.client.get(url, headers=pere.headers)
    assert refused.status == 403
    assert (await refused.json())["error"] == "consent_required"
