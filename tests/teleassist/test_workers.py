"""Starting a hub worker process (``teleassist.workers.HubWorker``): a worker whose free HTTP
port was taken before it could bind it is started again on another port; any other exit says
why (its exit code and the end of its log) instead of only that it exited."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.db import upgrade_to_head
from teleassist.workers import HubWorker, _port_taken, _tail, cluster_env
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    name = create_pg_database()
    url = pg_url(name)
    asyncio.run(upgrade_to_head(url))
    try:
        # No broker: a worker that does not ingest is ready once its database answers.
        yield cluster_env(url, 1)
    finally:
        drop_pg_database(name)


def test_a_worker_whose_port_was_taken_starts_on_another(
    env: dict[str, str], tmp_path: Path
) -> None:
    worker = HubWorker("a", env, tmp_path, ingest=False)
    taken = worker.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        try:
            worker.start(timeout=120)
            assert worker.port != taken
            assert worker.env["TELEASSIST_HUB__HTTP_PORT"] == str(worker.port)
            assert worker.ready()
        finally:
            worker.stop()
    assert "address already in use" in worker.log.read_text().lower()


def test_a_worker_that_exits_says_why(env: dict[str, str], tmp_path: Path) -> None:
    worker = HubWorker(
        "bad", {**env, "TELEASSIST_HUB__INGEST_TRANSPORT": "carrier-pigeon"}, tmp_path
    )
    with pytest.raises(RuntimeError, match=r"exited with 1[\s\S]*carrier-pigeon"):
        worker.start(timeout=120)
    assert worker.process is not None
    assert worker.process.poll() == 1


def test_the_log_tail_and_the_port_check(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("old run: address already in use 4242\n" + "".join(f"{n}\n" for n in range(40)))
    offset = len("old run: address already in use 4242\n")
    tail = _tail(log, offset)
    assert tail.splitlines() == [str(n) for n in range(10, 40)]  # the last 30, this run's
    assert not _port_taken(tail, 4242)
    bind = "OSError: [Errno 98] error while attempting to bind on address ('127.0.0.1', 4242): "
    assert _port_taken(bind + "address already in use", 4242)
    assert not _port_taken(bind + "address already in use", 4243)
    assert _tail(tmp_path / "missing.log", 0) == ""
