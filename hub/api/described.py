"""How one API operation is described: :class:`Op`, turned into OpenAPI by :func:`operation`.

A route's *who may call it* is not written here: it is read from the route table (the roles
of the handler's ``@requires``, :func:`hub.auth.web.required_roles`), so the document says what
the handler enforces. Request bodies are the msgspec structs the handlers validate with
(:func:`hub.http.read_checked` or :func:`hub.http.read_body`); path parameters come from the
route's own path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from hub.auth.roles import Role
from hub.auth.web import Access

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
ID32: Schema = {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}
ANY_OBJECT: Schema = {"type": "object"}
# null alone, in OpenAPI 3.0 (which has no null type): beside a $ref, ``allOf`` + ``nullable``
# would still ask null to be the referenced object, and validators refuse it.
NULL: Schema = {"type": "object", "nullable": True, "enum": [None]}

ERROR_TEXT = {
    400: "invalid request (the error code names what is wrong)",
    401: "no valid access token",
    403: "not allowed (role, consent or origin)",
    404: "not found",
    409: "conflict with the current state",
    410: "gone (a code already used or expired)",
    413: "too large",
    415: "not a kind of content the hub takes",
    422: "refused by the object's state",
    429: "too many tries; wait Retry-After seconds",
    502: "a service the hub relies on did not answer",
    503: "not available on this hub",
    504: "another hub worker, which holds what was asked for, did not answer in time",
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (OpenAPI 3.0)."""
    if "$ref" in schema:
        return {"anyOf": [schema, NULL]}
    return {**schema, "nullable": True}


def obj(required: tuple[str, ...] = (), /, **properties: Schema) -> Schema:
    """An object with ``properties`` of which ``required`` are always present."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: Schema) -> Schema:
    """A list of ``items``."""
    return {"type": "array", "items": items}


def enum(*values: str) -> Schema:
    """One of ``values``."""
    return {"type": "string", "enum": list(values)}


def query(name: str, schema: Schema, description: str, *, required: bool = False) -> Schema:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


@dataclass(frozen=True)
class Op:
    """One operation: what it does, what it reads and what it answers.

    ``answer`` is the schema of the success answer (a component reference or an inline
    schema), or the struct or dataclass the handler serialises; ``media`` its content type
    (``None``: no body, e.g. 204). ``path`` gives the
    schema of path parameters that are not plain strings (ids are integers).
    """

    summary: str
    answer: Schema | type | None = None
    status: int = 200
    media: str | tuple[str, ...] | None = "application/json"
    body: type[msgspec.Struct] | None = None
    body_required: bool = True
    body_media: str = "application/json"
    body_schema: Schema | None = None
    query: tuple[Schema, ...] = ()
    path: dict[str, Schema] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    description: str = ""


_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _responses(op: Op, secured: bool) -> Schema:
    ok: Schema = {"description": op.summary}
    if op.media is not None:
        kinds = (op.media,) if isinstance(op.media, str) else op.media
        answer = ref(op.answer.__name__) if isinstance(op.answer, type) else op.answer
        ok["content"] = {kind: {"schema": answer or ANY_OBJECT} for kind in kinds}
    codes = sorted({*op.errors, *((401, 403) if secured else ())})
    errors = {
        str(c): {
            "description": ERROR_TEXT[c],
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for c in codes
    }
    return {str(op.status): ok, **errors}


def who_may(access: Access, roles: frozenset[Role]) -> str:
    """The sentence saying who may call an operation."""
    if access is Access.PUBLIC:
        return "Public: no sign-in."
    if access is Access.FAMILY:
        return (
            "Family network: any signed-in person (family, facilitator, staff) or a resident's"
            " tablet (`Bearer tab_...`); consent and circle decide what each may see."
        )
    if not roles:
        return "Any signed-in user."
    return "Roles: " + ", ".join(r.value for r in Role if r in roles) + "."


def operation(path: str, op: Op, access: Access, roles: frozenset[Role]) -> Schema:
    """The OpenAPI operation object of ``op`` on ``path``, whose handler declares ``access``
    (``@requires`` with ``roles``, ``@family_api`` or ``@public``)."""
    if access is Access.UNDECLARED:
        raise ValueError(f"{path}: the handler does not declare who may call it")
    secured = access is not Access.PUBLIC
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": op.path.get(name, {"type": "string", "minLength": 1}),
        }
        for name in _PARAM.findall(path)
    ]
    text = who_may(access, roles)
    result: Schema = {
        "summary": op.summary,
        "description": f"{op.description}\n\n{text}".strip(),
        "security": [{"bearer": []}] if secured else [],
        "parameters": params + list(op.query),
        "responses": _responses(op, secured),
    }
    if access is Access.ROLES:
        result["x-roles"] = [r.value for r in Role if r in roles]
    if op.body is not None or op.body_schema is not None:
        schema = op.body_schema if op.body_schema is not None else ref(op.body.__name__)  # type: ignore[union-attr]
        result["requestBody"] = {
            "required": op.body_required,
            "content": {op.body_media: {"schema": schema}},
        }
    return result
