"""The endpoint permission table: every route of the app and the roles it admits.

``docs/roles.md`` holds this table between ``<!-- endpoints:begin -->`` and
``<!-- endpoints:end -->``; ``tests/console/test_roles.py`` checks that it matches the
app's router and then tries every role against every endpoint. Regenerate the table with
``teleassist hub roles-table docs/roles.md`` after adding routes (``hub.cli`` builds the app:
a context does not import the module that composes them all).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hub.auth.roles import Role
from hub.auth.web import Access, route_access

BEGIN = "<!-- endpoints:begin -->"
END = "<!-- endpoints:end -->"
PUBLIC = "public"
ANY_SIGNED_IN = "any signed-in user"
FAMILY = "tablet or any signed-in user (records checked by the handler)"
UNDECLARED = "UNDECLARED: add @requires, @page_requires, @family_api or @public"


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """One route and the access its handler declares (``roles`` only for ``Access.ROLES``;
    empty there means any signed-in user)."""

    path: str
    method: str
    access: Access
    roles: frozenset[Role] = frozenset()

    @property
    def roles_text(self) -> str:
        """The roles column of the table."""
        if self.access is Access.PUBLIC:
            return PUBLIC
        if self.access is Access.FAMILY:
            return FAMILY
        if self.access is Access.UNDECLARED:
            return UNDECLARED
        if not self.roles:
            return ANY_SIGNED_IN
        return ", ".join(r.value for r in Role if r in self.roles)


def endpoints(app: web.Application) -> list[Endpoint]:
    """Every non-static route of ``app`` (HEAD twins of GET left out), sorted by path."""
    found: set[Endpoint] = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource):
            continue
        if route.method == "HEAD":
            continue
        access, roles = route_access(route.handler)
        found.add(Endpoint(resource.canonical, route.method, access, roles))
    return sorted(found)


def undeclared(items: Iterable[Endpoint]) -> list[str]:
    """``METHOD path`` of every route whose handler declares no access."""
    return [f"{e.method} {e.path}" for e in items if e.access is Access.UNDECLARED]


def markdown_table(items: Iterable[Endpoint]) -> str:
    """The table as Markdown."""
    lines = ["| method | path | roles |", "|---|---|---|"]
    lines += [f"| {e.method} | `{e.path}` | {e.roles_text} |" for e in items]
    return "\n".join(lines)


_ROW = re.compile(r"^\| (?P<method>[A-Z*]+) \| `(?P<path>[^`]+)` \| (?P<roles>[^|]+) \|$")


def parse_table(document: str) -> list[tuple[str, str, str]]:
    """``(method, path, roles)`` rows of the table in ``document``."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {BEGIN} … {END} block")
    rows = []
    for line in document[start:end].splitlines():
        match = _ROW.match(line.strip())
        if match:
            rows.append((match["method"], match["path"], match["roles"].strip()))
    return rows


def replace_table(document: str, table: str) -> str:
    """``document`` with its table block replaced by ``table``."""
    start, end = document.index(BEGIN), document.index(END)
    return document[: start + len(BEGIN)] + "\n" + table + "\n" + document[end:]


def write_table(path: Path, app: web.Application) -> list[str]:
    """Rewrite the table in the Markdown file at ``path`` from ``app``'s router. Routes without
    a declared access stop it: they are returned (``METHOD path``) and nothing is written."""
    found = endpoints(app)
    missing = undeclared(found)
    if not missing:
        table = markdown_table(found)
        path.write_text(replace_table(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    return missing
