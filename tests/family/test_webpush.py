"""Alarm notices by Web Push (issue 21, item 4): a real alarm from the alarm engine reaches
each consenting relative's subscriptions once, encrypted for their browser and in their
language, checked by a push-service stand-in that verifies VAPID and decrypts per RFC 8291."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from alerts import DeviceType, HomeEvent
from alerts.alarm import AlarmState
from hub.alarms.keys import ALARM_ENGINE
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Resident
from hub.family.alarm_bridge import notice_for_alarm
from hub.family.live import LiveHub
from hub.family.models import PushSubscription
from hub.family.webpush import _check_endpoint, new_vapid_private_key
from hub.http import ApiError
from protocol import Fall, Panic
from teleassist.config import Config, load_config
from tests.family.conftest import Tablet, World
from tests.family.push_service import PushClient, PushService, b64, push_service

VAPID_KEY = new_vapid_private_key()


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


@pytest.fixture
async def pushes() -> AsyncIterator[PushService]:
    async with push_service() as service:
        yield service


@pytest.fixture
def hub_config(pushes: PushService) -> Config:
    return load_config().with_overrides(
        "family",
        vapid_private_key=VAPID_KEY,
        vapid_subject="mailto:centre@example.org",
        push_allow_insecure=True,  # the stand-in is http on loopback
    )


async def _subscribe(world: World, pushes: PushService, headers: dict[str, str], name: str) -> None:
    if not pushes.server_key:
        key = await world.client.get("/api/family/push/key", headers=headers)
        pushes.server_key = (await key.json())["public_key"]
    resp = await world.client.post(
        "/api/family/push/subscriptions",
        json=pushes.subscription(PushClient(name)),
        headers=headers,
    )
    assert resp.status == 201, await resp.text()


def _event(tablet: Tablet, home: str, kind: DeviceType, body: Any, mid: str, at: Any) -> HomeEvent:
    return HomeEvent(
        home_id=home, resident_id=str(tablet.resident_id), device_id=f"{home}-{kind}",
        device_type=kind, message_id=mid, at=at, body=body,
    )  # fmt: skip


async def _resolve(world: World, alarm_id: str) -> None:
    for path, body in (("/accept", {}), ("/resolve", {"outcome": "false_alarm"})):
        done = await world.client.post(
            f"/api/alarms/{alarm_id}{path}", json=body, headers=world.operator
        )
        assert done.status == 200, await done.text()


async def _home(world: World, tablet: Tablet) -> str:
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, tablet.resident_id)
        assert resident is not None
        return str(resident.home_id)


async def test_an_alarm_reaches_each_consenting_relative_once_in_their_language(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, pere, consent=["activity"])  # not alarms
    resp = await world.client.put("/api/me/language", json={"language": "es"}, headers=anna.headers)
    assert resp.status in (200, 204), await resp.text()
    await world.sign_in(anna)
    await _subscribe(world, pushes, anna.headers, "anna-phone")
    await _subscribe(world, pushes, anna.headers, "anna-laptop")
    await _subscribe(world, pushes, pere.headers, "pere-phone")
    engine = world.client.app[ALARM_ENGINE]
    home = await _home(world, maria)
    (panic,) = await engine.handle_event(
        _event(maria, home, DeviceType.PENDANT, Panic(), "push-1", hub_clock())
    )
    got = {(await pushes.next()).client: None for _ in range(2)}
    assert set(got) == {"anna-phone", "anna-laptop"}
    first = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/alarm-notices", headers=anna.headers
    )
    [notice] = await first.json()
    # The centre resolves it: one more push to each of Anna's browsers, "closed".
    await _resolve(world, panic.alarm.id)
    closed = [await pushes.next(), await pushes.next()]
    assert {c.client for c in closed} == {"anna-phone", "anna-laptop"}
    assert closed[0].payload["state"] == "closed"
    assert closed[0].payload["title"] == "Maria: alarma cerrada"
    # Nothing else came (Pere never; the accept did not change the notice).
    assert pushes.received.empty()
    assert pushes.refusals == []
    assert notice["state"] in ("open", "closed")


async def test_the_payload_is_what_the_page_shows_and_nothing_more(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    await _subscribe(world, pushes, anna.headers, "anna")
    engine = world.client.app[ALARM_ENGINE]
    home = await _home(world, maria)
    (panic,) = await engine.handle_event(
        _event(maria, home, DeviceType.PENDANT, Panic(), "push-2", hub_clock())
    )
    got = await pushes.next()
    assert got.ttl == 3600
    payload = got.payload
    assert payload["title"] == "Maria necessita ajuda"
    assert payload["body"] == "Maria: ha premut el botó d'ajuda. La central ja se n'ocupa."
    assert payload["lang"] == "ca"
    assert payload["tag"] == f"alarm-{panic.alarm.id}"
    assert payload["url"].startswith("/family#notice-")
    assert payload["stage"] == "raised"
    assert [a["action"] for a in payload["actions"]] == ["on_my_way", "cannot"]
    assert set(payload["answered"]) == {"on_my_way", "cannot", "failed"}
    assert set(payload) == {
        "type", "title", "body", "lang", "tag", "url", "notice_id", "state", "stage",
        "actions", "answered",
    }  # fmt: skip


async def test_without_an_inbound_token_the_hub_takes_no_sms_replies(world: World) -> None:
    resp = await world.client.post(
        "/api/family/sms/replies",
        json={"from": "+34612345678", "text": "123456"},
        headers={"Authorization": "Bearer "},
    )
    assert (resp.status, (await resp.json())["error"]) == (404, "not_found")


async def test_consent_withdrawn_on_the_tablet_stops_the_next_push(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    bea = await world.person(name="Bea")
    link = await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, bea, consent=["alarms"])
    await _subscribe(world, pushes, anna.headers, "anna")
    await _subscribe(world, pushes, bea.headers, "bea")
    engine = world.client.app[ALARM_ENGINE]
    home = await _home(world, maria)
    (panic,) = await engine.handle_event(
        _event(maria, home, DeviceType.PENDANT, Panic(), "w-1", hub_clock())
    )
    assert {(await pushes.next()).client, (await pushes.next()).client} == {"anna", "bea"}
    await _resolve(world, panic.alarm.id)  # a fall during an open panic joins that alarm
    assert {(await pushes.next()).client, (await pushes.next()).client} == {"anna", "bea"}
    changed = await world.client.patch(
        f"/api/family/links/{link['link_id']}", json={"consent": []}, headers=maria.headers
    )
    assert changed.status == 200
    (fall,) = await engine.handle_event(
        _event(maria, home, DeviceType.FALL_DETECTOR, Fall(), "w-2", hub_clock())
    )
    assert (await pushes.next()).client == "bea"
    # The bridge handles alarm events one after the other: once the fall's close reached
    # Bea, everything the fall's opening sent has arrived too.
    await _resolve(world, fall.alarm.id)
    closed = await pushes.next()
    assert (closed.client, closed.payload["tag"]) == ("bea", f"alarm-{fall.alarm.id}")
    assert pushes.received.empty()


async def test_a_subscription_the_push_service_forgot_is_deleted(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    await _subscribe(world, pushes, anna.headers, "old-phone")
    await _subscribe(world, pushes, anna.headers, "new-phone")
    pushes.gone.add("old-phone")
    engine = world.client.app[ALARM_ENGINE]
    home = await _home(world, maria)
    (panic,) = await engine.handle_event(
        _event(maria, home, DeviceType.PENDANT, Panic(), "g-1", hub_clock())
    )
    assert (await pushes.next()).client == "new-phone"
    # Once the close has arrived, the opening's sends (and the 410) are all done.
    await _resolve(world, panic.alarm.id)
    assert (await pushes.next()).client == "new-phone"
    async with world.sessionmaker() as session:
        left = list(await session.scalars(select(PushSubscription.endpoint)))
    assert [e.rsplit("/", 1)[1] for e in left] == ["new-phone"]


async def test_a_notice_written_again_by_another_worker_is_not_pushed_again(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    """Every worker follows every alarm and writes its notice; only the write that changed
    the row pushes. Two more "workers" write the open notice again: nothing; then both
    see the alarm resolved at the same moment: one of them closes the notice and pushes."""
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    await _subscribe(world, pushes, anna.headers, "anna")
    engine = world.client.app[ALARM_ENGINE]
    home = await _home(world, maria)
    (panic,) = await engine.handle_event(
        _event(maria, home, DeviceType.PENDANT, Panic(), "once-1", hub_clock())
    )
    assert (await pushes.next()).payload["state"] == "open"
    calls: list[str] = []

    async def on_change(notice: Any, watchers: list[str], now: Any) -> None:
        calls.append(notice.state)

    async def another_worker() -> None:
        async with world.sessionmaker() as session:
            await notice_for_alarm(session, LiveHub(), panic.alarm, hub_clock(), on_change)

    await asyncio.gather(another_worker(), another_worker())
    assert calls == []
    resolved = dataclasses.replace(panic.alarm, state=AlarmState.RESOLVED)

    async def worker_sees_it_resolved() -> None:
        async with world.sessionmaker() as session:
            await notice_for_alarm(session, LiveHub(), resolved, hub_clock(), on_change)

    await asyncio.gather(worker_sees_it_resolved(), worker_sees_it_resolved())
    assert calls == ["closed"]
    assert pushes.received.empty()  # the hub's own bridge never saw this resolution


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"endpoint": 5, "keys": {}}, "invalid_subscription"),
        ({"endpoint": "ftp://push.example/x", "keys": {}}, "invalid_subscription"),
        ({"endpoint": "https://push.example/x"}, "invalid_subscription"),
        ({"endpoint": "https://push.example/x", "keys": {"p256dh": "AAAA", "auth": "x"}},
         "invalid_subscription"),
        ({"endpoint": "https://push.example/x",
          "keys": {"p256dh": b64(b"\x04" + b"\x01" * 64), "auth": b64(b"a" * 16)}},
         "invalid_subscription"),
        ({"endpoint": "https://push.example/x",
          "keys": {"p256dh": b64(PushClient("x").public), "auth": b64(b"a" * 15)}},
         "invalid_subscription"),
        ({"endpoint": "https://" + "a" * 1100, "keys": {}}, "invalid_subscription"),
    ],
)  # fmt: skip
async def test_bad_subscriptions_are_refused(
    world: World, body: dict[str, Any], error: str
) -> None:
    anna = await world.person(name="Anna")
    resp = await world.client.post("/api/family/push/subscriptions", json=body,
                                   headers=anna.headers)  # fmt: skip
    assert (resp.status, (await resp.json())["error"]) == (400, error)


async def test_a_tablet_and_strangers_cannot_subscribe(world: World, pushes: PushService) -> None:
    maria = await world.resident("Maria")
    sub = pushes.subscription(PushClient("tablet"))
    resp = await world.client.post("/api/family/push/subscriptions", json=sub,
                                   headers=maria.headers)  # fmt: skip
    assert resp.status == 403
    resp = await world.client.post("/api/family/push/subscriptions", json=sub)
    assert resp.status == 401
    token = await world.token_for(Role.OPERATOR)
    resp = await world.client.get("/api/family/push/key",
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert resp.status == 200


def test_push_endpoints_must_be_public_https() -> None:
    assert _check_endpoint("https://fcm.googleapis.com/fcm/send/abc", False)
    for bad in (
        "http://push.example/x",
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "https://localhost/x",
        "https:///x",
    ):
        with pytest.raises(ApiError) as refused:
            _check_endpoint(bad, False)
        assert refused.value.code == "invalid_subscription", bad
    assert _check_endpoint("http://127.0.0.1:9/x", True)
