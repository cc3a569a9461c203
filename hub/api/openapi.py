"""The OpenAPI 3.0 document of the hub's read, provisioning and sign-in API.

Request and response bodies that handlers validate with msgspec structs are described from
those structs (:func:`struct_schemas`), so the document and the handlers cannot disagree.
``tests/hub/api/test_openapi_coverage.py`` lists every ``/api/`` route and fails for one the
document lacks (the routes not described yet are listed there, and the list only shrinks).
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

import msgspec
from aiohttp import web

from hub.alarms.bodies import (
    ContactAttemptBody,
    EscalationAnswer,
    EscalationBody,
    NoteBody,
    ResolveBody,
)
from hub.alarms.views import AlarmCodes, AlarmList, AlarmView
from hub.api import spec_console, spec_family, spec_service
from hub.api.described import NULL, Op, operation, who_may
from hub.auth.bodies import LoginBody, RefreshBody, TokenPair, UserView
from hub.auth.roles import Role
from hub.auth.web import Access
from hub.registry.bodies import (
    Credentials,
    DeviceCreate,
    DeviceRevoke,
    DeviceRevoked,
    HomeCreate,
    HomeCreated,
)
from protocol.messages import Token

_REF = "#/components/schemas/{name}"


def _package_version() -> str:
    """The installed distribution's version (the hub does not import the shell for it)."""
    try:
        return metadata.version("teleassist")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _openapi_30(node: Any) -> Any:
    """JSON Schema 2020-12 as msgspec writes it → the OpenAPI 3.0 dialect (``nullable``)."""
    if isinstance(node, list):
        return [_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    # OpenAPI 3.0 wants no title here and no empty list of required properties.
    node = {k: _openapi_30(v) for k, v in node.items() if k != "title" and v != []}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        node.pop("anyOf")
        base = rest[0] if len(rest) == 1 else {"anyOf": rest}
        if "$ref" in base:  # see hub.api.described.NULL
            return {"anyOf": [base, NULL], **node}
        node = {**base, **node, "nullable": True}
        if "enum" in node:  # OpenAPI 3.0.3: a nullable enum lists null among its values
            node["enum"] = [*node["enum"], None]
    if node.get("default", ...) is None:  # absent is null already; 3.0 cannot check it
        del node["default"]
    return node


def struct_schemas(*types: type) -> dict[str, Any]:
    """Component schemas of msgspec structs (or dataclasses), in the OpenAPI 3.0 dialect."""
    _, components = msgspec.json.schema_components(types, ref_template=_REF)
    return {name: _openapi_30(schema) for name, schema in components.items()}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "description": "A stable code (`error`) and a text for people; some refusals say more:"
    " the fields of a refused form, how long to wait, who holds an alarm or a home.",
    "properties": {
        "error": STR,
        "message": STR,
        "detail": STR,
        "field": STR,
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {"field": STR, "code": STR, "message": STR},
            },
        },
        "existing": STR,
        "retry_after_s": INT,
        "attempts": INT,
        "alarm": {"type": "object"},
        "claimed_by": {"type": "object", "nullable": True},
        "held_by": {"type": "object"},
    },
}

LAST_VALUE = {
    "type": "object",
    "required": ["kind", "value", "unit", "ts"],
    "properties": {"kind": STR, "value": NUM, "unit": STR, "ts": TIME},
}

DEVICE = {
    "type": "object",
    "required": ["id", "home_id", "type", "state", "last_values"],
    "properties": {
        "id": STR,
        "home_id": INT,
        "type": STR,
        "room": _nullable(STR),
        "state": {"type": "string", "enum": ["unknown", "online", "offline", "revoked"]},
        "state_reason": STR,
        "battery": _nullable(INT),
        "firmware": _nullable(STR),
        "tampered": BOOL,
        "last_seen": _nullable(TIME),
        "gateway_id": _nullable(STR),
        "resident_id": _nullable(INT),
        "last_values": {"type": "array", "items": {"$ref": "#/components/schemas/LastValue"}},
    },
}

RESIDENT = {
    "type": "object",
    "required": ["id", "home_id", "name", "language", "lives_alone"],
    "properties": {
        "id": INT,
        "home_id": INT,
        "name": STR,
        "birth_date": _nullable({"type": "string", "format": "date"}),
        "language": {"type": "string", "enum": ["ca", "es", "en"]},
        "lives_alone": BOOL,
    },
}

HOME_SUMMARY = {
    "type": "object",
    "required": ["id", "address", "abss_area", "residents", "device_count"],
    "properties": {
        "id": INT,
        "address": STR,
        "abss_area": STR,
        "lat": _nullable(NUM),
        "lon": _nullable(NUM),
        "residents": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": INT, "name": STR},
            },
        },
        "device_count": INT,
    },
}

HOME = {
    "type": "object",
    "required": ["id", "address", "residents", "devices", "has_key_safe"],
    "properties": {
        **HOME_SUMMARY["properties"],  # type: ignore[dict-item]
        "access_notes": STR,
        "has_key_safe": BOOL,
        "residents": {"type": "array", "items": {"$ref": "#/components/schemas/Resident"}},
        "devices": {"type": "array", "items": {"$ref": "#/components/schemas/Device"}},
    },
}

SAMPLE = {
    "type": "object",
    "required": ["ts", "value", "min", "max", "count"],
    "properties": {"ts": TIME, "value": NUM, "min": NUM, "max": NUM, "count": INT},
}

SERIES = {
    "type": "object",
    "required": ["device_id", "kind", "bucket", "start", "end", "points"],
    "properties": {
        "device_id": STR,
        "kind": STR,
        "bucket": STR,
        "start": TIME,
        "end": TIME,
        "points": {"type": "array", "items": {"$ref": "#/components/schemas/Sample"}},
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid request",
        401: "no valid access token",
        403: "role not allowed",
        404: "not found",
        409: "conflict",
        422: "refused by the alarm's state (not_claimed, outcome_required)",
        502: "the 112 gateway did not take it: call 112 by phone",
        429: "too many tries; wait Retry-After seconds",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PAGING = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": 2147483647}, "rows to skip"),
]
DEVICE_ID = {
    "name": "device_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"},
}


def _get(
    summary: str, ok: dict[str, Any], params: list[dict[str, Any]], *errors: int
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": params,
            "responses": {"200": ok, **_errors(401, 403, *errors)},
        }
    }


def _post(
    summary: str,
    body: str | None,
    created: str,
    params: list[dict[str, Any]],
    *errors: int,
    status: int = 201,
    body_required: bool = True,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": params,
        "responses": {str(status): _json(_ref(created), summary), **_errors(401, 403, *errors)},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return {"post": operation}


def _body(name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


AUTH_PATHS: dict[str, Any] = {
    "/api/auth/login": {
        "post": {
            "summary": "Sign in: a username and password for an access and a refresh token"
            " (also set as HttpOnly cookies); tries are limited per user and address",
            "security": [],
            "requestBody": _body("LoginBody"),
            "responses": {
                "200": _json(_ref("TokenPair"), "signed in"),
                **_errors(400, 401, 403, 429),
            },
        }
    },
    "/api/auth/refresh": {
        "post": {
            "summary": "A new token pair for a refresh token (body, or the refresh cookie);"
            " a refresh token works once",
            "security": [],
            "requestBody": _body("RefreshBody", required=False),
            "responses": {"200": _json(_ref("TokenPair"), "new tokens"), **_errors(400, 401)},
        }
    },
    "/api/auth/logout": {
        "post": {
            "summary": "End this sign-in (the access token and its refresh tokens)",
            "security": [{"bearer": []}],
            "responses": {"204": {"description": "signed out"}, **_errors(401)},
        }
    },
    "/api/me": {
        "get": {
            "summary": "Who is signed in",
            "security": [{"bearer": []}],
            "responses": {"200": _json(_ref("UserView"), "the user"), **_errors(401)},
        }
    },
}


ALARM_ID = {"name": "alarm_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _action(summary: str, body: str | None, answer: str, *errors: int) -> dict[str, Any]:
    """An operator's action on an alarm: the alarm after it, or why it was refused."""
    return _post(summary, body, answer, [ALARM_ID], 400, 404, *errors, status=200)


ALARM_ACTIONS: dict[str, Any] = {
    "/api/alarms/{alarm_id}/accept": _action("Claim the alarm", None, "AlarmView", 409),
    "/api/alarms/{alarm_id}/contact-attempts": _action(
        "Record a call or message and how it went", "ContactAttemptBody", "AlarmView", 409, 422
    ),
    "/api/alarms/{alarm_id}/notes": _action(
        "Add a note (also after resolution)", "NoteBody", "AlarmView", 409
    ),
    "/api/alarms/{alarm_id}/escalations": _action(
        "Escalate; emergency_112 hands the incident to 112 now and answers what came of it",
        "EscalationBody",
        "EscalationAnswer",
        409,
        422,
        502,
    ),
    "/api/alarms/{alarm_id}/resolve": _action(
        "Close with an outcome; 112 is told if it has the incident",
        "ResolveBody",
        "AlarmView",
        409,
        422,
    ),
}


def items(name: str) -> dict[str, Any]:
    """A page of ``name`` objects."""
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(name)}, "total": INT},
    }


# Every operation described through :class:`hub.api.described.Op`, by area.
OPERATIONS: dict[tuple[str, str], Op] = {
    **spec_console.OPERATIONS,
    **spec_service.OPERATIONS,
    **spec_family.OPERATIONS,
}
COMPONENTS: dict[str, Any] = {
    **spec_console.COMPONENTS,
    **spec_service.COMPONENTS,
    **spec_family.COMPONENTS,
}

RouteTable = tuple[tuple[str, str, Access, frozenset[Role]], ...]
_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


def route_table(app: web.Application) -> RouteTable:
    """``(method, path, access, roles)`` of every ``/api/`` route of ``app``, as its handler
    declares them (``@requires`` with its roles, ``@family_api``, ``@public``)."""
    from hub.console.roles import endpoints  # the same listing docs/roles.md is made from

    return tuple(
        (e.method, e.path, e.access, e.roles)
        for e in endpoints(app)
        if e.path.startswith("/api/") and e.method in _METHODS
    )


def _bodies() -> tuple[type, ...]:
    """Every struct a described operation reads, and every type one answers with."""
    bodies = [op.body for op in OPERATIONS.values() if op.body is not None]
    answers = [op.answer for op in OPERATIONS.values() if isinstance(op.answer, type)]
    return (*bodies, *answers)


@functools.cache
def openapi_document(routes: RouteTable) -> dict[str, Any]:
    """The document served at ``/api/openapi.json`` for an application with ``routes``.

    Who may call each operation comes from ``routes`` (the handlers' ``@requires``); an
    operation is described only for a route the application has.
    """
    document = _base_document()
    paths: dict[str, dict[str, Any]] = document["paths"]
    for method, path, access, roles in routes:
        op = OPERATIONS.get((method, path))
        if op is not None:
            paths.setdefault(path, {})[method.lower()] = operation(path, op, access, roles)
            continue
        described = paths.get(path, {}).get(method.lower())
        if described is not None:
            described["description"] = who_may(access, roles)
            described["security"] = [] if access is Access.PUBLIC else [{"bearer": []}]
            if access is Access.ROLES:
                described["x-roles"] = [r.value for r in Role if r in roles]
    # Operations of routes this application does not have are left out.
    present = {(m, p) for m, p, _, _ in routes}
    for path in list(paths):
        for method in list(paths[path]):
            if (method.upper(), path) not in present:
                del paths[path][method]
        if not paths[path]:
            del paths[path]
    return document


def app_document(app: web.Application) -> dict[str, Any]:
    """The document for ``app`` (cached per route table)."""
    return openapi_document(route_table(app))


def _base_document() -> dict[str, Any]:
    """The operations still written out below, and every component schema."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Teleassist hub API",
            "version": _package_version(),
            "description": "Read API, provisioning and sign-in of the Teleassist hub. "
            "Times are RFC 3339 UTC. Errors are {error, message}.",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {
                "Error": ERROR,
                "LastValue": LAST_VALUE,
                "Device": DEVICE,
                "Resident": RESIDENT,
                "HomeSummary": HOME_SUMMARY,
                "Home": HOME,
                "Sample": SAMPLE,
                "Series": SERIES,
                **struct_schemas(
                    HomeCreate,
                    HomeCreated,
                    DeviceCreate,
                    DeviceRevoke,
                    DeviceRevoked,
                    Credentials,
                    LoginBody,
                    RefreshBody,
                    TokenPair,
                    UserView,
                    AlarmView,
                    AlarmList,
                    AlarmCodes,
                    ContactAttemptBody,
                    NoteBody,
                    EscalationBody,
                    ResolveBody,
                    EscalationAnswer,
                    *_bodies(),
                ),
                **COMPONENTS,
            },
        },
        "paths": {
            **AUTH_PATHS,
            "/api/alarms": _get(
                "Alarms in queue order: priority, then age (no history)",
                _json(_ref("AlarmList"), "alarms"),
                [
                    _query(
                        "status",
                        {"type": "string", "enum": ["open", "resolved", "all"]},
                        "default open",
                    ),
                    _query(
                        "category", {"type": "string", "enum": ["care", "technical"]}, "only these"
                    ),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most"),
                ],
                400,
            ),
            "/api/alarms/codes": _get(
                "Coded values (outcomes, targets, contact results, rules, states) with labels",
                _json(_ref("AlarmCodes"), "codes"),
                [],
            ),
            **ALARM_ACTIONS,
            "/api/alarms/{alarm_id}/emergency-payload": {
                "get": {
                    "summary": "The exact 112 payload the hub would send now (the preview)",
                    "security": [{"bearer": []}],
                    "parameters": [
                        ALARM_ID,
                        _query("format", {"type": "string", "enum": ["eido", "cap"]}, "eido"),
                    ],
                    "responses": {
                        "200": {
                            "description": "NENA-STA-021 EIDO JSON, or an OASIS CAP 1.2 document"
                            " (docs/adr/0039)",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "application/cap+xml": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(401, 403, 400, 404),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "the OpenAPI 3.0 document")},
                }
            },
            "/api/alarms/{alarm_id}": _get(
                "One alarm with its history (every read is audited)",
                _json(_ref("AlarmView"), "the alarm"),
                [
                    {
                        "name": "alarm_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                404,
            ),
            "/api/homes": {
                **_get("List homes", _json(items("HomeSummary"), "homes"), PAGING, 400),
                **_post("Add a home", "HomeCreate", "HomeCreated", [], 400),
            },
            "/api/homes/{home_id}": _get(
                "A home with its residents and devices",
                _json(_ref("Home"), "the home"),
                [
                    {
                        "name": "home_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                400,
                404,
            ),
            "/api/residents": _get(
                "List residents (no health data)",
                _json(items("Resident"), "residents"),
                [
                    _query(
                        "home_id",
                        {"type": "integer", "minimum": 1, "maximum": 2147483647},
                        "only this home",
                    ),
                    *PAGING,
                ],
                400,
            ),
            "/api/devices": {
                **_get(
                    "List devices with status and last values",
                    _json(items("Device"), "devices"),
                    [
                        _query(
                            "home_id",
                            {"type": "integer", "minimum": 1, "maximum": 2147483647},
                            "only this home",
                        ),
                        _query(
                            "state",
                            {
                                "type": "string",
                                "enum": ["unknown", "online", "offline", "revoked"],
                            },
                            "only this state",
                        ),
                        *PAGING,
                    ],
                    400,
                ),
                **_post(
                    "Provision a device of a home; the answer holds its broker credentials",
                    "DeviceCreate",
                    "Credentials",
                    [],
                    400,
                    404,
                    409,
                ),
            },
            "/api/devices/{device_id}/revoke": _post(
                "Revoke a device: locked out of the broker and the hub",
                "DeviceRevoke",
                "DeviceRevoked",
                [DEVICE_ID],
                400,
                404,
                status=200,
                body_required=False,
            ),
            "/api/devices/{device_id}/credentials": _post(
                "Issue new broker credentials (the old secret stops working)",
                None,
                "Credentials",
                [DEVICE_ID],
                404,
                409,
            ),
            "/api/devices/{device_id}": _get(
                "A device with status and last values",
                _json(_ref("Device"), "the device"),
                [DEVICE_ID],
                404,
            ),
            "/api/devices/{device_id}/series": _get(
                "A series of one device: raw or bucketed (mean, min, max, count)",
                _json(_ref("Series"), "the series"),
                [
                    DEVICE_ID,
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        # The contract's token, as the handler checks it (protocol.is_token).
                        "schema": _openapi_30(msgspec.json.schema(Token)),
                    },
                    _query("start", TIME, "from (default: end - 24 h); empty if not before end"),
                    _query("end", TIME, "to, exclusive (default: now)"),
                    _query(
                        "bucket", {"type": "string", "enum": ["raw", "1m", "1h", "1d"]}, "bucket"
                    ),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "points"),
                ],
                400,
                404,
            ),
            "/api/ingest/stats": _get(
                "Ingestion counters of this hub worker",
                _json({"type": "object", "required": ["enabled"]}, "counters"),
                [],
            ),
        },
    }
