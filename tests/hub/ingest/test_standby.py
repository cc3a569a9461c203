"""The plain-MQTT ownership gate: owned homes pass, the others are kept and replayed on take-over
(docs/adr/0147)."""

from __future__ import annotations

from hub.ingest.registry import DeviceInfo
from hub.ingest.standby import Kept, PartitionGate
from protocol import Channel
from tests.instants import machine_now


def _kept(home: int, channel: Channel = Channel.EVENT, n: int = 0) -> Kept:
    device = DeviceInfo(f"gw-{home}", home, None, "gateway")
    return Kept(device, channel, f"ta/v1/d/gw-{home}/{channel.value}", b"%d" % n, machine_now())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_owned_homes_pass_and_the_others_are_kept_until_taken_over() -> None:
    replayed: list[list[Kept]] = []
    gate = PartitionGate(4, monotonic=Clock())
    gate.replay = replayed.append
    await gate.assign(1)
    assert gate.admit(_kept(5))  # 5 % 4 == 1
    assert gate.owns_home(5)
    assert not gate.admit(_kept(6, n=1))
    assert not gate.admit(_kept(6, n=2))
    assert gate.kept(2) == 2
    assert replayed == []
    await gate.assign(2)
    assert [item.payload for item in replayed[0]] == [b"1", b"2"]  # oldest first
    assert gate.kept(2) == 0
    assert gate.admit(_kept(6))


async def test_telemetry_is_not_kept() -> None:
    gate = PartitionGate(4, monotonic=Clock())
    assert not gate.admit(_kept(2, Channel.TELEMETRY))
    assert gate.kept(2) == 0


async def test_what_is_older_than_the_retention_is_not_replayed() -> None:
    clock = Clock()
    replayed: list[list[Kept]] = []
    gate = PartitionGate(4, retention_s=30.0, monotonic=clock)
    gate.replay = replayed.append
    gate.admit(_kept(3, n=1))
    clock.now = 20.0
    gate.admit(_kept(3, n=2))
    clock.now = 40.0  # the first is 40 s old, the second 20 s
    await gate.assign(3)
    assert [item.payload for item in replayed[0]] == [b"2"]


async def test_the_kept_messages_are_bounded_per_partition() -> None:
    gate = PartitionGate(4, max_kept=3, monotonic=Clock())
    for n in range(10):
        gate.admit(_kept(1, n=n))
    assert gate.kept(1) == 3


async def test_a_revoked_partition_is_kept_again() -> None:
    gate = PartitionGate(4, monotonic=Clock())
    await gate.assign(0)
    assert gate.admit(_kept(4))
    await gate.revoke(0)
    assert not gate.admit(_kept(4))
    assert not gate.owns_home(4)
    assert gate.kept(0) == 1
