"""Upgrades that migrate: a database filled at an old revision reaches head with its data.

The baseline is ``wsocial_0002``: the oldest revision at which every kind of data a centre
holds exists (alarms arrive with ``alerts_0001``), and the last one before this session's
migrations (security_*, calls_0001, hub_0003, family_0002/0003, carephones_0001). There is
no tagged release yet; when there is one, its head becomes the baseline. The rows are
written with table shapes of that revision (``sqlalchemy.table``), never with today's models.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import JSON, Date, column, insert, inspect, table, text
from sqlalchemy.sql.elements import ColumnClause

from hub.auth import Role
from hub.db import SchemaMismatch, check_schema, make_engine, migration_heads, upgrade_to_head
from hub.db.base import UtcDateTime
from hub.db.migrate import upgrade_to
from hub.settings import HubSettings

BASELINE = "wsocial_0002"
AT = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

# An alarm as the engine of that revision stored it: raised, presented, accepted, a note.
_OPERATOR = {"kind": "operator", "id": "7", "name": "Marta Puig"}
_SYSTEM = {"kind": "system", "id": "system", "name": ""}
_NOTE = "Resident answered, sore knee, neighbour on the way"
_HISTORY: list[tuple[int, str, dict[str, str], str, str, list[list[str]]]] = [
    (0, "2026-03-02T09:15:00Z", _SYSTEM, "raised", "raised",
     [["rule", "panic"], ["events", "msg-0001"]]),
    (1, "2026-03-02T09:15:02Z", _SYSTEM, "presented", "presented", []),
    (2, "2026-03-02T09:15:20Z", _OPERATOR, "accepted", "accepted", []),
    (3, "2026-03-02T09:16:00Z", _OPERATOR, "note", "accepted", [["text", _NOTE]]),
]  # fmt: skip
ALARM_DATA: dict[str, Any] = {
    "id": "alarm-0001", "home_id": "1", "resident_id": "1", "category": "care",
    "rule": "panic", "priority": 1,
    "explanation": {"key": "panic", "params": [["source", "pendant"], ["time", "09:15"]],
                    "clauses": []},
    "raised_at": "2026-03-02T09:15:00Z", "state": "accepted",
    "history": [
        {"seq": s, "at": at, "actor": actor, "action": action, "state": state, "detail": d}
        for s, at, actor, action, state, d in _HISTORY
    ],
    "rules": ["panic"], "event_ids": ["msg-0001"], "claimed_by": _OPERATOR,
    "outcome": None, "voice_contact_at": None,
}  # fmt: skip


def _col(name: str, value: object) -> ColumnClause[Any]:
    if isinstance(value, datetime):
        return column(name, UtcDateTime())
    if isinstance(value, date):
        return column(name, Date())
    if isinstance(value, dict | list):
        return column(name, JSON())
    return column(name)


async def _put(conn: Any, name: str, *rows: dict[str, object]) -> None:
    """Insert ``rows`` into table ``name`` as it is at the baseline revision."""
    shape = table(name, *(_col(key, value) for key, value in rows[0].items()))
    await conn.execute(insert(shape), list(rows))


async def _fill_at_baseline(url: str) -> None:
    """A small centre: two residents, devices, a panic with its alarm, family messages."""
    t = AT
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await _put(
                conn, "users",
                *({"id": uid, "username": name, "password_hash": "x", "role": role,
                   "language": "ca", "display_name": display, "failed_logins": 0,
                   "locked_until": None, "active": True, "created_at": t - timedelta(days=90)}
                  for uid, name, role, display in (
                      (7, "marta", "operator", "Marta Puig"),
                      (8, "jordi", "family", "Jordi Vidal"),
                      (9, "laia", "facilitator", "Laia Soler")))
            )  # fmt: skip
            await _put(
                conn, "homes",
                *({"id": hid, "address": address, "abss_area": "Girona-1",
                   "key_safe_code_enc": None, "access_notes": "", "lat": 41.98,
                   "lon": 2.82, "created_at": t - timedelta(days=60)}
                  for hid, address in ((1, "Carrer Major 3"), (2, "Placa Nova 1")))
            )  # fmt: skip
            await _put(
                conn, "residents",
                *({"id": rid, "home_id": rid, "name": name, "birth_date": date(1938, 5, 1),
                   "language": "ca", "medical_notes": "diabetis", "lives_alone": True,
                   "consent": {"wsocial": True}, "photo_path": None,
                   "created_at": t - timedelta(days=60)}
                  for rid, name in ((1, "Maria Vidal"), (2, "Pere Soler")))
            )  # fmt: skip
            await _put(
                conn, "contacts",
                {"id": 1, "resident_id": 1, "name": "Jordi Vidal", "phone": "+34600000001",
                 "email": "", "relationship": "son", "is_key_holder": True, "priority": 1,
                 "language": "ca"},
            )  # fmt: skip
            await _put(
                conn, "devices",
                *({"id": did, "home_id": home, "type": kind, "room": None,
                   "secret_hash": None, "firmware": "1.2", "battery": 90, "last_seen": t,
                   "state": "active", "created_at": t - timedelta(days=60),
                   "resident_id": home, "gateway_id": None, "state_reason": "",
                   "tampered": False}
                  for did, home, kind in (
                      ("pendant-1", 1, "pendant"), ("tablet-1", 1, "tablet"),
                      ("pendant-2", 2, "pendant")))
            )  # fmt: skip
            await _put(
                conn, "events",
                *({"id": n, "message_id": mid, "device_id": did, "type": kind, "ts": at,
                   "received_at": at + timedelta(seconds=1), "seq": n, "body": {"seq": n}}
                  for n, mid, did, kind, at in (
                      (1, "msg-0001", "pendant-1", "panic", t),
                      (2, "msg-0002", "pendant-1", "heartbeat", t + timedelta(minutes=5)),
                      (3, "msg-0003", "pendant-2", "heartbeat", t)))
            )  # fmt: skip
            await _put(
                conn,
                "alarm_processed_events",
                {"message_id": "msg-0001", "at": t},
                {"message_id": "msg-0003", "at": t},
            )
            await _put(
                conn, "alarms",
                {"id": "alarm-0001", "home_id": "1", "resident_id": "1", "category": "care",
                 "rule": "panic", "priority": 1, "state": "accepted", "is_open": True,
                 "raised_at": t, "updated_at": t + timedelta(minutes=1), "claimed_by": "7",
                 "outcome": None, "next_action_at": t + timedelta(minutes=10), "version": 4,
                 "data": ALARM_DATA},
            )  # fmt: skip
            await _put(
                conn, "alarm_history",
                *({"alarm_id": "alarm-0001", "seq": s,
                   "at": datetime.fromisoformat(at.replace("Z", "+00:00")),
                   "actor_kind": actor["kind"], "actor_id": actor["id"],
                   "actor_name": actor["name"], "action": action, "state": state,
                   "detail": dict(d)}
                  for s, at, actor, action, state, d in _HISTORY)
            )  # fmt: skip
            await _put(
                conn, "family_tablets",
                {"device_id": "tablet-1", "resident_id": 1, "token_hash": "a" * 64,
                 "created_at": t},
                # A pairing whose device was never a tablet of hers: security_0001 drops it.
                {"device_id": "pendant-2", "resident_id": 1, "token_hash": "b" * 64,
                 "created_at": t},
            )  # fmt: skip
            await _put(
                conn, "family_links",
                {"id": 1, "resident_id": 1, "member": "u:8", "relationship": "son",
                 "consent": "alarms,messages", "created_at": t},
            )  # fmt: skip
            await _put(
                conn, "family_conversations",
                {"id": 1, "kind": "direct", "direct_key": "r:1|u:8", "group_id": None,
                 "created_at": t, "last_message_at": t + timedelta(minutes=2)},
                {"id": 2, "kind": "group", "direct_key": None, "group_id": 1,
                 "created_at": t, "last_message_at": None},
            )  # fmt: skip
            await _put(
                conn, "family_conversation_members",
                *({"conversation_id": c, "party": p, "last_read_id": 0, "joined_at": t}
                  for c, p in ((1, "r:1"), (1, "u:8"), (2, "r:1"), (2, "r:2"), (2, "u:9")))
            )  # fmt: skip
            await _put(
                conn, "family_messages",
                *({"id": n, "conversation_id": 1, "sender": sender, "kind": "text",
                   "text": body, "media_id": None, "created_at": t + timedelta(minutes=n),
                   "deleted_at": None}
                  for n, sender, body in ((1, "u:8", "Com estas, mare?"),
                                          (2, "r:1", "Be, ja ha vingut la veina")))
            )  # fmt: skip
            await _put(
                conn, "family_groups",
                {"id": 1, "name": "Cafe de dijous", "facilitator_id": 9, "conversation_id": 2,
                 "created_at": t},
            )  # fmt: skip
            await _put(
                conn,
                "family_group_members",
                {"group_id": 1, "resident_id": 1, "joined_at": t},
                {"group_id": 1, "resident_id": 2, "joined_at": t},
            )
            # The same alarm noticed twice (before family_0003): one survives, with its ack.
            await _put(
                conn, "family_alarm_notices",
                *({"id": n, "resident_id": 1, "alarm_ref": "alarm-0001",
                   "event_type": "panic", "state": "open", "created_at": t}
                  for n in (1, 2))
            )  # fmt: skip
            await _put(
                conn,
                "family_alarm_acks",
                {"notice_id": 1, "party": "u:8", "at": t + timedelta(minutes=1)},
            )
            await _put(
                conn, "family_calls",
                {"id": 1, "caller": "u:8", "callee": "r:1", "status": "ended",
                 "started_at": t, "answered_at": t, "ended_at": t + timedelta(minutes=3),
                 "ended_by": "u:8"},
            )  # fmt: skip
            await _put(
                conn, "wsocial_outbox",
                {"id": 1, "event_id": "evt-1", "kind": "alarm", "resident_id": "1",
                 "ordering_key": "1", "payload": json.dumps({"alarm": "alarm-0001"}),
                 "state": "pending", "attempts": 0, "created_at": t, "next_attempt_at": t,
                 "last_error": None, "delivered_at": None},
            )  # fmt: skip
            if engine.dialect.name == "postgresql":  # ids were given: move the sequences on
                for name in ("users", "homes", "residents", "events", "family_messages"):
                    await conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100)")
                    )
    finally:
        await engine.dispose()


async def _columns(url: str, table_name: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda c: inspect(c).get_columns(table_name))
            return {str(c["name"]) for c in found}
    finally:
        await engine.dispose()


async def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """Replaces the suite's fixture: a database filled at the baseline, then upgraded."""
    await upgrade_to(empty_database_url, BASELINE)
    await _fill_at_baseline(empty_database_url)
    await upgrade_to_head(empty_database_url)
    return empty_database_url


@pytest.fixture
def clock_start() -> datetime:
    """The hub reopens the centre two minutes after the operator's note."""
    return AT + timedelta(minutes=3)


async def test_data_survives_the_upgrade(database_url: str) -> None:
    url = database_url
    assert await _rows(url, "SELECT version_num FROM alembic_version") == [migration_heads()]
    assert await _rows(url, "SELECT id, name FROM residents ORDER BY id") == [
        (1, "Maria Vidal"), (2, "Pere Soler"),
    ]  # fmt: skip
    assert await _rows(url, "SELECT id, home_id FROM devices ORDER BY id") == [
        ("pendant-1", 1), ("pendant-2", 2), ("tablet-1", 1),
    ]  # fmt: skip
    assert await _rows(url, "SELECT device_id, message_id FROM events ORDER BY id") == [
        ("pendant-1", "msg-0001"), ("pendant-1", "msg-0002"), ("pendant-2", "msg-0003"),
    ]  # fmt: skip
    # hub_0003: the ledger learnt each event's device.
    assert await _rows(
        url, "SELECT device_id, message_id FROM alarm_processed_events ORDER BY message_id"
    ) == [("pendant-1", "msg-0001"), ("pendant-2", "msg-0003")]
    assert await _rows(url, "SELECT sender, text FROM family_messages ORDER BY id") == [
        ("u:8", "Com estas, mare?"), ("r:1", "Be, ja ha vingut la veina"),
    ]  # fmt: skip
    assert await _rows(url, "SELECT count(*) FROM contacts") == [(1,)]
    # security_0001: the real tablet keeps its pairing (with an expiry), the stray one goes.
    tablets = await _rows(url, "SELECT device_id, expires_at FROM family_tablets")
    assert [device for device, _ in tablets] == ["tablet-1"]
    assert tablets[0][1] is not None
    # security_0002: members from before consent are accepted members.
    assert await _rows(
        url, "SELECT resident_id, status FROM family_group_members ORDER BY resident_id"
    ) == [(1, "accepted"), (2, "accepted")]
    # family_0002: an existing link keeps seeing the agenda.
    assert await _rows(url, "SELECT consent FROM family_links") == [("agenda,alarms,messages",)]
    # family_0003: one notice per alarm, the first with its acknowledgement.
    assert await _rows(url, "SELECT id FROM family_alarm_notices") == [(1,)]
    assert await _rows(url, "SELECT notice_id, party FROM family_alarm_acks") == [(1, "u:8")]
    # calls_0001: earlier calls are family calls.
    assert await _rows(url, "SELECT kind, status FROM family_calls") == [("family", "ended")]
    assert await _rows(url, "SELECT token_version FROM users ORDER BY id") == [(0,), (0,), (0,)]
    # security_0005: the unused lock-out columns are gone, the accounts are not.
    assert await _rows(url, "SELECT id, username, role, active FROM users ORDER BY id") == [
        (7, "marta", "operator", True), (8, "jordi", "family", True),
        (9, "laia", "facilitator", True),
    ]  # fmt: skip
    users = await _columns(url, "users")
    assert {"failed_logins", "locked_until"}.isdisjoint(users), users
    assert {"username", "password_hash", "token_version"} <= users
    assert await _rows(url, "SELECT event_id, state FROM wsocial_outbox") == [("evt-1", "pending")]


async def test_the_hub_serves_the_upgraded_alarm_with_its_history(
    database_url: str,
    hub_client: TestClient[Any, Any],
    auth_headers: Callable[..., Awaitable[dict[str, str]]],
) -> None:
    # migrate_on_start is off (hub_settings): the upgraded schema is the one it knows.
    headers = await auth_headers(Role.SUPERVISOR)
    response = await hub_client.get("/api/alarms/alarm-0001", headers=headers)
    assert response.status == 200, await response.text()
    alarm = await response.json()
    assert alarm["state"] == "accepted"
    assert [entry["action"] for entry in alarm["history"]] == [
        "raised", "presented", "accepted", "note",
    ]  # fmt: skip
    assert _NOTE in json.dumps(alarm["history"])
    listed = await hub_client.get("/api/alarms", headers=headers)
    assert listed.status == 200
    assert "alarm-0001" in await listed.text()


async def test_the_oldest_schema_upgrades_with_its_core_data(empty_database_url: str) -> None:
    """From the very first migration (hub_0001: no alarms or family yet): homes, residents,
    contacts, devices with their events and the audit log reach head unchanged (hub_0002
    rebuilds ``devices`` on SQLite while events still point at it)."""
    url, t = empty_database_url, AT
    await upgrade_to(url, "hub_0001")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await _put(conn, "homes", {"id": 1, "address": "Carrer Major 3",
                       "abss_area": "Girona-1", "key_safe_code_enc": None,
                       "access_notes": "porta verda", "lat": None, "lon": None,
                       "created_at": t})  # fmt: skip
            await _put(conn, "residents", {"id": 1, "home_id": 1, "name": "Maria Vidal",
                       "birth_date": date(1938, 5, 1), "language": "ca",
                       "medical_notes": "", "lives_alone": True, "consent": {},
                       "photo_path": None, "created_at": t})  # fmt: skip
            await _put(conn, "contacts", {"id": 1, "resident_id": 1, "name": "Jordi Vidal",
                       "phone": "+34600000001", "email": "", "relationship": "son",
                       "is_key_holder": True, "priority": 1, "language": "ca"})  # fmt: skip
            await _put(conn, "devices", {"id": "pendant-1", "home_id": 1, "type": "pendant",
                       "room": "bedroom", "secret_hash": None, "firmware": "1.0",
                       "battery": 80, "last_seen": t, "state": "active",
                       "created_at": t})  # fmt: skip
            await _put(conn, "events", *({"id": n, "message_id": f"m-{n}",
                       "device_id": "pendant-1", "type": "heartbeat",
                       "ts": t + timedelta(minutes=n), "received_at": t, "seq": n,
                       "body": {"battery": 80}} for n in (1, 2)))  # fmt: skip
            await _put(conn, "audit_log", {"id": 1, "actor": "admin", "action": "home.create",
                       "object": "home:1", "at": t, "details": {}})  # fmt: skip
    finally:
        await engine.dispose()
    await upgrade_to_head(url)
    assert await _rows(url, "SELECT version_num FROM alembic_version") == [migration_heads()]
    assert await _rows(url, "SELECT id, home_id, room, resident_id FROM devices") == [
        ("pendant-1", 1, "bedroom", None)
    ]
    assert await _rows(url, "SELECT message_id, device_id FROM events ORDER BY id") == [
        ("m-1", "pendant-1"), ("m-2", "pendant-1"),
    ]  # fmt: skip
    assert await _rows(url, "SELECT name FROM residents") == [("Maria Vidal",)]
    assert await _rows(url, "SELECT phone FROM contacts") == [("+34600000001",)]
    assert await _rows(url, "SELECT action FROM audit_log") == [("home.create",)]


async def test_a_schema_from_a_newer_release_is_refused(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'zz_9999_future'"))
    finally:
        await engine.dispose()
    for will_migrate in (True, False):
        with pytest.raises(SchemaMismatch, match=r"zz_9999_future.*do not know"):
            await check_schema(empty_database_url, will_migrate=will_migrate)


async def test_a_schema_behind_head_needs_migrate_on_start(empty_database_url: str) -> None:
    await upgrade_to(empty_database_url, BASELINE)
    with pytest.raises(SchemaMismatch, match=f"at {BASELINE} but this hub needs"):
        await check_schema(empty_database_url, will_migrate=False)
    await check_schema(empty_database_url, will_migrate=True)  # it will upgrade: fine


async def test_an_empty_database_without_migrate_on_start_is_refused(
    empty_database_url: str,
) -> None:
    with pytest.raises(SchemaMismatch, match=r"at no schema .*teleassist hub migrate"):
        await check_schema(empty_database_url, will_migrate=False)
    await check_schema(empty_database_url, will_migrate=True)
    await upgrade_to_head(empty_database_url)
    await check_schema(empty_database_url, will_migrate=False)


async def test_the_hub_does_not_start_on_an_unknown_schema(
    empty_database_url: str,
    tmp_path: Any,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    from hub.app import create_app

    await upgrade_to(empty_database_url, BASELINE)
    settings = HubSettings(
        data_dir=str(tmp_path / "hub-data"),
        database_url=empty_database_url,
        migrate_on_start=False,
        http_port=0,
        weekly_signals_enabled=False,
    )
    with pytest.raises(SchemaMismatch, match="teleassist hub migrate"):
        await aiohttp_client(create_app(settings))
    # Nothing was written: still at the baseline.
    assert await _rows(empty_database_url, "SELECT version_num FROM alembic_version") == [
        (BASELINE,)
    ]


async def test_the_command_line_refuses_a_newer_schema_with_a_message(
    empty_database_url: str, tmp_path: Any
) -> None:
    """``teleassist hub`` (serve) and ``teleassist hub migrate``: exit 2, one clear line."""
    await upgrade_to_head(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'zz_9999_future'"))
    finally:
        await engine.dispose()
    base = [sys.executable, "-m", "teleassist", "hub", "--database-url", empty_database_url,
            "--data-dir", str(tmp_path / "hub-data"), "--port", "0"]  # fmt: skip
    for extra in (["--no-ingest"], ["migrate"]):
        process = await asyncio.create_subprocess_exec(
            *base, *extra, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 2, stderr.decode()
        assert "zz_9999_future, which this hub's migrations do not know" in stderr.decode()
        assert "Traceback" not in stderr.decode()
    assert await _rows(empty_database_url, "SELECT version_num FROM alembic_version") == [
        ("zz_9999_future",)
    ]
