"""User administration (admin only) and each user's own language.

``GET/POST /api/admin/users``, ``PATCH /api/admin/users/{id}`` (role, language, name,
active, new password, unlock) and ``PUT /api/me/language``. Every change is audited;
passwords and hashes never leave the hub nor enter the audit log.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.appkeys import CLOCK, SESSIONMAKER, access_ended
from hub.audit import record_audit
from hub.auth import Role, UserExistsError, create_user, current_user, requires
from hub.auth.passwords import WeakPasswordError, check_password_policy, hash_password
from hub.auth.service import end_access, unlock_account
from hub.console.bodies import (
    LANGUAGE_CODES,
    USER_CODES,
    LanguageBody,
    UserChange,
    UserCreate,
)
from hub.db.models import User
from hub.http import ApiError, read_checked
from protocol.i18n import LANGUAGES


def admin_user_view(user: User) -> dict[str, Any]:
    """What an administrator sees of a user (never the hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "language": user.language,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ApiError(400, "invalid_role", f"role must be one of: {names}") from None


def _language(value: object) -> str:
    if value not in LANGUAGES:
        raise ApiError(400, "invalid_language", "language must be ca, es or en")
    return str(value)


def _text(data: dict[str, Any], name: str, *, required: bool, limit: int = 200) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ApiError(400, "invalid_request", f"{name!r} must be text of 1 to {limit} characters")
    return value.strip()


async def _user_or_404(session: Any, user_id: str) -> User:
    try:
        ident = int(user_id)
    except ValueError:
        raise ApiError(404, "not_found", "no such user") from None
    user = await session.get(User, ident)
    if user is None:
        raise ApiError(404, "not_found", "no such user")
    return user  # type: ignore[no-any-return]


@requires(Role.ADMIN)
async def list_users(request: web.Request) -> web.Response:
    """Every user, by username."""
    async with request.app[SESSIONMAKER]() as session:
        users = (await session.scalars(select(User).order_by(User.username))).all()
    return web.json_response({"users": [admin_user_view(u) for u in users]})


@requires(Role.ADMIN)
async def add_user(request: web.Request) -> web.Response:
    """Create a user: ``username``, ``password``, ``role``, ``language``, ``display_name``."""
    admin = current_user(request)
    data = await read_checked(request, UserCreate, USER_CODES)
    username = _text(data, "username", required=True, limit=120)
    password = data.get("password")
    if not isinstance(password, str):
        raise ApiError(400, "invalid_request", "'password' must be text")
    role = _role(data.get("role"))
    language = _language(data.get("language", "ca"))
    display_name = _text(data, "display_name", required=False) or ""
    async with request.app[SESSIONMAKER]() as session:
        try:
            user = await create_user(
                session,
                str(username),
                password,
                role,
                display_name=display_name,
                language=language,
                actor=admin.username,
            )
        except WeakPasswordError as err:
            raise ApiError(400, "weak_password", str(err)) from None
        except UserExistsError as err:
            raise ApiError(409, "user_exists", str(err)) from None
        await session.commit()
        view = admin_user_view(user)
    return web.json_response(view, status=201)


@requires(Role.ADMIN)
async def change_user(request: web.Request) -> web.Response:
    """Change role, language, display name, active, password, or ``unlock``."""
    admin = current_user(request)
    data = await read_checked(request, UserChange, USER_CODES)
    known = {"role", "language", "display_name", "active", "password", "unlock"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown fields: {', '.join(unknown)}")
    async with request.app[SESSIONMAKER]() as session:
        user = await _user_or_404(session, request.match_info["user_id"])
        old_role = user.role
        changed: dict[str, Any] = {}
        if "role" in data:
            role = _role(data["role"])
            if user.id == admin.id and role is not Role.ADMIN:
                raise ApiError(409, "last_admin_guard", "you cannot remove your own admin role")
            user.role = changed["role"] = role.value
        if "language" in data:
            user.language = changed["language"] = _language(data["language"])
        if "display_name" in data:
            user.display_name = changed["display_name"] = str(
                _text(data, "display_name", required=True)
            )
        if "active" in data:
            if not isinstance(data["active"], bool):
                raise ApiError(400, "invalid_request", "'active' must be true or false")
            if user.id == admin.id and not data["active"]:
                raise ApiError(409, "last_admin_guard", "you cannot disable your own account")
            user.active = changed["active"] = data["active"]
        if "password" in data:
            password = data["password"]
            try:
                check_password_policy(password if isinstance(password, str) else "")
            except WeakPasswordError as err:
                raise ApiError(400, "weak_password", str(err)) from None
            user.password_hash = await hash_password(password)
            changed["password_changed"] = True  # never the password itself
        if data.get("unlock") is True:
            await unlock_account(session, user.username)
            changed["unlock"] = True
        if not changed:
            raise ApiError(400, "invalid_request", "nothing to change")
        await record_audit(session, admin.username, "user.update", f"user:{user.id}", changed)
        # A new password, a disabled account or another role ends every sign-in at once.
        ended = ["password_changed"] if "password_changed" in changed else []
        if user.role != old_role:
            ended.append("role")
        if changed.get("active") is False:
            ended.append("disabled")
        if ended:
            now = request.app[CLOCK]()
            await end_access(session, user, now, ",".join(ended), admin.username)
        await session.commit()
        view = admin_user_view(user)
    if ended:
        access_ended(request.app, user.id)
    return web.json_response(view)


@requires()
async def set_my_language(request: web.Request) -> web.Response:
    """The signed-in user's own language (``{"language": "es"}``)."""
    me = current_user(request)
    data = await read_checked(request, LanguageBody, LANGUAGE_CODES)
    language = _language(data.get("language"))
    async with request.app[SESSIONMAKER]() as session:
        user = await _user_or_404(session, str(me.id))
        if user.language != language:
            user.language = language
            await record_audit(
                session, me.username, "user.language", f"user:{user.id}", {"language": language}
            )
            await session.commit()
    return web.json_response({"language": language})
