"""One root for the hub's own errors (issue 25, item 5): hub.errors.HubError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import hub
from hub.errors import HubError
from hub.family.consent import ConsentError
from hub.http import error_middleware


def _hub_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(hub.__path__, "hub."):
        if info.name.endswith((".__main__", ".migrations")) or ".migrations." in info.name:
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def _carries_a_code(cls: type[BaseException]) -> bool:
    """An error meant for clients: it has a stable ``code`` (class attribute or argument)."""
    if "code" in vars(cls):
        return True
    init = vars(cls).get("__init__")
    return init is not None and "code" in inspect.signature(init).parameters


def test_every_error_with_a_code_is_a_hub_error() -> None:
    exceptions = _hub_exceptions()
    assert len(exceptions) > 10  # the walk found the hub's modules
    strays = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in exceptions
        if _carries_a_code(cls) and not issubclass(cls, HubError)
    )
    assert strays == [], f"derive these from hub.errors.HubError: {strays}"


async def test_an_uncaught_domain_error_is_answered_in_the_one_json_shape() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise ConsentError("consent_required", "the resident has not allowed this")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/thing", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/thing")
        assert resp.status == 403
        assert await resp.json() == {
            "error": "consent_required",
            "message": "the resident has not allowed this",
        }


def test_a_hub_error_keeps_its_class_defaults_unless_given() -> None:
    class Refused(HubError):
        code = "refused"
        status = 409

    plain = Refused("no")
    assert (plain.code, plain.status, plain.message, str(plain)) == ("refused", 409, "no", "no")
    given = Refused("no", code="other", status=422, field="x")
    assert (given.code, given.status, given.extra) == ("other", 422, {"field": "x"})
