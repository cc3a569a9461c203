"""The running hub answers as its OpenAPI document says (schemathesis, property-based).

Every operation of the document the hub serves is fuzzed (a newly described route is
fuzzed without touching this file), each with a token of a role it admits (its
``x-roles``; a family member for the family network), so requests get past the role gate
to the handler. Derandomized: the same requests on every run, so a failure is repeatable
and CI's cost is fixed (about a minute on the shared 2-core machine, docs/security.md).
No answer may be a 5xx, and every answer must match the document.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings

from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role
from hub.auth.service import create_user, issue_tokens
from hub.db.models import Device, Home, Resident
from hub.settings import HubSettings
from teleassist.localbroker import free_port


@dataclass
class RunningHub:
    url: str
    loop: asyncio.AbstractEventLoop
    app: web.Application

    def token(self, role: Role) -> str:
        """A new user of ``role`` and its access token (made in the hub's own loop)."""
        return asyncio.run_coroutine_threadsafe(_new_token(self.app, role), self.loop).result(30)


async def _new_token(app: web.Application, role: Role) -> str:
    async with app[SESSIONMAKER]() as session:
        user = await create_user(
            session, f"oa-{role.value}-{secrets.token_hex(4)}", "a long password", role
        )
        pair = await issue_tokens(session, user, app[SETTINGS], app[SETTINGS_CLOCK]())
        await session.commit()
    return pair.access_token


def _serve(
    settings: HubSettings,
    port: int,
    ready: Future[tuple[asyncio.AbstractEventLoop, web.Application]],
    stop: threading.Event,
) -> None:
    async def main() -> None:
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with app[SESSIONMAKER]() as session:
            home = Home(address="Carrer OpenAPI 1")
            session.add_all(
                [
                    home,
                    Resident(home=home, name="Test"),
                    Device(id="oa-pendant", home=home, type="pendant"),
                ]
            )
            await session.commit()
        ready.set_result((asyncio.get_running_loop(), app))
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await runner.cleanup()

    asyncio.run(main())


from hub.app import CLOCK as SETTINGS_CLOCK  # noqa: E402


@pytest.fixture(scope="module")
def running_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data: Path = tmp_path_factory.mktemp("openapi-hub")
    hub_settings = HubSettings(
        data_dir=str(data),
        jwt_secret="x" * 48,
        keysafe_key=Fernet.generate_key().decode(),
    )
    port = free_port()
    ready: Future[tuple[asyncio.AbstractEventLoop, web.Application]] = Future()
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(hub_settings, port, ready, stop), daemon=True)
    thread.start()
    loop, app = ready.result(timeout=60)
    yield RunningHub(f"http://127.0.0.1:{port}", loop, app)
    stop.set()
    thread.join(timeout=30)


# Of the roles an operation admits, the one whose requests reach furthest (acts on any
# alarm, any referral) comes first.
PREFERENCE = (
    Role.SUPERVISOR, Role.COORDINATOR, Role.ADMIN, Role.OPERATOR, Role.SOCIAL_WORKER,
    Role.INSTALLER, Role.FAMILY, Role.FACILITATOR,
)  # fmt: skip
EXAMPLES_PER_OPERATION = 20


def caller_role(definition: dict[str, Any]) -> Role:
    """The role to call an operation as: one it admits, else (family network, any
    signed-in user, public) a family member."""
    admitted = {Role(r) for r in definition.get("x-roles", [])}
    return next((r for r in PREFERENCE if r in admitted), Role.FAMILY)


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    """Send the operation's generated requests (the same ones every run) and check them."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers)

    check()


def test_api_conforms_to_openapi(running_hub: RunningHub) -> None:
    # schemathesis' pytest plugin does not run under pytest 9: drive hypothesis directly.
    schema = schemathesis.openapi.from_url(f"{running_hub.url}/api/openapi.json")
    # 422 is how this API refuses values that pass the schema but not a domain rule the
    # schema cannot state (a referral form's field rules, a care plan's ranges); the
    # operations that do so list it. Called with a role they admit, about 30 operations
    # (family, console, service) still answer such values with a documented 400
    # (invalid_request, "nothing to change"...), and a file whose content is not the kind
    # it claims with 415: taken as refusals here too, so that the fuzzing goes on to look
    # for server errors (docs/security.md).
    accepted = schema.config.checks.positive_data_acceptance
    accepted.expected_statuses = [*accepted.expected_statuses, "400", "413", "415", "422"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 100
    # Signing out ends the token it is called with: last.
    operations.sort(key=lambda o: o.path == "/api/auth/logout")
    failures: list[str] = []
    for operation in operations:
        # A fresh user per operation: what one operation does to accounts (disable, a new
        # role, sign out) never shows up as another operation's failure.
        token = running_hub.token(caller_role(operation.definition.raw))
        try:
            _fuzz(operation, {"Authorization": f"Bearer {token}"})
        except (Exception, BaseExceptionGroup) as err:  # try every operation, report all
            failures.append(f"{operation.method.upper()} {operation.path}: {err}")
    assert not failures, "\n\n".join(failures)
