"""The tablet against the real hub's family API: messages, badge, receipts, photos, codes."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tablet_app.controller import SilentRinger, TabletController
from tablet_app.family import FamilyClient, FamilyError
from tablet_app.link import Broker, HubLink
from tablet_app.model import MarkRead, Screen, TabletModel
from tablet_app.outbox import Outbox
from tests.family.conftest import Person, Tablet, World


def token_of(tablet: Tablet) -> str:
    return tablet.headers["Authorization"].removeprefix("Bearer ")


async def direct_conversation(world: World, person: Person, tablet: Tablet) -> int:
    resp = await world.client.post(
        "/api/family/conversations", json={"with": tablet.party}, headers=person.headers
    )
    assert resp.status in (200, 201), await resp.text()
    return int((await resp.json())["id"])


async def say(world: World, person: Person, cid: int, **body: Any) -> dict[str, Any]:
    resp = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json=body, headers=person.headers
    )
    assert resp.status == 201, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


def client_for(world: World, tablet: Tablet, model: TabletModel, tmp_path: Path) -> FamilyClient:
    base = str(world.client.make_url("/"))
    return FamilyClient(base, token_of(tablet), tablet.resident_id, model, tmp_path / "media")


async def until(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_message_arrives_with_its_badge_and_is_read(world: World, tmp_path: Path) -> None:
    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)
    cid = await direct_conversation(world, anna, tablet)
    await say(world, anna, cid, text="Hola mama! Demà vinc a les 10.")

    model = TabletModel(language="ca")
    family = client_for(world, tablet, model, tmp_path)
    try:
        await family.refresh()
        assert [c.name for c in model.contacts] == ["Anna"]
        assert model.unread_count() == 1
        [message] = model.messages
        assert message.text == "Hola mama! Demà vinc a les 10."
        assert not message.outgoing

        model.open_conversation(anna.party)
        [receipt] = [e for e in model.take_effects() if isinstance(e, MarkRead)]
        family.mark_read(receipt.message_ids)

        async def unread_on_hub() -> int:
            resp = await world.client.get("/api/family/unread", headers=tablet.headers)
            return int((await resp.json())["total"])

        async with asyncio.timeout(20):
            while await unread_on_hub():
                await asyncio.sleep(0.05)
        # and the sender sees the receipt
        resp = await world.client.get(
            f"/api/family/conversations/{cid}/messages", headers=anna.headers
        )
        assert tablet.party in (await resp.json())["messages"][0]["read_by"]
        await family.refresh()
        assert model.unread_count() == 0
    finally:
        await family.close()


async def test_a_photo_is_downloaded_for_full_screen(world: World, tmp_path: Path) -> None:
    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)
    cid = await direct_conversation(world, anna, tablet)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(picture, format="PNG")
    resp = await world.client.post(
        "/api/family/media?kind=photo", data=picture.getvalue(), headers=anna.headers
    )
    assert resp.status == 201, await resp.text()
    media_id = (await resp.json())["media_id"]
    await say(world, anna, cid, media_id=media_id, text="La platja")

    model = TabletModel(language="en")
    family = client_for(world, tablet, model, tmp_path)
    try:
        await family.refresh()
        [photo] = model.messages
        assert photo.kind == "photo"
        assert photo.media is not None
        with Image.open(photo.media) as image:
            assert image.size == (64, 48)
    finally:
        await family.close()


async def test_the_tablet_makes_a_linking_code_a_family_member_can_use(
    world: World, tmp_path: Path
) -> None:
    tablet = await world.resident("Maria")
    model = TabletModel(language="en")
    family = client_for(world, tablet, model, tmp_path)
    try:
        # through the controller, as a tap on "Add family" would do
        link = HubLink("tab-x", Broker(), Outbox(tmp_path / "o.db"))
        controller = TabletController(
            model,
            link,
            speaker=_Quiet(),
            ringer=SilentRinger(),
            clock=lambda: None,
            family=family,  # type: ignore[arg-type, return-value]
        )
        model.ask_link_code()
        assert model.screen is Screen.LINK
        await until(lambda: model.link_code is not None)
        nephew = await world.person(name="Pau")
        resp = await world.client.post(
            "/api/family/links",
            json={"code": model.link_code, "relationship": "nephew"},
            headers=nephew.headers,
        )
        assert resp.status == 201, await resp.text()
        await family.refresh()
        assert [c.name for c in model.contacts] == ["Pau"]
        del controller
        link.outbox.close()
    finally:
        await family.close()


async def test_a_revoked_token_is_an_error_not_a_crash(world: World, tmp_path: Path) -> None:
    tablet = await world.resident("Maria")
    model = TabletModel()
    base = str(world.client.make_url("/"))
    family = FamilyClient(base, "tab_not-a-token", tablet.resident_id, model, tmp_path)
    try:
        with pytest.raises(FamilyError, match="401"):
            await family.refresh()
        assert model.contacts == []
    finally:
        await family.close()


class _Quiet:
    def say(self, text: str, language: str) -> None:
        pass


async def test_the_tablet_renews_its_token_and_keeps_working(
    world: World, hub_clock: Any, tmp_path: Path
) -> None:
    from datetime import datetime, timedelta

    from tablet_app.family import TabletToken

    tablet = await world.resident("Maria")
    paired = await world.pair_tablet(tablet.resident_id)
    renew_at = datetime.fromisoformat(paired["api_token_renew_at"])
    expires_at = datetime.fromisoformat(paired["api_token_expires_at"])
    assert hub_clock() < renew_at < expires_at
    stored: list[TabletToken] = []
    model = TabletModel()
    family = FamilyClient(
        str(world.client.make_url("/")),
        paired["api_token"],
        tablet.resident_id,
        model,
        tmp_path,
        renew_at=renew_at,
        on_new_token=stored.append,
    )
    try:
        assert not await family.renew_token_if_due(renew_at - timedelta(seconds=1))
        assert stored == []
        hub_clock.advance(renew_at - hub_clock())
        assert await family.renew_token_if_due(hub_clock())
        [renewed] = stored
        assert renewed.token != paired["api_token"]
        assert renewed.expires_at is not None
        assert renewed.expires_at > expires_at
        assert family.renew_at == renewed.renew_at
        # Past the first token's expiry the tablet still reads its conversations.
        hub_clock.advance(expires_at - hub_clock() + timedelta(seconds=1))
        await family.refresh()
        old = await world.client.get(
            "/api/family/me", headers={"Authorization": f"Bearer {paired['api_token']}"}
        )
        assert old.status == 401
    finally:
        await family.close()


async def test_my_people_on_the_tablet_against_the_real_hub(world: World, tmp_path: Path) -> None:
    """A code made with "alarms" grants alarms; the resident narrows it and takes the person
    out; the relative's open socket hears both; the hub holds what the screen shows."""
    tablet = await world.resident("Maria")
    model = TabletModel(language="ca")
    family = client_for(world, tablet, model, tmp_path)
    link = HubLink("tab-c", Broker(), Outbox(tmp_path / "o.db"))
    try:
        controller = TabletController(
            model,
            link,
            speaker=_Quiet(),
            ringer=SilentRinger(),
            clock=lambda: None,
            family=family,  # type: ignore[arg-type, return-value]
        )
        model.start_new_link()
        model.toggle_grant("alarms")
        model.ask_link_code()
        await until(lambda: model.link_code is not None)
        assert model.link_granted == frozenset({"alarms"})
        pau = await world.person(name="Pau")
        resp = await world.client.post(
            "/api/family/links",
            json={"code": model.link_code, "relationship": "nét"},
            headers=pau.headers,
        )
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["consent"] == ["alarms"]

        model.open_circle()
        await until(lambda: len(model.circle) == 1)
        [member] = model.circle
        assert (member.name, member.relationship, member.scopes) == ("Pau", "nét", {"alarms"})

        async def on_hub() -> list[dict[str, Any]]:
            got = await world.client.get(
                f"/api/family/residents/{tablet.resident_id}/circle", headers=tablet.headers
            )
            body: list[dict[str, Any]] = await got.json()
            return body

        async with world.client.ws_connect("/api/family/ws", headers=pau.headers) as ws:
            model.show_member(member.link_id)
            model.toggle_scope("alarms")
            model.toggle_scope("agenda")
            while True:
                frame = await asyncio.wait_for(ws.receive_json(), 30)
                if frame["type"] == "circle.changed" and frame["consent"] == ["agenda"]:
                    break
            async with asyncio.timeout(20):
                while (await on_hub())[0]["consent"] != ["agenda"]:
                    await asyncio.sleep(0.05)
            model.ask_remove_member()
            model.remove_member()
            while True:
                frame = await asyncio.wait_for(ws.receive_json(), 30)
                if frame["type"] == "circle.changed" and frame["removed"]:
                    break
        async with asyncio.timeout(20):
            while await on_hub():
                await asyncio.sleep(0.05)
        await until(lambda: model.circle == [] and model.screen is Screen.CIRCLE)
        del controller
    finally:
        link.outbox.close()
        await family.close()


async def test_a_change_by_the_centre_reaches_the_tablet_at_once(
    world: World, tmp_path: Path
) -> None:
    """The centre narrows what Anna may see and then takes her out: the tablet's live link
    (circle.changed) redraws My people without the resident touching anything."""
    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(tablet, anna, consent=["alarms", "agenda"])
    model = TabletModel(language="es")
    family = client_for(world, tablet, model, tmp_path)
    live = asyncio.create_task(family.live(retry_s=0.1))
    try:
        await family.load_circle()
        model.show_member(str(link["link_id"]))
        async with asyncio.timeout(20):
            await family.live_connected.wait()
        url = f"/api/family/links/{link['link_id']}"
        changed = await world.client.patch(
            url, json={"consent": ["agenda"], "reason": "Ella lo pidió"}, headers=world.operator
        )
        assert changed.status == 200
        await until(
            lambda: model.open_member() is not None and model.open_member().scopes == {"agenda"}
        )  # type: ignore[union-attr]
        gone = await world.client.delete(
            url, json={"reason": "Ella lo pidió"}, headers=world.operator
        )
        assert gone.status == 204
        await until(lambda: model.circle == [] and model.screen is Screen.CIRCLE)
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await family.close()


async def test_without_the_hub_a_choice_is_put_back_and_the_screen_says_so(
    tmp_path: Path,
) -> None:
    """Nothing listens at the hub's address: the tablet must not show Anna as no longer
    told of alarms while the hub still tells her."""
    from tablet_app.circle import CircleMember
    from teleassist.localbroker import free_port

    model = TabletModel(language="ca")
    anna = CircleMember("5", "u:3", "Anna", "filla", frozenset({"alarms"}))
    model.circle = [anna]
    family = FamilyClient(
        f"http://127.0.0.1:{free_port()}", "tab_x", 1, model, tmp_path / "media", timeout_s=5
    )
    try:
        model.show_member("5")
        model.toggle_scope("alarms")
        [change] = model.take_effects()
        family.change_consent(change.link_id, change.scopes, change.before)  # type: ignore[union-attr]
        await until(lambda: model.circle_not_saved)
        assert model.circle == [anna]
        model.ask_remove_member()
        model.remove_member()
        [removal] = model.take_effects()
        family.remove_member(removal.link_id, removal.before)  # type: ignore[union-attr]
        await until(lambda: model.circle_not_saved and model.circle == [anna])
    finally:
        await family.close()
