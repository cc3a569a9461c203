"""Refused frames are counted one by one and logged at most once per reason and interval."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from hub.carephones.accounts import AccountBook
from hub.carephones.receiver import Dc09Receiver
from hub.ingest.ingester import Ingester
from tests.hub.carephones.transmitter import Unit, read_answer

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


async def test_a_flood_of_bad_frames_logs_one_line_per_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No unit is registered and nothing is stored: the ingester is never reached.
    receiver = Dc09Receiver(
        book=AccountBook(), ingester=cast(Ingester, cast(Any, None)), clock=lambda: T0
    )
    caplog.set_level(logging.WARNING, logger="hub.carephones.receiver")
    for n in range(200):
        garbage = await receiver.handle(b"\nthis is not a frame %d\r" % n, "192.0.2.7")
        assert garbage is not None
        assert read_answer(garbage).token == "NAK"
        stranger = await receiver.handle(
            Unit(account=f"{n + 0x100:X}").frame("NULL", "", T0), "192.0.2.7"
        )
        assert stranger is not None
        assert read_answer(stranger).token == "DUH"
    assert receiver.stats.refused == {"malformed": 200, "unknown_account": 200}
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(lines) == 2, lines
    assert all("192.0.2.7" in line for line in lines)
