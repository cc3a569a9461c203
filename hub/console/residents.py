"""The resident card beside an alarm, resident names for the queue, the key-safe reveal.

``GET /api/console/residents?ids=1,2`` (names for the queue), ``GET
/api/console/residents/{id}/card`` (everything the card shows), ``GET
/api/console/residents/{id}/photo`` and ``POST /api/console/residents/{id}/key-safe``
(the code, only to the operator who accepted an open alarm of the resident or to a
supervisor's flagged override; limited, and every reveal is in the audit log).
"""

from __future__ import annotations

import asyncio
import html
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from alerts.values import device_name, relationship_name
from hub.alarms.models import AlarmRow
from hub.alarms.social_worker import VISOR_ROLE, has_open_alarm, use_the_visor
from hub.appkeys import CLOCK, KEYSAFE, SESSIONMAKER, SETTINGS
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import KEYSAFE_CODES, KeySafeReveal
from hub.console.maplink import map_link
from hub.db.models import Device, Resident, StoredEvent
from hub.http import ApiError, read_checked
from hub.settings import HubSettings
from hub.throttle import Limit, release, take

LOCAL_ZONE = ZoneInfo("Europe/Madrid")
READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.ADMIN)
# The card holds medical notes: people who care for the resident, not the administrator
# of accounts (docs/roles.md).
CARD_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER)
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)
# Events that mean "someone is moving about at home" in the 24 h chart.
ACTIVITY_TYPES = (
    "motion",
    "door_open",
    "door_close",
    "bed_exit",
    "bed_return",
    "check_in",
    "prompt_answer",
    "medication_taken",
)
MAX_IDS = 200


def age_on(birth: date | None, today: date) -> int | None:
    """Age in whole years on ``today``."""
    if birth is None:
        return None
    years = today.year - birth.year
    return years - ((today.month, today.day) < (birth.month, birth.day))


def _resident_id(request: web.Request) -> int:
    try:
        return int(request.match_info["resident_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such resident") from None


async def _resident(session: AsyncSession, resident_id: int) -> Resident:
    resident = await session.get(
        Resident,
        resident_id,
        options=[selectinload(Resident.home), selectinload(Resident.contacts)],
    )
    if resident is None:
        raise ApiError(404, "not_found", "no such resident")
    return resident


async def _followed_by_the_console(
    request: web.Request, session: AsyncSession, resident_id: int
) -> None:
    """A social worker sees a card only while the resident has an open alarm; otherwise
    the record is read in the visor, with a reason (hub/alarms/social_worker.py)."""
    if current_user(request).role is VISOR_ROLE and not await has_open_alarm(session, resident_id):
        raise use_the_visor()


def summary_view(resident: Resident, today: date) -> dict[str, Any]:
    """The few facts the queue shows next to an alarm."""
    return {
        "id": resident.id,
        "name": resident.name,
        "age": age_on(resident.birth_date, today),
        "language": resident.language,
        "address": resident.home.address,
        "home_id": resident.home_id,
    }


@requires(*READERS, Role.COORDINATOR)
async def residents_summary(request: web.Request) -> web.Response:
    """Names and addresses of ``?ids=1,2,3`` (unknown ids left out); no ids: the first 500."""
    raw = request.query.get("ids", "")
    try:
        ids = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise ApiError(400, "invalid_request", "ids must be comma-separated numbers") from None
    if len(ids) > MAX_IDS:
        raise ApiError(400, "invalid_request", f"at most {MAX_IDS} ids at a time")
    today = request.app[CLOCK]().astimezone(LOCAL_ZONE).date()
    async with request.app[SESSIONMAKER]() as session:
        query = select(Resident).options(selectinload(Resident.home))
        query = query.where(Resident.id.in_(ids)) if raw else query.order_by(Resident.name)
        rows = (await session.scalars(query.limit(500))).all()
        views = [summary_view(r, today) for r in rows]
    return web.json_response({"residents": views})


async def hourly_activity(
    session: AsyncSession, home_id: int, now: datetime
) -> tuple[list[dict[str, Any]], datetime | None]:
    """Activity events per hour over the last 24 h (oldest first) and the latest one."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=24)
    device_ids = select(Device.id).where(Device.home_id == home_id)
    rows = (
        await session.execute(
            select(StoredEvent.ts).where(
                StoredEvent.device_id.in_(device_ids),
                StoredEvent.type.in_(ACTIVITY_TYPES),
                StoredEvent.ts >= start,
                StoredEvent.ts < end,
            )
        )
    ).all()
    counts = [0] * 24
    latest: datetime | None = None
    for (ts,) in rows:
        latest = ts if latest is None or ts > latest else latest
        index = int((ts - start).total_seconds() // 3600)
        if 0 <= index < 24:
            counts[index] += 1
    hours = [
        {"start": (start + timedelta(hours=i)).isoformat(), "count": counts[i]} for i in range(24)
    ]
    return hours, latest


async def resident_phone(session: AsyncSession, resident_id: int) -> str:
    """The resident's own phone: the newest service application's (empty: none given)."""
    from hub.service.models import ServiceRow

    phone = await session.scalar(
        select(ServiceRow.phone)
        .where(ServiceRow.resident_id == resident_id, ServiceRow.phone != "")
        .order_by(ServiceRow.id.desc())
        .limit(1)
    )
    return phone or ""


@requires(*CARD_READERS)
async def resident_card(request: web.Request) -> web.Response:
    """Everything the resident card shows (the alarm history comes from the alarms API)."""
    now = request.app[CLOCK]()
    today = now.astimezone(LOCAL_ZONE).date()
    reader = current_user(request).language
    async with request.app[SESSIONMAKER]() as session:
        resident = await _resident(session, _resident_id(request))
        await _followed_by_the_console(request, session, resident.id)
        home = resident.home
        devices = (
            await session.scalars(
                select(Device).where(Device.home_id == home.id).order_by(Device.type, Device.id)
            )
        ).all()
        activity, last_activity = await hourly_activity(session, home.id, now)
        neighbours = await session.scalar(
            select(func.count(Resident.id)).where(
                Resident.home_id == home.id, Resident.id != resident.id
            )
        )
        view: dict[str, Any] = {
            "resident": {
                **summary_view(resident, today),
                "birth_date": resident.birth_date.isoformat() if resident.birth_date else None,
                "medical_notes": resident.medical_notes,
                "lives_alone": resident.lives_alone,
                # How to address the person (ADR 0170): the card's words follow it.
                "address_form": resident.address_form,
                "others_at_home": neighbours or 0,
                "photo_url": f"/api/console/residents/{resident.id}/photo",
                # The person's own phone, as the service application gave it.
                "phone": await resident_phone(session, resident.id),
            },
            "home": {
                "id": home.id,
                "address": home.address,
                "access_notes": home.access_notes,
                "has_key_safe": home.key_safe_code_enc is not None,
                "lat": home.lat,
                "lon": home.lon,
                "map_url": map_link(
                    request.app[SETTINGS].map_url, home.address, home.lat, home.lon
                ),
            },
            "contacts": [
                {
                    "id": c.id,
                    "name": c.name,
                    "phone": c.phone,
                    "relationship": c.relationship_,
                    "relationship_other": c.relationship_other,
                    # a code (or a word typed before codes) in the reader's language
                    "relationship_label": relationship_name(
                        c.relationship_, reader, c.relationship_other
                    ),
                    "is_key_holder": c.is_key_holder,
                    "priority": c.priority,
                    "language": c.language,
                }
                for c in sorted(resident.contacts, key=lambda c: (c.priority, c.id))
            ],
            "devices": [
                {
                    "id": d.id,
                    "type": d.type,
                    "room": d.room,
                    "name": device_name(d.type, d.room, reader),  # one name everywhere
                    "state": d.state,
                    "battery": d.battery,
                    "last_seen": d.last_seen.isoformat() if d.last_seen else None,
                }
                for d in devices
            ],
            "activity": activity,
            "last_activity_at": last_activity.isoformat() if last_activity else None,
        }
        # Medical notes, address and contacts of a person: every read is in the audit log.
        await record_audit(
            session, current_user(request).username, "resident.read", f"resident:{resident.id}",
            {"view": "card"}, at=now,
        )  # fmt: skip
        await session.commit()
    return web.json_response(view)


KEYSAFE_ALARM_WINDOW = timedelta(days=30)  # longer than any alarm stays open
MIN_OVERRIDE_REASON = 10


def keysafe_limits(settings: HubSettings) -> tuple[Limit, Limit]:
    """Reveals per operator and alarm, and per operator and hour."""
    return (
        Limit("keysafe.alarm", settings.keysafe_reveals_per_alarm, KEYSAFE_ALARM_WINDOW),
        Limit("keysafe.user", settings.keysafe_reveals_per_hour, timedelta(hours=1)),
    )


async def _require_held(
    session: AsyncSession, alarm_id: object, resident_id: int, user_id: int
) -> str:
    """The alarm id if it is an open alarm of the resident accepted by the caller, else 403."""
    if isinstance(alarm_id, str) and 0 < len(alarm_id) <= 64:
        row = await session.get(AlarmRow, alarm_id)
        if (
            row is not None
            and row.is_open
            and row.resident_id == str(resident_id)
            and row.claimed_by == str(user_id)
        ):
            return alarm_id
    raise ApiError(
        403,
        "alarm_not_held",
        "accept an open alarm of this resident first (or, as a supervisor, use an override)",
    )


def _override_reason(data: dict[str, Any], role: Role) -> str:
    if role is not Role.SUPERVISOR:
        raise ApiError(403, "override_forbidden", "only a supervisor may override")
    reason = data.get("reason")
    if not isinstance(reason, str) or not MIN_OVERRIDE_REASON <= len(reason.strip()) <= 200:
        raise ApiError(
            400,
            "reason_required",
            f"an override needs a reason of {MIN_OVERRIDE_REASON}-200 characters",
        )
    return reason.strip()


@requires(*HANDLERS)
async def reveal_key_safe(request: web.Request) -> web.Response:
    """The key-safe code of the resident's home, for the operator who holds its alarm.

    ``{"alarm_id": "…"}``: an open alarm of this resident accepted by the caller; or
    ``{"override": true, "reason": "…"}`` by a supervisor (audited as an override). Reveals
    are limited per operator and alarm and per operator and hour (429 with Retry-After).
    """
    user = current_user(request)
    data = await read_checked(request, KeySafeReveal, KEYSAFE_CODES)
    resident_id = _resident_id(request)
    app = request.app
    now = app[CLOCK]()
    override = data.get("override") is True
    async with app[SESSIONMAKER]() as session:
        await _resident(session, resident_id)  # 404 first
        if override:
            reason, alarm_id = _override_reason(data, user.role), None
        else:
            alarm_id = await _require_held(session, data.get("alarm_id"), resident_id, user.id)
            reason = f"alarm:{alarm_id}"
    per_alarm, per_hour = keysafe_limits(app[SETTINGS])
    scope = f"alarm:{alarm_id}" if alarm_id else f"override:{resident_id}"
    counted = ((per_alarm, f"{user.id}:{scope}"), (per_hour, str(user.id)))
    async with app[SESSIONMAKER]() as session:
        for n, (limit, key) in enumerate(counted):
            slot = await take(session, limit, key, now)
            await session.commit()
            if not slot.allowed:
                for earlier, earlier_key in counted[:n]:  # refused: those do not count
                    await release(session, earlier, earlier_key)
                await session.commit()
                wait = slot.retry_after_s
                err = ApiError(
                    429, "too_many_reveals", f"too many key-safe reveals; try again in {wait} s",
                    retry_after_s=wait,
                )  # fmt: skip
                err.headers["Retry-After"] = str(wait)
                raise err
        resident = await _resident(session, resident_id)
        code = resident.home.key_safe_code(app[KEYSAFE])
        if code is None:
            for limit, key in counted:
                await release(session, limit, key)
            await session.commit()
            raise ApiError(404, "no_key_safe", "this home has no key safe on record")
        # The audit entry names who, which home and why: never the code itself.
        details: dict[str, Any] = {"resident_id": resident.id, "reason": reason}
        if alarm_id:
            details["alarm_id"] = alarm_id
        else:
            details["override"] = True
        await record_audit(
            session,
            user.username,
            "keysafe.override" if override else "keysafe.reveal",
            f"home:{resident.home_id}",
            details,
            at=now,
        )
        await session.commit()
    return web.json_response({"code": code}, headers={"Cache-Control": "no-store"})


def initials_svg(name: str) -> str:
    """A calm placeholder portrait with the resident's initials."""
    letters = "".join(part[0] for part in name.split()[:2] if part).upper() or "?"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120" width="120" height="120">'
        '<rect width="120" height="120" rx="12" fill="#dbe4f0"/>'
        '<text x="60" y="74" font-family="sans-serif" font-size="44" font-weight="700" '
        f'text-anchor="middle" fill="#14213d">{html.escape(letters)}</text></svg>'
    )


@requires(*READERS)
async def resident_photo(request: web.Request) -> web.StreamResponse:
    """The resident's photo (from the hub's data folder) or an initials placeholder."""
    async with request.app[SESSIONMAKER]() as session:
        resident = await _resident(session, _resident_id(request))
        await _followed_by_the_console(request, session, resident.id)
    headers = {"Cache-Control": "private, max-age=300"}
    if resident.photo_path:
        root = request.app[SETTINGS].data_path.resolve()
        path = (root / resident.photo_path).resolve()
        # Only files inside the data folder: a stored path cannot point elsewhere.
        if path.is_relative_to(root) and await asyncio.to_thread(path.is_file):
            return web.FileResponse(path, headers=headers)
    return web.Response(
        text=initials_svg(resident.name), content_type="image/svg+xml", headers=headers
    )
