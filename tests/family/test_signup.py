"""Relatives join by themselves (issue 21, item 3): a linking code, their own e-mail or
phone verified through real SMS and SMTP stand-ins, a password; resets the same way; and
every limit that keeps the hub from being a way to flood someone's phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from hub.auth import Role
from hub.clock import ManualClock
from teleassist.config import Config, load_config
from tests.family.conftest import Tablet, World
from tests.family.standins import SmsGateway, SmtpServer, message_standins

PASSWORD = "a long walk by the sea"


@pytest.fixture
async def standins() -> AsyncIterator[tuple[SmsGateway, SmtpServer]]:
    async with message_standins() as both:
        yield both


@pytest.fixture
def hub_config(standins: tuple[SmsGateway, SmtpServer]) -> Config:
    sms, smtp = standins
    return load_config().with_overrides(
        "alarms", sms_url=sms.url, sms_token=sms.token, smtp_host="127.0.0.1", smtp_port=smtp.port
    )


@pytest.fixture
def sms(standins: tuple[SmsGateway, SmtpServer]) -> SmsGateway:
    return standins[0]


@pytest.fixture
def smtp(standins: tuple[SmsGateway, SmtpServer]) -> SmtpServer:
    return standins[1]


async def _code(world: World, tablet: Tablet, consent: list[str]) -> str:
    resp = await world.client.post(
        f"/api/family/residents/{tablet.resident_id}/linking-codes",
        json={"consent": consent},
        headers=tablet.headers,
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["code"])


def _form(code: str, contact: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "contact": contact,
        "name": "Jordi Puig",
        "relationship": "nét",
        "password": PASSWORD,
        "language": "ca",
    } | extra


async def test_a_relative_joins_with_a_code_and_their_phone(world: World, sms: SmsGateway) -> None:
    tablet = await world.resident("Maria")
    code = await _code(world, tablet, ["alarms"])
    client = world.client
    resp = await client.post("/api/family/signup", json=_form(code, "612 34 56 78"))
    assert resp.status == 202, await resp.text()
    started = await resp.json()
    assert started["sent_to"] == "••••••••••78"
    [message] = sms.sent
    assert message["to"] == "+34612345678"
    assert "codi per crear el compte" in message["text"]  # in the language asked for
    [sent] = sms.codes()
    verify = f"/api/family/signup/{started['signup_id']}/verify"
    wrong = "000000" if sent != "000000" else "111111"
    resp = await client.post(verify, json={"code": wrong})
    assert resp.status == 400
    assert (await resp.json())["tries_left"] == 4
    resp = await client.post(verify, json={"code": sent})
    assert resp.status == 201, await resp.text()
    pair = await resp.json()
    assert pair["user"]["username"] == "+34612345678"
    assert pair["user"]["role"] == "family"
    assert pair["user"]["display_name"] == "Jordi Puig"
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    resp = await client.get("/api/family/residents", headers=headers)
    [resident] = await resp.json()
    assert resident["resident_id"] == tablet.resident_id
    assert resident["consent"] == ["alarms"]  # what the tablet's code granted, no more
    # The same code twice: done, and the linking code is used.
    resp = await client.post(verify, json={"code": sent})
    assert (resp.status, (await resp.json())["error"]) == (410, "verification_used")
    resp = await client.post("/api/family/signup", json=_form(code, "+34 699 000 111"))
    assert (resp.status, (await resp.json())["error"]) == (410, "code_used")
    # Signs in on a phone with the number and the password.
    resp = await client.post(
        "/api/auth/login", json={"username": "+34612345678", "password": PASSWORD}
    )
    assert resp.status == 200


async def test_by_email_and_an_existing_account_is_told_to_sign_in(
    world: World, smtp: SmtpServer
) -> None:
    tablet = await world.resident()
    client = world.client
    resp = await client.post(
        "/api/family/signup",
        json=_form(await _code(world, tablet, []), "Jordi@Example.ORG", language="es"),
    )
    assert resp.status == 202, await resp.text()
    signup_id = (await resp.json())["signup_id"]
    [message] = smtp.messages
    assert message["To"] == "jordi@example.org"
    assert message["Subject"] == "Su código de Teleassist"
    resp = await client.post(
        f"/api/family/signup/{signup_id}/verify", json={"code": smtp.codes()[0]}
    )
    assert resp.status == 201
    # Someone (maybe not Jordi) starts again with that address: the answer is the same,
    # the message tells the owner to sign in, and no code makes a second account.
    resp = await client.post(
        "/api/family/signup", json=_form(await _code(world, tablet, []), "jordi@example.org")
    )
    assert resp.status == 202
    second_id = (await resp.json())["signup_id"]
    assert "ya tiene una cuenta" not in smtp.messages[-1].get_content()
    assert "ja teniu un compte" in smtp.messages[-1].get_content()
    assert len(smtp.codes()) == 1  # no code in that message
    for guess in ("000000", "123456", smtp.codes()[0]):
        resp = await client.post(f"/api/family/signup/{second_id}/verify", json={"code": guess})
        assert (resp.status, (await resp.json())["error"]) == (400, "verification_wrong")
    resp = await client.post(f"/api/family/signup/{second_id}x/verify", json={"code": "1"})
    assert (resp.status, (await resp.json())["error"]) == (404, "signup_unknown")


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"code": "ABC"}, 400, "code_malformed"),
        ({"code": "ABCD-2345"}, 404, "code_unknown"),
        ({"contact": "not a contact"}, 400, "contact_invalid"),
        ({"contact": "12345"}, 400, "contact_invalid"),
        ({"contact": "a@b"}, 400, "contact_invalid"),
        ({"password": "short"}, 400, "password_weak"),
        ({"password": "jordi puig 2027"}, 400, "password_weak"),
        ({"password": "aaaaaaaaaaaa"}, 400, "password_weak"),
        ({"password": 1234567890}, 400, "invalid_request"),
        ({"language": "fr"}, 400, "invalid_request"),
        ({"name": ""}, 400, "invalid_request"),
        ({"relationship": "x" * 61}, 400, "text_too_long"),
    ],
)
async def test_bad_sign_ups_are_refused_and_send_nothing(
    world: World, sms: SmsGateway, change: dict[str, Any], status: int, error: str
) -> None:
    tablet = await world.resident()
    form = _form(await _code(world, tablet, []), "612345678") | change
    resp = await world.client.post("/api/family/signup", json=form)
    assert (resp.status, (await resp.json())["error"]) == (status, error)
    assert sms.sent == []


async def test_an_expired_or_withdrawn_code_sends_nothing(
    world: World, sms: SmsGateway, hub_clock: ManualClock
) -> None:
    tablet = await world.resident()
    code = await _code(world, tablet, [])
    hub_clock.advance(timedelta(days=2))
    resp = await world.client.post("/api/family/signup", json=_form(code, "612345678"))
    assert (resp.status, (await resp.json())["error"]) == (410, "code_expired")
    assert sms.sent == []


async def test_code_guessing_and_message_flooding_are_limited(
    world: World, sms: SmsGateway, hub_clock: ManualClock
) -> None:
    tablet = await world.resident()
    client = world.client
    for _ in range(5):
        resp = await client.post("/api/family/signup", json=_form("ABCD-2345", "612345678"))
        assert resp.status == 404
    good = await _code(world, tablet, [])
    resp = await client.post("/api/family/signup", json=_form(good, "612345678"))
    assert resp.status == 429  # even a good code, until the window has passed
    assert int(resp.headers["Retry-After"]) > 0
    hub_clock.advance(timedelta(minutes=16))
    # Three messages per contact per hour, whatever codes are used.
    for _ in range(3):
        resp = await client.post("/api/family/signup", json=_form(good, "612345678"))
        assert resp.status == 202, await resp.text()
    resp = await client.post("/api/family/signup", json=_form(good, "612345678"))
    assert (resp.status, (await resp.json())["error"]) == (429, "too_many_requests")
    assert len(sms.sent) == 3
    hub_clock.advance(timedelta(hours=1))
    resp = await client.post("/api/family/signup", json=_form(good, "612345678"))
    assert resp.status == 202


async def test_five_wrong_codes_or_fifteen_minutes_end_a_sign_up(
    world: World, sms: SmsGateway, hub_clock: ManualClock
) -> None:
    tablet = await world.resident()
    client = world.client
    code = await _code(world, tablet, [])
    resp = await client.post("/api/family/signup", json=_form(code, "612345678"))
    signup_id = (await resp.json())["signup_id"]
    [sent] = sms.codes()
    wrong = "000000" if sent != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        resp = await client.post(f"/api/family/signup/{signup_id}/verify", json={"code": wrong})
        assert (await resp.json())["tries_left"] == left
    resp = await client.post(f"/api/family/signup/{signup_id}/verify", json={"code": sent})
    assert (resp.status, (await resp.json())["error"]) == (410, "verification_locked")
    resp = await client.post("/api/family/signup", json=_form(code, "612345678"))
    signup_id = (await resp.json())["signup_id"]
    hub_clock.advance(timedelta(minutes=15))
    resp = await client.post(
        f"/api/family/signup/{signup_id}/verify", json={"code": sms.codes()[-1]}
    )
    assert (resp.status, (await resp.json())["error"]) == (410, "verification_expired")


async def test_a_forgotten_password_is_reset_with_a_code(world: World, sms: SmsGateway) -> None:
    tablet = await world.resident()
    client = world.client
    resp = await client.post(
        "/api/family/signup", json=_form(await _code(world, tablet, []), "612345678")
    )
    signup_id = (await resp.json())["signup_id"]
    resp = await client.post(
        f"/api/family/signup/{signup_id}/verify", json={"code": sms.codes()[-1]}
    )
    old = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    # Unknown contact and a staff account: the same answer, nothing sent.
    await world.make_user(Role.OPERATOR, username="+34699111222")
    for contact in ("699 000 000", "699 111 222"):
        resp = await client.post("/api/auth/password-reset", json={"contact": contact})
        assert resp.status == 202
        assert set(await resp.json()) == {"reset_id", "sent_to", "expires_at"}
    assert len(sms.sent) == 1
    resp = await client.post("/api/auth/password-reset", json={"contact": "+34612345678"})
    reset = (await resp.json())["reset_id"]
    assert len(sms.sent) == 2
    assert "canviar la contrasenya" in sms.sent[-1]["text"]
    code = sms.codes()[-1]
    confirm = f"/api/auth/password-reset/{reset}/confirm"
    wrong = "000000" if code != "000000" else "111111"
    resp = await client.post(confirm, json={"code": wrong, "password": "new and long enough"})
    assert (resp.status, (await resp.json())["error"]) == (400, "verification_wrong")
    resp = await client.post(confirm, json={"code": code, "password": "short"})
    assert (resp.status, (await resp.json())["error"]) == (400, "password_weak")
    resp = await client.post(confirm, json={"code": code, "password": "new and long enough"})
    assert resp.status == 204, await resp.text()
    resp = await client.post(confirm, json={"code": code, "password": "another long one"})
    assert (resp.status, (await resp.json())["error"]) == (410, "verification_used")
    # Every earlier sign-in ended; the old password no longer works, the new one does.
    resp = await client.get("/api/family/residents", headers=old)
    assert resp.status == 401
    login = {"username": "+34612345678", "password": PASSWORD}
    assert (await client.post("/api/auth/login", json=login)).status == 401
    login["password"] = "new and long enough"
    assert (await client.post("/api/auth/login", json=login)).status == 200
