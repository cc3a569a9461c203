"""The private Mosquitto helper never leaves a broker running behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from teleassist import localbroker
from teleassist.localbroker import MosquittoBroker, free_port, write_mosquitto_config


def test_a_failed_start_stops_the_broker_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only a timeout: any error while waiting for the port (seen: ``time.sleep`` failing
    with EINVAL under a misconfigured faketime) must not leave an orphan broker."""

    def broken_wait(host: str, port: int, timeout: float = 10.0) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(localbroker, "wait_for_port", broken_wait)
    port = free_port()
    broker = MosquittoBroker(port, write_mosquitto_config(tmp_path, port))
    started: list[object] = []
    real_popen = localbroker.subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> object:
        process = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        return process

    monkeypatch.setattr(localbroker.subprocess, "Popen", recording_popen)
    with pytest.raises(OSError, match="Invalid argument"):
        broker.start()
    assert broker.process is None
    [process] = started
    assert process.poll() is not None  # type: ignore[attr-defined]
