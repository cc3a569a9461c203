"""Video calls with aiortc on loopback: the tablet answers, frames flow both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.ice
import pytest

from tablet_app.calls import CallEngine, SyntheticMedia


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ICE on 127.0.0.1 (aioice leaves loopback out by default); no STUN/TURN."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


class Relay:
    """What the hub does between two parties, in memory: states and verbatim signals."""

    def __init__(self) -> None:
        self.engines: dict[str, CallEngine] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.next_id = 41

    def sender(self, party: str) -> Any:
        async def send(frame: dict[str, Any]) -> None:
            self.sent.append((party, frame))
            other = next(p for p in self.engines if p != party)
            kind = frame["type"]
            if kind == "call.start":
                self.next_id += 1
                await self.engines[party].on_call_state(self.next_id, "ringing")
            elif kind == "call.accept":
                await self.engines[other].on_call_state(frame["call_id"], "accepted")
            elif kind == "call.signal":
                await self.engines[other].on_signal(frame["call_id"], frame["data"])
            elif kind in ("call.hangup", "call.decline"):
                await self.engines[other].on_call_state(frame["call_id"], "ended")

        return send


async def test_the_tablet_answers_and_frames_flow_both_ways() -> None:
    relay = Relay()
    family = CallEngine(relay.sender("u:1"), SyntheticMedia())
    tablet = CallEngine(relay.sender("r:7"), SyntheticMedia())
    relay.engines = {"u:1": family, "r:7": tablet}
    try:
        await family.place("r:7")
        assert family.call_id == 42
        await tablet.accept(42)  # the resident tapped "Answer"
        async with asyncio.timeout(60):
            await tablet.sink.wait_for(10)
            await family.sink.wait_for(10)
        assert tablet.sink.last is not None
        assert (tablet.sink.last.width, tablet.sink.last.height) == (320, 240)
        await tablet.hangup()
        assert tablet.pc is None
        assert family.pc is None  # the other side closed on "ended"
        assert ("r:7", {"type": "call.hangup", "call_id": 42}) in relay.sent
    finally:
        await family.close()
        await tablet.close()


async def test_a_receive_only_tablet_still_sees_the_caller() -> None:
    class NoDevices:
        def tracks(self, video: bool = True) -> list[Any]:
            return []

    relay = Relay()
    family = CallEngine(relay.sender("u:1"), SyntheticMedia())
    tablet = CallEngine(relay.sender("r:7"), NoDevices())
    relay.engines = {"u:1": family, "r:7": tablet}
    try:
        await family.place("r:7")
        await tablet.accept(42)
        async with asyncio.timeout(60):
            await tablet.sink.wait_for(5)
    finally:
        await family.close()
        await tablet.close()


async def test_signals_for_another_call_are_ignored() -> None:
    sent: list[dict[str, Any]] = []

    async def send(frame: dict[str, Any]) -> None:
        sent.append(frame)

    tablet = CallEngine(send, SyntheticMedia())
    await tablet.on_signal(99, {"sdp": {"type": "offer", "sdp": "garbage"}})
    assert sent == []
    assert tablet.pc is None
    await tablet.close()


# ---------------------------------------------------------------- through the real hub


async def test_an_incoming_call_through_the_hub_is_answered_and_frames_flow(
    world: Any, tmp_path: Any
) -> None:
    import contextlib
    import json

    from tablet_app.controller import SilentRinger, TabletController
    from tablet_app.family import FamilyClient
    from tablet_app.link import Broker, HubLink
    from tablet_app.model import CallState, Screen, TabletModel
    from tablet_app.outbox import Outbox

    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)

    model = TabletModel(language="en")
    token = tablet.headers["Authorization"].removeprefix("Bearer ")
    family = FamilyClient(
        str(world.client.make_url("/")), token, tablet.resident_id, model, tmp_path / "m"
    )
    family.calls = CallEngine(family.send_live, SyntheticMedia(), on_failed=model.call_ended)
    outbox = Outbox(tmp_path / "o.db")
    rings: list[bool] = []

    class Ringer(SilentRinger):
        def start(self) -> None:
            rings.append(True)

        def stop(self) -> None:
            rings.append(False)

    class Quiet:
        def say(self, text: str, language: str) -> None:
            pass

    TabletController(
        model,
        HubLink("tab-call", Broker(), outbox),
        speaker=Quiet(),
        ringer=Ringer(),
        clock=lambda: None,  # type: ignore[arg-type, return-value]
        family=family,
    )
    live = asyncio.create_task(family.live(retry_s=0.2))
    ws = await world.client.ws_connect("/api/family/ws", headers=anna.headers)

    async def anna_sends(frame: dict[str, Any]) -> None:
        await ws.send_json(frame)

    anna_phone = CallEngine(anna_sends, SyntheticMedia())

    async def anna_reads() -> None:
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame.get("type") == "call.state":
                await anna_phone.on_call_state(frame["call_id"], frame["status"])
            elif frame.get("type") == "call.signal":
                await anna_phone.on_signal(frame["call_id"], frame["data"])

    reader = asyncio.create_task(anna_reads())
    try:
        async with asyncio.timeout(20):
            await family.live_connected.wait()
        await anna_phone.place(tablet.party)
        async with asyncio.timeout(20):
            while model.call_state is not CallState.RINGING:
                await asyncio.sleep(0.02)
        assert model.screen is Screen.CALL
        assert model.call_headline() == "Anna is calling you"
        assert rings == [True]

        model.answer_call()  # the resident taps "Answer"
        assert model.call_state is CallState.TALKING
        async with asyncio.timeout(60):
            await family.calls.sink.wait_for(10)  # Anna's camera on the tablet
            await anna_phone.sink.wait_for(10)  # the tablet's camera at Anna's
        assert rings == [True, False]

        model.decline_call()  # "Hang up"
        async with asyncio.timeout(20):
            while anna_phone.pc is not None:
                await asyncio.sleep(0.02)
        assert model.call_state is CallState.ENDED
        resp = await world.client.get("/api/family/calls", headers=anna.headers)
        [call] = await resp.json()
        assert call["status"] == "ended"
        assert call["answered_at"] is not None
    finally:
        reader.cancel()
        live.cancel()
        for task in (reader, live):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ws.close()
        await anna_phone.close()
        await family.calls.close()
        await family.close()
        outbox.close()
