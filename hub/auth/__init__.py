"""Sign-in and roles: Argon2id passwords, JWT access/refresh tokens, role checks."""

from hub.auth.roles import STAFF, Role
from hub.auth.service import (
    AuthError,
    TokenPair,
    UserExistsError,
    create_user,
    login,
    logout,
    refresh,
)
from hub.auth.web import CurrentUser, authenticate, current_user, required_roles, requires

__all__ = [
    "STAFF",
    "AuthError",
    "CurrentUser",
    "Role",
    "TokenPair",
    "UserExistsError",
    "authenticate",
    "create_user",
    "current_user",
    "login",
    "logout",
    "refresh",
    "required_roles",
    "requires",
]
