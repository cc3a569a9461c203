"""Real answers of a running hub conform to the schemas its OpenAPI document gives them.

Answers of handlers that build their JSON by hand are described in ``hub/api/spec_*.py``;
this test calls a representative set of routes (each area, lists and single objects,
creations, a refusal) on a hub with demo data and validates every answer against the
document's schema for its status. Objects are checked *closed*: a field the document does not
name fails too, so the description cannot fall behind the handler in either direction.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS30Validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.openapi import openapi_document, route_table
from hub.appkeys import CLOCK, KEYSAFE
from hub.auth import Role
from hub.console.demo_data import DemoIds, seed_demo
from hub.family.settings import TRANSCODE_GATE
from tests.family.conftest import World
from tests.family.media_samples import make_samples
from tests.service.helpers import application

Headers = Callable[..., Awaitable[dict[str, str]]]


def closed(node: Any) -> Any:
    """``node`` with every object that names its properties refusing any other."""
    if isinstance(node, list):
        return [closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: closed(v) for k, v in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class Answers:
    """Validates answers against one document, remembering which operations were seen."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = closed(copy.deepcopy(document["components"]))
        self.seen: set[tuple[str, str, int]] = set()

    def _template(self, method: str, url: str) -> str:
        path = url.split("?")[0]
        matches = [
            template
            for template, item in self.document["paths"].items()
            if method.lower() in item
            and re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path)
        ]
        assert matches, f"{method} {url} is not in the document"
        # The literal route (/calls/config) wins over a parameter (/calls/{id}), as in aiohttp.
        return min(matches, key=lambda t: t.count("{"))

    async def check(self, response: Any, method: str, url: str) -> Any:
        """The answer's JSON (or text), after validating it against the document."""
        template = self._template(method, url)
        operation = self.document["paths"][template][method.lower()]
        described = operation["responses"].get(str(response.status))
        assert described is not None, (
            f"{method} {url} answered {response.status}, which the document does not list"
            f" ({sorted(operation['responses'])}): {await response.text()}"
        )
        self.seen.add((method, template, response.status))
        content = described.get("content")
        if content is None:
            assert not await response.read(), f"{method} {url}: a body the document denies"
            return None
        kind = response.content_type
        assert kind in content, f"{method} {url}: {kind} not in {sorted(content)}"
        if kind != "application/json":
            return await response.read()
        body = await response.json()
        schema = {**content[kind]["schema"], "components": self.components}
        errors = list(OAS30Validator(closed(schema)).iter_errors(body))
        assert not errors, f"{method} {url} ({response.status}): {errors[0]}\n{body}"
        return body


@pytest.fixture
async def demo(
    hub_client: TestClient[Any, Any], hub_sessionmaker: async_sessionmaker[AsyncSession]
) -> DemoIds:
    async with hub_sessionmaker() as session:
        ids = await seed_demo(session, hub_client.app[KEYSAFE], hub_client.app[CLOCK]())
        await session.commit()
    return ids


@pytest.fixture
def world(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    make_user: Any,
    token_for: Any,
) -> World:
    return World(hub_client, hub_sessionmaker, make_user, token_for)


@pytest.fixture
def answers(hub_app: Any) -> Answers:
    return Answers(openapi_document(route_table(hub_app)))


def test_a_closed_schema_refuses_an_undescribed_field() -> None:
    schema = closed({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert list(OAS30Validator(schema).iter_errors({"a": 1})) == []
    assert list(OAS30Validator(schema).iter_errors({"a": 1, "b": 2}))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_console_and_admin_answers_conform(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds, answers: Answers
) -> None:
    admin = await auth_headers(Role.ADMIN)
    supervisor = await auth_headers(Role.SUPERVISOR)
    planner = await auth_headers(Role.SOCIAL_WORKER)
    rid = demo.residents[0]

    async def call(method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
        response = await hub_client.request(method, url, headers=headers, **kw)
        return response.status, await answers.check(response, method, url)

    status, users = await call("GET", "/api/admin/users", admin)
    assert status == 200
    assert users["users"]
    status, made = await call(
        "POST",
        "/api/admin/users",
        admin,
        json={"username": "oa-new", "password": "a long enough password", "role": "operator"},
    )
    assert status == 201
    assert (await call("PATCH", f"/api/admin/users/{made['id']}", admin, json={"language": "es"}))[
        0
    ] == 200
    assert (await call("POST", "/api/admin/users", admin, json={"username": 3}))[0] == 400
    assert (await call("GET", "/api/admin/users", supervisor))[0] == 403
    assert (await call("GET", "/api/admin/users", {}))[0] == 401
    assert (await call("PUT", "/api/me/language", admin, json={"language": "en"}))[0] == 200

    status, planned = await call(
        "POST",
        "/api/console/calls",
        planner,
        json={"resident_id": rid, "reason": "other", "due_at": "2027-01-14T10:00:00+00:00"},
    )
    assert status == 201
    call_id = planned["calls"][0]["id"]
    assert (await call("GET", "/api/console/calls", supervisor))[0] == 200
    assert (
        await call(
            "POST",
            f"/api/console/calls/{call_id}/outcome",
            supervisor,
            json={"outcome": "reached_fine"},
        )
    )[0] == 200
    assert (await call("GET", "/api/console/calls?status=done", supervisor))[0] == 200
    assert (
        await call(
            "PUT", f"/api/console/residents/{rid}/call-plan", planner, json={"weekly": False}
        )
    )[0] == 200
    coordinator = await auth_headers(Role.COORDINATOR)
    heat = {"min_age": 80, "lives_alone": True}
    body = {"filters": heat}
    assert (await call("POST", "/api/console/campaigns/preview", coordinator, json=body))[0] == 200
    status, campaign = await call(
        "POST",
        "/api/console/campaigns",
        coordinator,
        json={"name": "Calor", "filters": heat, "operators": [], "priority": "high"},
    )
    assert status == 201
    assert (await call("GET", "/api/console/campaigns", coordinator))[0] == 200
    status, agenda = await call("GET", "/api/console/calls", supervisor)
    first = next(c for c in agenda["calls"] if c["campaign_id"] == campaign["id"])
    outcome = {"outcome": "no_answer"}
    url = f"/api/console/calls/{first['id']}/outcome"
    assert (await call("POST", url, supervisor, json=outcome))[0] == 200
    detail = f"/api/console/campaigns/{campaign['id']}"
    assert (await call("GET", detail, coordinator))[0] == 200
    assert (await call("POST", f"{detail}/close", coordinator))[0] == 200
    assert (await call("POST", f"{detail}/close", coordinator))[0] == 409
    assert (await call("POST", "/api/console/campaigns", coordinator, json=body))[0] == 400
    assert (await call("GET", "/api/console/protocols/edit", coordinator))[0] == 200
    steps = {"steps": [{"key": "speak", "ca": "Parleu-hi", "es": "Háblele", "en": "Speak"}]}
    own = "/api/console/protocols/fall"
    assert (await call("PUT", own, coordinator, json=steps))[0] == 200
    assert (await call("PUT", own, coordinator, json={"steps": []}))[0] == 400
    assert (await call("DELETE", own, coordinator))[0] == 204
    assert (await call("DELETE", own, coordinator))[0] == 404
    assert (await call("GET", "/api/console/maintenance", supervisor))[0] == 200
    assert (await call("GET", f"/api/console/residents?ids={rid}", supervisor))[0] == 200
    assert (await call("GET", f"/api/console/residents/{rid}/card", supervisor))[0] == 200
    assert (await call("GET", f"/api/console/residents/{rid}/photo", supervisor))[0] == 200
    assert (await call("GET", "/api/console/residents/999999/card", supervisor))[0] == 404
    assert (await call("POST", "/api/console/presence", supervisor))[0] == 204
    assert (await call("GET", "/api/console/on-shift", supervisor))[0] == 200
    assert (await call("GET", "/api/console/figures", supervisor))[0] == 200
    assert (await call("GET", "/api/console/figures.csv", supervisor))[0] == 200
    assert (await call("GET", "/api/console/figures?from=x", supervisor))[0] == 400
    device = next(d for d in demo.devices[rid] if d.endswith("-pir-living"))
    status, events = await call("GET", f"/api/devices/{device}/events?limit=2", supervisor)
    assert status == 200
    assert len(events["items"]) == 2
    assert events["items"][0]["id"] > events["items"][1]["id"]  # newest first
    older = f"/api/devices/{device}/events?before={events['next_before']}"
    status, page = await call("GET", older, supervisor)
    assert status == 200
    assert all(e["id"] < events["items"][1]["id"] for e in page["items"])
    assert (await call("GET", f"/api/devices/{device}/events?type=Bad", supervisor))[0] == 400
    assert (await call("GET", "/api/devices/nope/events", supervisor))[0] == 404
    assert (await call("GET", "/api/carephones", admin))[0] == 200
    assert (await call("GET", "/api/wsocial/outbox", admin))[0] == 200
    assert (await call("GET", "/api/wsocial/outbox/counts", admin))[0] == 200
    status, code = await call("POST", f"/api/residents/{rid}/tablet-setup-codes", admin)
    assert status == 201
    status, paired = await call("POST", "/api/tablet/pair", {}, json={"code": code["code"]})
    assert status == 200
    assert paired["api_token"].startswith("tab_")
    assert (await call("POST", "/api/tablet/pair", {}, json={"code": "12"}))[0] == 400


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_service_lifecycle_answers_conform(
    hub_client: TestClient[Any, Any], auth_headers: Headers, answers: Answers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)

    async def call(method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
        response = await hub_client.request(method, url, headers=headers, **kw)
        return response.status, await answers.check(response, method, url)

    status, made = await call("POST", "/api/service/applications", {}, json=application())
    assert status == 201
    ref, check = made["reference"], made["check_value"]
    assert (await call("POST", "/api/service/applications", {}, json={"person_name": "x"}))[
        0
    ] == 422
    status, _ = await call(
        "POST", "/api/service/applications/status", {}, json={"reference": ref, "check": check}
    )
    assert status == 200
    base = f"/api/service/referrals/{ref}"
    assert (await call("GET", "/api/service/referrals", coordinator))[0] == 200
    assess = {"care_level": "medium", "confirm_new_person": True}
    assert (await call("POST", f"{base}/assess", coordinator, json=assess))[0] == 200
    assert (await call("POST", f"{base}/care-plan", coordinator, json={"notes": "n"}))[0] == 200
    status, ordered = await call("POST", f"{base}/work-order", coordinator)
    assert status == 200
    order = f"/api/service/work-orders/{ordered['result']['work_order']}"
    assert (await call("POST", f"{order}/start", installer))[0] == 200
    pendant = {"kind": "pendant", "device_id": "oa-sv-pendant"}
    status, paired = await call("POST", f"{order}/devices", installer, json=pendant)
    assert status == 200
    assert paired["credentials"]["username"] == "oa-sv-pendant"
    tick = f"{order}/items/key_safe_recorded"
    assert (await call("POST", tick, installer, json={"code": "1234"}))[0] == 200
    assert (await call("POST", f"{order}/confirm", installer))[0] == 200
    assert (await call("GET", "/api/service/work-orders", installer))[0] == 200
    assert (await call("GET", base, coordinator))[0] == 200
    assert (await call("GET", "/api/service/referrals/TA-0000-NOPE", coordinator))[0] == 404
    assert (await call("GET", "/api/service/maintenance", coordinator))[0] == 200
    assert (await call("GET", "/api/service/figures", coordinator))[0] == 200
    assert (await call("GET", "/api/service/reviews", coordinator))[0] == 200
    consent = {"given": False, "reason": "asked by phone"}
    status, _ = await call("POST", f"{base}/consent/social-record", coordinator, json=consent)
    assert status == 200
    assert (await call("POST", f"{base}/discharge", coordinator, json={"reason": "x"}))[0] == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_family_network_answers_conform(
    world: World, answers: Answers, hub_clock: Any, tmp_path: Path
) -> None:
    client = world.client

    async def call(method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
        response = await client.request(method, url, headers=headers, **kw)
        return response.status, await answers.check(response, method, url)

    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    facilitator = await world.person(Role.FACILITATOR, name="Fina")
    rid = maria.resident_id
    assert (await call("GET", "/api/family/me", maria.headers))[0] == 200
    status, code = await call(
        "POST",
        f"/api/family/residents/{rid}/linking-codes",
        maria.headers,
        json={"consent": ["alarms", "activity", "agenda"]},
    )
    assert status == 201
    status, link = await call(
        "POST",
        "/api/family/links",
        anna.headers,
        json={"code": code["code"], "relationship": "daughter"},
    )
    assert status == 201
    assert (await call("POST", "/api/family/links", anna.headers, json={"code": " "}))[0] == 400
    assert (await call("GET", "/api/family/residents", anna.headers))[0] == 200
    assert (await call("GET", f"/api/family/residents/{rid}/circle", maria.headers))[0] == 200
    change = {"consent": ["alarms", "activity", "agenda"]}
    patched = await call(
        "PATCH", f"/api/family/links/{link['link_id']}", maria.headers, json=change
    )
    assert patched[0] == 200
    assert (await call("GET", "/api/family/conversations", anna.headers))[0] == 200
    cid = link["conversation_id"]
    status, sent = await call(
        "POST", f"/api/family/conversations/{cid}/messages", anna.headers, json={"text": "Hola"}
    )
    assert status == 201
    assert (await call("GET", f"/api/family/conversations/{cid}/messages", maria.headers))[0] == 200
    read = {"up_to": sent["id"]}
    assert (await call("POST", f"/api/family/conversations/{cid}/read", maria.headers, json=read))[
        0
    ] == 200
    assert (await call("GET", "/api/family/conversations", anna.headers))[0] == 200
    assert (await call("GET", "/api/family/unread", maria.headers))[0] == 200
    assert (await call("DELETE", f"/api/family/messages/{sent['id']}", anna.headers))[0] == 204
    # A video on its way (held from the job): the 202, the sender's page, withdrawn.
    clip = make_samples(tmp_path).webm_video
    gate = client.app[TRANSCODE_GATE]
    await gate.acquire()
    try:
        video_headers = anna.headers | {"Content-Type": "application/octet-stream"}
        status, upload = await call(
            "POST", f"/api/family/conversations/{cid}/videos", video_headers, data=clip
        )
        assert status == 202
        status, page = await call("GET", f"/api/family/conversations/{cid}/messages", anna.headers)
        assert [u["upload_id"] for u in page["uploads"]] == [upload["upload_id"]]
        path = f"/api/family/video-uploads/{upload['upload_id']}"
        assert (await call("DELETE", path, anna.headers))[0] == 204
    finally:
        gate.release()
    direct = {"with": maria.party}
    assert (await call("POST", "/api/family/conversations", anna.headers, json=direct))[0] == 200
    starts = (hub_clock() + timedelta(days=2)).isoformat()
    status, item = await call(
        "POST",
        f"/api/family/residents/{rid}/agenda",
        anna.headers,
        json={"title": "Visita", "starts_at": starts},
    )
    assert status == 201
    answer = {"answer": "accept"}
    responded = await call(
        "POST", f"/api/family/agenda/{item['id']}/respond", maria.headers, json=answer
    )
    assert responded[0] == 200
    assert (await call("GET", f"/api/family/residents/{rid}/agenda", anna.headers))[0] == 200
    status, group = await call(
        "POST", "/api/family/groups", facilitator.headers, json={"name": "Caminades"}
    )
    assert status == 201
    gid = group["id"]
    member = {"resident_id": rid}
    added = await call(
        "POST", f"/api/family/groups/{gid}/members", facilitator.headers, json=member
    )
    assert added[0] == 202
    assert (await call("GET", "/api/family/group-requests", maria.headers))[0] == 200
    joined = await call("POST", f"/api/family/groups/{gid}/respond", maria.headers, json=answer)
    assert joined[0] == 200
    assert (await call("GET", "/api/family/groups", facilitator.headers))[0] == 200
    assert (await call("GET", f"/api/family/groups/{gid}", facilitator.headers))[0] == 200
    event = {"title": "Passeig", "starts_at": starts}
    posted = await call("POST", f"/api/family/groups/{gid}/events", facilitator.headers, json=event)
    assert posted[0] == 201
    assert (await call("GET", "/api/family/invitations", maria.headers))[0] == 200
    notices = f"/api/family/residents/{rid}/alarm-notices"
    notice = {"alarm_ref": "A-1", "event_type": "panic"}
    status, made = await call("POST", notices, world.operator, json=notice)
    assert status == 201
    assert (await call("GET", notices, anna.headers))[0] == 200
    on_way = f"/api/family/alarm-notices/{made['id']}/on-my-way"
    assert (await call("POST", on_way, anna.headers))[0] == 200
    assert (await call("GET", f"/api/family/residents/{rid}/activity", anna.headers))[0] == 200
    assert (await call("GET", f"/api/family/residents/{rid}/today", anna.headers))[0] == 200
    assert (await call("GET", "/api/family/calls/config", anna.headers))[0] == 200
    assert (await call("GET", "/api/family/calls", anna.headers))[0] == 200
    assert (await call("GET", f"/api/family/residents/{rid}/tablets", world.operator))[0] == 200
    assert (await call("POST", "/api/family/tablet/token", maria.headers))[0] == 200
    assert (await call("GET", f"/api/family/residents/{rid}/today", {}))[0] == 401
    assert (await call("DELETE", f"/api/family/links/{link['link_id']}", anna.headers))[0] == 204
