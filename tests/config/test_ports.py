"""Ports to listen on later: outside the kernel's ephemeral range, so that no outgoing
connection on the machine can be handed the port before its server binds it (ADR 0161)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from config import ports


def _ephemeral_low() -> int:
    return int(ports.EPHEMERAL_RANGE.read_text().split()[0])


@pytest.mark.skipif(not ports.EPHEMERAL_RANGE.exists(), reason="no Linux port range to read")
def test_a_listen_port_is_free_and_below_the_ephemeral_range() -> None:
    port = ports.listen_port()
    if _ephemeral_low() - ports.LOWEST_LISTEN_PORT >= 1000:
        assert ports.LOWEST_LISTEN_PORT <= port < _ephemeral_low()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing holds it


def test_an_unreadable_or_cramped_range_falls_back_to_any_free_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "missing")
    assert 0 < ports.listen_port() < 65536
    for text in ("", "not numbers", "10500\t60999\n"):
        (tmp_path / "range").write_text(text)
        monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "range")
        assert 0 < ports.listen_port() < 65536


def test_taken_ports_are_skipped_and_none_left_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "range").write_text("32768\t60999\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "range")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        picks = iter([taken, taken])
        monkeypatch.setattr(ports._random, "randrange", lambda low, high: next(picks))
        # Every attempt lands on the taken port: any free port instead, never the taken one.
        assert ports.listen_port(attempts=2) != taken
