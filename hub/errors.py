"""The one root of the hub's own errors (issue 25, item 5).

Every error the hub raises on purpose -- a handler's :class:`hub.http.ApiError`, a domain
refusal such as a consent that does not allow a read or a service transition that does not
apply -- is a :class:`HubError`: a stable ``code`` for clients and translations, a
``message`` for people, and the HTTP ``status`` the error middleware answers with when no
handler turns it into something more specific. No dependency, so pure domain modules can
raise it without importing the web stack.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """A refusal the hub means: ``code`` (stable), ``message``, default HTTP ``status``."""

    code: str = "error"
    status: int = 400

    def __init__(
        self, message: str = "", *, code: str | None = None, status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra: dict[str, Any] = extra
        self.headers: dict[str, str] = {}
