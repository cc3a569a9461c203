"""Every ``/api/`` route of the hub is in the OpenAPI document (issue 20).

The test lists the routes the running application registers and fails for one the document
lacks: a new route comes with its description (``hub/api/spec_*.py``, ADR 0110). The document
is valid OpenAPI 3.0 and says who may call each operation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from hub.api.openapi import OPERATIONS, openapi_document, route_table
from hub.app import create_app
from hub.settings import HubSettings


def _app(tmp_path: Path) -> web.Application:
    settings = HubSettings(
        data_dir=str(tmp_path), jwt_secret="x" * 48, keysafe_key=Fernet.generate_key().decode()
    )
    return create_app(settings)


def _routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = _app(tmp_path)
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        # HEAD is added for every GET by aiohttp; OPTIONS is answered by the framework.
        if isinstance(path, str) and path.startswith("/api/") and route.method != "HEAD":
            found.add((route.method, path))
    return found


def _document(tmp_path: Path) -> dict[str, Any]:
    return openapi_document(route_table(_app(tmp_path)))


def _documented(tmp_path: Path) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in _document(tmp_path)["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


def test_every_api_route_is_in_the_openapi_document(tmp_path: Path) -> None:
    routes, documented = _routes(tmp_path), _documented(tmp_path)
    assert len(routes) > 100  # the listing itself works
    missing = routes - documented
    assert not missing, (
        f"routes the OpenAPI document lacks: {sorted(missing)}; describe each in"
        " hub/api/spec_*.py (docs/adr/0110)"
    )


def test_the_document_describes_no_route_that_does_not_exist(tmp_path: Path) -> None:
    assert _documented(tmp_path) - _routes(tmp_path) == set()
    # ... and no description is left behind by a route that went away.
    assert set(OPERATIONS) - _routes(tmp_path) == set()


async def test_allow_lists_exactly_the_documented_methods(hub_client: Any, hub_app: Any) -> None:
    """OPTIONS (undocumented) answers 405 whose Allow names what the document says, plus the
    HEAD aiohttp adds to every GET (schemathesis' allow_header_conformance). A path that two
    templates match (``/circle/codes`` and ``/circle/{link_id}``) allows the methods of both."""
    paths = openapi_document(route_table(hub_app))["paths"]

    def matches(template: str, concrete: str) -> bool:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        return re.fullmatch(pattern, concrete) is not None

    for path in paths:
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        response = await hub_client.options(concrete)
        assert response.status == 405, path
        allowed = {m.strip().lower() for m in response.headers["Allow"].split(",")}
        documented = {
            m
            for template, item in paths.items()
            if matches(template, concrete)
            for m in item
            if m in ("get", "put", "post", "delete", "patch")
        }
        assert allowed - {"head"} == documented, (path, response.headers["Allow"])


def test_the_document_is_valid_openapi_30(tmp_path: Path) -> None:
    """openapi-spec-validator: the structure, every $ref resolving, schemas valid."""
    validate(_document(tmp_path))


def test_the_validator_sees_a_broken_document(tmp_path: Path) -> None:
    document = _document(tmp_path)
    broken = {**document, "paths": {"/api/x": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
    dangling = {
        **document,
        "paths": {
            "/api/x": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "x",
                            "content": {"application/json": {"schema": {"$ref": "#/nope"}}},
                        }
                    }
                }
            }
        },
    }
    with pytest.raises(Exception, match="nope"):  # the resolver's own error type
        validate(dangling)


def test_every_operation_says_who_may_call_it(tmp_path: Path) -> None:
    for path, item in _document(tmp_path)["paths"].items():
        for method, operation in item.items():
            text = operation.get("description", "")
            assert any(
                s in text for s in ("Roles:", "Public", "Any signed-in", "Family network")
            ), (method, path)
            if operation["security"]:
                assert "401" in operation["responses"], (method, path)
