"""What became of what the centre sent to a tablet (issue 22, item 4; ADR 0163): a message,
a medication reminder and an agenda reminder are recorded before they are sent; the tablet's
acks (an old tablet's plain one included) move them to received, shown, postponed (until when)
and acknowledged, in device-time order and never back from acknowledged; one not acknowledged
by its expiry reads as expired. All at fixed instants of the hub's clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Explanation, PromptRequest
from alerts.channels import TabletChannel
from hub.alarms.keys import ALARM_EFFECTS
from hub.auth import Role
from hub.clock import ManualClock
from hub.ingest.delivery import DeliveryTracker, TabletDelivery
from hub.ingest.events import IngestedAck
from hub.ingest.keys import ACK_LISTENERS
from protocol import Ack, CommandState, PlayMessage, decode_command
from tests.hub.alarms.test_tablet_settings import Sent
from tests.hub.ingest.helpers import seed_home

Headers = Callable[..., Awaitable[dict[str, str]]]


def _ack(
    device: str,
    command_id: str,
    at: Any,
    state: CommandState | None = None,
    *,
    until: Any = None,
    ok: bool = True,
) -> IngestedAck:
    body = Ack(command_id=command_id, ok=ok, state=state, until=until)
    return IngestedAck(device, "a" + str(id(body)), at, at, body)


async def _list(client: TestClient[Any, Any], resident: int, headers: dict[str, str]) -> Any:
    resp = await client.get(f"/api/console/residents/{resident}/messages", headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["messages"]


async def test_a_message_goes_from_sent_to_acknowledged(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    sent = Sent()
    hub_client.app[ALARM_EFFECTS].tablet = TabletChannel(sent)
    _, maria = await seed_home(hub_sessionmaker, {"tab-dl-1": "tablet"})
    operator = await auth_headers(Role.OPERATOR, username="op-dl")
    t0 = hub_clock()
    resp = await hub_client.post(
        "/api/console/messages",
        json={"resident_ids": [maria], "text": "La infermera ve a les 11"},
        headers=operator,
    )
    assert resp.status == 200
    [(_, payload)] = sent.messages
    command_id = decode_command(payload, now=t0).id
    [item] = await _list(hub_client, maria, operator)
    assert item["id"] == command_id
    assert (item["kind"], item["text"], item["sent_by"], item["state"]) == (
        "message", "La infermera ve a les 11", "op-dl", "sent",
    )  # fmt: skip

    # The hub's own ingestion hands acks to the tracker (one of its ack listeners).
    [tracker] = [x for x in hub_client.app[ACK_LISTENERS] if isinstance(x, DeliveryTracker)]
    s = timedelta(seconds=1)
    # A tablet from before ADR 0163 acks with no state: received.
    await tracker.handle_ack(_ack("tab-dl-1", command_id, t0 + s))
    assert (await _list(hub_client, maria, operator))[0]["state"] == "received"
    await tracker.handle_ack(_ack("tab-dl-1", command_id, t0 + 3 * s, "shown"))
    # An older ack arriving late (another worker, a retry) does not move it back.
    await tracker.handle_ack(_ack("tab-dl-1", command_id, t0 + 2 * s, "received"))
    # Another device, or a failed handling, changes nothing.
    await tracker.handle_ack(_ack("tab-other", command_id, t0 + 9 * s, "acknowledged"))
    await tracker.handle_ack(_ack("tab-dl-1", command_id, t0 + 9 * s, "acknowledged", ok=False))
    assert (await _list(hub_client, maria, operator))[0]["state"] == "shown"
    await tracker.handle_ack(_ack("tab-dl-1", command_id, t0 + 20 * s, "acknowledged"))
    # Acknowledged is final, even against a later "shown".
    await tracker.handle_ack(_ack("tab-dl-1", command_id, t0 + 30 * s, "shown"))
    hub_clock.advance(timedelta(hours=13))  # past the message's expiry: still acknowledged
    [item] = await _list(hub_client, maria, await auth_headers(Role.OPERATOR))
    assert item["state"] == "acknowledged"
    assert item["until"] is None


async def test_a_message_nobody_acknowledges_expires(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    hub_client.app[ALARM_EFFECTS].tablet = TabletChannel(Sent())
    _, joan = await seed_home(hub_sessionmaker, {"tab-dl-2": "tablet"})
    headers = await auth_headers(Role.SUPERVISOR)
    resp = await hub_client.post(
        "/api/console/messages", json={"resident_ids": [joan], "text": "Beveu aigua"},
        headers=headers,
    )  # fmt: skip
    assert resp.status == 200
    hub_clock.advance(timedelta(hours=12) - timedelta(seconds=1))
    headers = await auth_headers(Role.SUPERVISOR)
    assert (await _list(hub_client, joan, headers))[0]["state"] == "sent"
    hub_clock.advance(timedelta(seconds=1))
    assert (await _list(hub_client, joan, headers))[0]["state"] == "expired"


async def test_a_medication_reminder_put_off_says_when_it_rings_again(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    sent = Sent()
    effects = hub_client.app[ALARM_EFFECTS]
    effects.tablet = TabletChannel(sent)
    home, pere = await seed_home(hub_sessionmaker, {"tab-dl-3": "tablet"})
    t0 = hub_clock()
    request = PromptRequest(
        home_id=str(home), resident_id=str(pere), prompt_id="dose-1", kind="medication",
        sent_at=t0, expires=t0 + timedelta(minutes=30),
        explanation=Explanation.of("prompt_medication", schedule="insulina", due="09:00"),
        schedule="insulina",
    )  # fmt: skip
    await effects.prompt(request)
    # A wellbeing prompt is a question before an alarm, not a reminder: not listed.
    await effects.prompt(
        PromptRequest(
            home_id=str(home), resident_id=str(pere), prompt_id="wb-1", kind="inactivity",
            sent_at=t0, expires=t0 + timedelta(minutes=5),
            explanation=Explanation.of("prompt_inactivity", since="07:00"),
        )
    )  # fmt: skip
    assert len(sent.messages) == 2
    command_id = decode_command(sent.messages[0][1], now=t0).id
    headers = await auth_headers(Role.OPERATOR)
    [item] = await _list(hub_client, pere, headers)
    assert (item["id"], item["kind"], item["text"]) == (command_id, "medication", "insulina")
    assert item["expires_at"] == (t0 + timedelta(minutes=30)).isoformat()
    tracker = DeliveryTracker(lambda: hub_sessionmaker)
    again = t0 + timedelta(minutes=11)
    await tracker.handle_ack(_ack("tab-dl-3", command_id, t0, "received"))
    await tracker.handle_ack(_ack("tab-dl-3", command_id, t0, "shown"))  # same instant: further
    await tracker.handle_ack(
        _ack("tab-dl-3", command_id, t0 + timedelta(minutes=1), "postponed", until=again)
    )
    [item] = await _list(hub_client, pere, headers)
    assert (item["state"], item["until"]) == ("postponed", again.isoformat())
    # It rings again: shown, and the postponement is over, but the card still says it was put
    # off (and when until), and so it does once the reminder expired unconfirmed.
    await tracker.handle_ack(_ack("tab-dl-3", command_id, again, "shown"))
    [item] = await _list(hub_client, pere, headers)
    assert (item["state"], item["until"], item["put_off_until"]) == (
        "shown", None, again.isoformat()
    )  # fmt: skip
    hub_clock.advance(timedelta(minutes=30))
    headers = await auth_headers(Role.OPERATOR)
    [item] = await _list(hub_client, pere, headers)
    assert (item["state"], item["put_off_until"]) == ("expired", again.isoformat())
    async with hub_sessionmaker() as session:
        row = await session.get(TabletDelivery, command_id)
    assert row is not None
    assert row.device_id == "tab-dl-3"


async def test_a_message_that_asks_no_confirmation_is_done_once_shown(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    sent = Sent()
    hub_client.app[ALARM_EFFECTS].tablet = TabletChannel(sent)
    _, rosa = await seed_home(hub_sessionmaker, {"tab-dl-5": "tablet"})
    headers = await auth_headers(Role.OPERATOR)
    t0 = hub_clock()
    ids = {}
    for name, speak, confirm in (
        ("silent", False, False),
        ("asked", True, True),
        ("lost", True, False),
    ):
        resp = await hub_client.post(
            "/api/console/messages",
            json={"resident_ids": [rosa], "text": name, "speak": speak, "confirm": confirm},
            headers=headers,
        )
        assert resp.status == 200, await resp.text()
        command = decode_command(sent.messages[-1][1], now=t0)
        assert command.body == PlayMessage(text=name, language="ca", speak=speak, confirm=confirm)
        ids[name] = command.id
    tracker = DeliveryTracker(lambda: hub_sessionmaker)
    for name in ("silent", "asked"):
        await tracker.handle_ack(_ack("tab-dl-5", ids[name], t0, "shown"))
    by_text = {m["text"]: m for m in await _list(hub_client, rosa, headers)}
    assert {k: (m["state"], m["speak"], m["confirm"]) for k, m in by_text.items()} == {
        "silent": ("shown", False, False),
        "asked": ("shown", True, True),
        "lost": ("sent", True, False),
    }
    # Past the 12 h: shown was all the silent one asked; the asked one is unanswered; the one
    # the tablet never showed is lost.
    hub_clock.advance(timedelta(hours=12))
    headers = await auth_headers(Role.OPERATOR)
    states = {m["text"]: m["state"] for m in await _list(hub_client, rosa, headers)}
    assert states == {"silent": "shown", "asked": "expired", "lost": "expired"}


async def test_what_an_older_tablet_received_is_not_shown_as_expired(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    """A tablet of before ADR 0163 acks on arrival without a state and never says more:
    its reminders read "received (older tablet: cannot confirm)", not expired."""
    sent = Sent()
    effects = hub_client.app[ALARM_EFFECTS]
    effects.tablet = TabletChannel(sent)
    old_home, old = await seed_home(hub_sessionmaker, {"tab-dl-old": "tablet"})
    new_home, new = await seed_home(hub_sessionmaker, {"tab-dl-new": "tablet"})
    t0 = hub_clock()
    for home, resident in ((old_home, old), (new_home, new)):
        await effects.prompt(
            PromptRequest(
                home_id=str(home), resident_id=str(resident), prompt_id=f"dose-{resident}",
                kind="medication", sent_at=t0, expires=t0 + timedelta(minutes=30),
                explanation=Explanation.of("prompt_medication", schedule="insulina", due="09:00"),
                schedule="insulina",
            )
        )  # fmt: skip
    old_id, new_id = (decode_command(payload, now=t0).id for _, payload in sent.messages)
    tracker = DeliveryTracker(lambda: hub_sessionmaker)
    await tracker.handle_ack(_ack("tab-dl-old", old_id, t0))  # no state: an older tablet
    await tracker.handle_ack(_ack("tab-dl-new", new_id, t0, "received"))
    headers = await auth_headers(Role.OPERATOR)
    [item] = await _list(hub_client, old, headers)
    assert (item["state"], item["older_tablet"]) == ("received", True)
    hub_clock.advance(timedelta(minutes=31))
    headers = await auth_headers(Role.OPERATOR)
    [item] = await _list(hub_client, old, headers)
    assert (item["state"], item["older_tablet"]) == ("received", True)
    # A current tablet that said only "received" by the end did not show it: expired.
    [item] = await _list(hub_client, new, headers)
    assert (item["state"], item["older_tablet"]) == ("expired", False)


async def test_who_reads_the_list(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    auth_headers: Headers,
) -> None:
    _, anna = await seed_home(hub_sessionmaker, {"tab-dl-4": "tablet"})
    for role in (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR):
        assert await _list(hub_client, anna, await auth_headers(role)) == []
    for role in (Role.INSTALLER, Role.ADMIN):
        resp = await hub_client.get(
            f"/api/console/residents/{anna}/messages", headers=await auth_headers(role)
        )
        assert resp.status == 403, role
    headers = await auth_headers(Role.OPERATOR)
    for bad in ("999999", "x"):
        resp = await hub_client.get(f"/api/console/residents/{bad}/messages", headers=headers)
        assert resp.status == 404
