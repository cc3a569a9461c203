"""Fixtures shared by the whole suite: real services started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from teleassist.localbroker import MosquittoBroker, mosquitto_available, running_mosquitto


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A private anonymous Mosquitto on a free port, shared by the session."""
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed; run scripts/setup")
    directory: Path = tmp_path_factory.mktemp("mosquitto")
    with running_mosquitto(directory) as broker:
        yield broker


# Hub fixtures (database_url over SQLite and PostgreSQL, hub_client, token_for...):
# see tests/hub/fixtures.py and docs/development.md.
from tests.hub.fixtures import (  # noqa: E402, F401
    _postgres_template,
    _sqlite_template,
    auth_headers,
    database_url,
    empty_database_url,
    hub_app,
    hub_client,
    hub_clock,
    hub_sessionmaker,
    hub_settings,
    make_user,
    token_for,
)
