"""Relatives answer an alarm: "I'm on my way" / "I can't" from the app (and its push
notification), and key holders without the app by SMS with a reply code (issue 21, item 4).

Each push states the alarm's stage (raised, the centre speaking with the resident, someone
on the way, 112 called, closed), checked by the push-service stand-in that verifies VAPID
and decrypts per RFC 8291; the SMS goes to a real HTTP stand-in of the gateway that checks
each request; replies come back through the inbound webhook, and every bad reply is refused
with its own code."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Contact, Resident
from hub.family.models import AlarmAcknowledgement, SmsAnswerCode
from hub.family.webpush import new_vapid_private_key
from protocol import Panic
from teleassist.config import Config, load_config
from tests.family.conftest import Person, Tablet, World
from tests.family.push_service import PushClient, PushService, push_service
from tests.family.standins import SmsGateway, SmtpServer, message_standins

INBOUND = "gateway-inbound-token"
CODE_TTL_S = 300


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


@pytest.fixture
async def pushes() -> AsyncIterator[PushService]:
    async with push_service() as service:
        yield service


@pytest.fixture
async def standins() -> AsyncIterator[tuple[SmsGateway, SmtpServer]]:
    async with message_standins() as both:
        yield both


@pytest.fixture
def sms(standins: tuple[SmsGateway, SmtpServer]) -> SmsGateway:
    return standins[0]


@pytest.fixture
def hub_config(pushes: PushService, sms: SmsGateway) -> Config:
    return (
        load_config()
        .with_overrides("alarms", sms_url=sms.url, sms_token=sms.token)
        .with_overrides(
            "family",
            vapid_private_key=new_vapid_private_key(),
            push_allow_insecure=True,
            sms_inbound_token=INBOUND,
            sms_code_ttl_s=CODE_TTL_S,
        )
    )


async def _subscribe(world: World, pushes: PushService, who: Person, name: str) -> None:
    if not pushes.server_key:
        key = await world.client.get("/api/family/push/key", headers=who.headers)
        pushes.server_key = (await key.json())["public_key"]
    resp = await world.client.post(
        "/api/family/push/subscriptions",
        json=pushes.subscription(PushClient(name)),
        headers=who.headers,
    )
    assert resp.status == 201, await resp.text()


async def _panic(world: World, tablet: Tablet, mid: str, clock: ManualClock) -> str:
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, tablet.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    event = HomeEvent(
        home_id=home, resident_id=str(tablet.resident_id), device_id=f"{home}-pendant",
        device_type=DeviceType.PENDANT, message_id=mid, at=clock(), body=Panic(),
    )  # fmt: skip
    (change,) = await world.client.app[ALARM_ENGINE].handle_event(event)
    return str(change.alarm.id)


async def _operator(world: World, alarm_id: str, path: str, body: dict[str, Any]) -> None:
    done = await world.client.post(f"/api/alarms/{alarm_id}{path}", json=body,
                                   headers=world.operator)  # fmt: skip
    assert done.status in (200, 201), await done.text()


async def _panic_seen(
    world: World, tablet: Tablet, who: Person, mid: str, clock: ManualClock
) -> int:
    """A panic, and the id of its notice once it reached ``who``'s live socket."""
    async with world.client.ws_connect("/api/family/ws", headers=who.headers) as ws:
        await _panic(world, tablet, mid, clock)
        async with asyncio.timeout(30):
            while True:
                frame = await ws.receive_json()
                if frame["type"] == "alarm.notice":
                    return int(frame["notice"]["id"])


async def _notice_id(world: World, tablet: Tablet, who: Person) -> int:
    listed = await world.client.get(
        f"/api/family/residents/{tablet.resident_id}/alarm-notices", headers=who.headers
    )
    return int((await listed.json())[0]["id"])


async def _family_notes(world: World, alarm_id: str) -> list[dict[str, Any]]:
    alarm = await (await world.client.get(f"/api/alarms/{alarm_id}", headers=world.operator)).json()
    return [h for h in alarm["history"] if h["action"] == "note" and "family_answer" in h["detail"]]


async def _key_holder(world: World, tablet: Tablet, name: str, phone: str, lang: str = "ca") -> int:
    async with world.sessionmaker() as session:
        contact = Contact(resident_id=tablet.resident_id, name=name, phone=phone,
                          relationship_="neighbour", is_key_holder=True, language=lang)  # fmt: skip
        session.add(contact)
        await session.commit()
        return contact.id


def _alarm_sms(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the key-holder hook sent: the title, then "Teleassist: " and the stage."""
    return [s for s in sent if "\nTeleassist: " in s["text"]]


def _reply_codes(text: str) -> tuple[str, str]:
    found = re.search(r"(\d{6})\D+(\d{6})", text)
    assert found, text
    return found.group(1), found.group(2)


async def _reply(world: World, sender: str, text: str, token: str = INBOUND) -> Any:
    return await world.client.post(
        "/api/family/sms/replies",
        json={"from": sender, "text": text},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_each_push_states_the_stage_and_answers_reach_the_operator(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    bea = await world.person(name="Bea")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, bea, consent=["alarms"])
    await _subscribe(world, pushes, anna, "anna")
    alarm_id = await _panic(world, maria, "stage-1", hub_clock)
    raised = (await pushes.next()).payload
    assert raised["stage"] == "raised"
    assert raised["body"] == "Maria: ha premut el botó d'ajuda. La central ja se n'ocupa."
    assert [a["action"] for a in raised["actions"]] == ["on_my_way", "cannot"]
    assert [a["title"] for a in raised["actions"]] == ["Hi vaig", "No hi puc anar"]
    assert raised["answered"]["cannot"] == "La central sap que no hi pots anar."
    # Accepting changes no stage: no push. Speaking with Maria does.
    await _operator(world, alarm_id, "/accept", {})
    await _operator(
        world, alarm_id, "/contact-attempts", {"party": "resident", "result": "reached"}
    )
    speaking = (await pushes.next()).payload
    assert (speaking["stage"], speaking["body"]) == ("speaking", "La central parla amb Maria.")
    # Bea cannot go: no new stage. Then she changes her mind: someone is on the way.
    nid = await _notice_id(world, maria, bea)
    url = f"/api/family/alarm-notices/{nid}"
    cannot = await world.client.post(f"{url}/cannot", headers=bea.headers)
    assert cannot.status == 200, await cannot.text()
    assert [(a["name"], a["answer"]) for a in (await cannot.json())["acknowledgements"]] == [
        ("Bea", "cannot")
    ]
    again = await world.client.post(f"{url}/cannot", headers=bea.headers)
    assert (await again.json())["on_alarm"] is False  # the same answer twice: one note
    going = await world.client.post(f"{url}/on-my-way", headers=bea.headers)
    assert (await going.json())["stage"] == "on_the_way"
    on_the_way = (await pushes.next()).payload
    assert on_the_way["body"] == "Algú ja és de camí per ajudar Maria."
    notes = await _family_notes(world, alarm_id)
    assert [(n["detail"]["family_answer"], n["detail"]["channel"]) for n in notes] == [
        ("cannot", "app"),
        ("on_my_way", "app"),
    ]
    assert notes[-1]["actor"] == {"kind": "contact", "id": bea.party, "name": "Bea"}
    # No 112 gateway in this hub: the hand-off answers 502 and the operator phones 112;
    # the escalation stands on the alarm, and the family hears that 112 was called.
    handoff = await world.client.post(
        f"/api/alarms/{alarm_id}/escalations",
        json={"target": "emergency_112"},
        headers=world.operator,
    )
    assert handoff.status == 502
    called = (await pushes.next()).payload
    assert (called["stage"], called["body"]) == (
        "called_112",
        "La central ha trucat al 112 per ajudar Maria.",
    )
    await _operator(world, alarm_id, "/resolve", {"outcome": "ambulance"})
    closed = (await pushes.next()).payload
    assert (closed["stage"], closed["actions"]) == ("closed", [])
    assert pushes.received.empty()
    # Over: no more answers.
    late = await world.client.post(f"{url}/on-my-way", headers=anna.headers)
    assert (late.status, (await late.json())["error"]) == (409, "alarm_closed")


async def test_answers_are_refused_to_whoever_was_not_told(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, pere, consent=["activity"])
    nid = await _panic_seen(world, maria, anna, "refuse-1", hub_clock)
    for who, status in ((pere.headers, 403), (maria.headers, 403), (world.operator, 403)):
        resp = await world.client.post(f"/api/family/alarm-notices/{nid}/cannot", headers=who)
        assert resp.status == status
    missing = await world.client.post(
        "/api/family/alarm-notices/99999/cannot", headers=anna.headers
    )
    assert missing.status == 404


async def test_a_key_holder_without_the_app_answers_by_sms(
    world: World, sms: SmsGateway, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    joan = await _key_holder(world, maria, "Joan", "612 345 678")
    rosa = await _key_holder(world, maria, "Rosa", "+34 699 000 111", lang="es")
    # A key holder who has the app (an account on that number with push on) gets no SMS.
    lluis = await _person_on(world, "+34655000222", "Lluís")
    await _key_holder(world, maria, "Lluís", "655 000 222")
    await world.link(maria, lluis, consent=["alarms"])
    await _subscribe(world, pushes, lluis, "lluis")
    alarm_id = await _panic(world, maria, "sms-1", hub_clock)
    raised = _alarm_sms(await sms.until(2))
    assert sorted(s["to"] for s in raised) == ["+34612345678", "+34699000111"]
    to_joan = next(s for s in raised if s["to"] == "+34612345678")
    assert to_joan["reference"] == alarm_id
    assert "Maria: ha premut el botó d'ajuda. La central ja se n'ocupa." in to_joan["text"]
    yes, no = _reply_codes(to_joan["text"])
    assert f"Respon {yes} si hi vas o {no} si no hi pots anar." in to_joan["text"]
    to_rosa = next(s for s in raised if s["to"] == "+34699000111")
    assert "Responde" in to_rosa["text"]
    rosa_yes, _ = _reply_codes(to_rosa["text"])
    # Joan answers "on my way" (as people type it: spaces, a word around the code).
    answered = await _reply(world, "+34 612 345 678", f"ok {yes} gracies")
    assert answered.status == 200, await answered.text()
    assert (await answered.json())["answer"] == "on_my_way"
    assert (await answered.json())["stage"] == "on_the_way"
    notes = await _family_notes(world, alarm_id)
    assert notes[-1]["actor"]["name"] == "Joan"
    assert (notes[-1]["detail"]["family_answer"], notes[-1]["detail"]["channel"]) == (
        "on_my_way",
        "sms",
    )
    # The new stage goes out again: by push to Lluís (the one with a subscription), by SMS
    # to Joan and Rosa.
    pushed = [await pushes.next(), await pushes.next()]
    assert [(p.client, p.payload["stage"]) for p in pushed] == [
        ("lluis", "raised"),
        ("lluis", "on_the_way"),
    ]
    on_the_way = _alarm_sms(await sms.until(4))[len(raised) :]
    assert len(on_the_way) == 2
    assert all(
        "Algú ja és de camí" in s["text"] or "Alguien ya va" in s["text"] for s in on_the_way
    )
    # The relative's app shows it too.
    nid = await _notice_id(world, maria, anna)
    listed = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/alarm-notices", headers=anna.headers
    )
    [notice] = await listed.json()
    assert notice["id"] == nid
    assert [(a["party"], a["name"], a["answer"]) for a in notice["acknowledgements"]] == [
        (f"c:{joan}", "Joan", "on_my_way")
    ]
    # Replayed: the same code again.
    replay = await _reply(world, "+34612345678", yes)
    assert (replay.status, (await replay.json())["error"]) == (409, "code_used")
    # Wrong relative: Rosa's code from Joan's phone.
    wrong = await _reply(world, "+34612345678", rosa_yes)
    assert (wrong.status, (await wrong.json())["error"]) == (403, "wrong_sender")
    # Unknown code; no code; not a phone; bad or missing token.
    unknown = await _reply(world, "+34612345678", "000000" if yes != "000000" else "000001")
    assert (unknown.status, (await unknown.json())["error"]) in ((404, "code_unknown"),)
    nocode = await _reply(world, "+34612345678", "yes I am going")
    assert (nocode.status, (await nocode.json())["error"]) == (400, "code_missing")
    notphone = await _reply(world, "Joan", no)
    assert (notphone.status, (await notphone.json())["error"]) == (400, "sender_invalid")
    badtoken = await _reply(world, "+34612345678", no, token="guess")
    assert badtoken.status == 401
    bare = await world.client.post("/api/family/sms/replies", json={"from": "+34612345678",
                                                                      "text": no})  # fmt: skip
    assert bare.status == 401
    extra = await world.client.post(
        "/api/family/sms/replies",
        json={"from": "+34612345678", "text": no, "evil": 1},
        headers={"Authorization": f"Bearer {INBOUND}"},
    )
    assert extra.status == 400
    # Joan changes his mind with his other code: "cannot" (a changed answer, noted).
    changed = await _reply(world, "+34612345678", no)
    assert (await changed.json())["answer"] == "cannot"
    async with world.sessionmaker() as session:
        ack = await session.get(AlarmAcknowledgement, (nid, f"c:{joan}"))
        assert ack is not None
        assert ack.answer == "cannot"
        spent = list(await session.scalars(select(SmsAnswerCode.used_at)))
        assert sum(u is not None for u in spent) == 2
    # Expired: Rosa's codes once their time is up.
    hub_clock.advance(timedelta(seconds=CODE_TTL_S + 1))
    expired = await _reply(world, "+34699000111", rosa_yes)
    assert (expired.status, (await expired.json())["error"]) == (410, "code_expired")
    assert rosa  # Rosa's contact exists: it is her code's time, not her, that is refused


async def test_codes_end_with_the_alarm_and_the_closing_sms_has_none(
    world: World, sms: SmsGateway, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    await _key_holder(world, maria, "Joan", "+34612345678", lang="en")
    alarm_id = await _panic(world, maria, "sms-2", hub_clock)
    [first] = _alarm_sms(await sms.until(1))
    yes, _ = _reply_codes(first["text"])
    assert f"Reply {yes} if you are on your way" in first["text"]
    await _operator(world, alarm_id, "/accept", {})
    await _operator(world, alarm_id, "/resolve", {"outcome": "false_alarm"})
    closing = _alarm_sms(await sms.until(2))[-1]
    assert "The centre has closed the alarm" in closing["text"]
    assert not re.search(r"\d{6}", closing["text"])
    late = await _reply(world, "+34612345678", yes)
    assert (late.status, (await late.json())["error"]) == (410, "code_expired")


async def _person_on(world: World, phone: str, name: str) -> Person:
    """A family account whose verified contact (its username) is ``phone``."""
    token = await world.token_for(Role.FAMILY, username=phone, display_name=name)
    headers = {"Authorization": f"Bearer {token}"}
    me = await (await world.client.get("/api/family/me", headers=headers)).json()
    return Person(int(me["party"][2:]), headers, name, phone)
