"""Fault tests on the clustered broker (issue 18, item 6 (a), (b) killed, (c); docs/adr/0145,
0147, 0161).

The scenario of ``teleassist bench scale --nodes 3`` on the session's real 3-node RabbitMQ
cluster: real ``teleassist hub serve`` workers consuming the homes' partition queues (leases
in PostgreSQL), alarm timers ON, a real device agent per home logged in with its own secret
through the TCP balancer (it presses the help button once), a publisher of routine events at
QoS 1, an operator socket on every worker. Mid-stream:

(a) the worker that owns the "timer home" is SIGKILLed just after that home's check-in
    deadline was made due: its partitions (and their unacknowledged messages) go to the
    survivors;
(b) broker node 0 is SIGKILLed (no hand-over of its queue leaders; the machine gone);
(c) a worker joins and takes its share of the partitions.

Each time: every panic is exactly one alarm, seen once on every surviving worker's socket;
every routine event the broker acknowledged is stored exactly once; the missed check-in is one
alarm. Times are printed, not asserted.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from teleassist.bench.scale import ScaleOptions, ScaleResult, scenario
from tests.scale.conftest import RabbitSetup

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

OPTIONS = {"nodes": 3, "partitions": 8, "homes": 10, "rate": 20.0, "duration_s": 12.0,
           "timeout_s": 180.0, "lease_ttl_s": 5.0, "lease_heartbeat_s": 1.0,
           "log_level": "INFO"}  # fmt: skip


def _exactly_once(result: ScaleResult) -> None:
    print(json.dumps(asdict(result)))
    assert result.nodes == 3
    assert result.panics_sent == result.homes - 1  # the timer home does not press
    assert result.alarms_raised == result.panics_sent
    assert result.seen_on_every_survivor == result.panics_sent
    assert result.routine_sent > 0
    assert result.routine_stored == result.routine_sent
    assert result.timer_alarms == 1
    assert result.lost == 0
    assert result.duplicates == 0


async def test_a_worker_killed_on_the_cluster_hands_its_partitions_over(
    rabbit_setup: RabbitSetup, tmp_path: Path
) -> None:
    options = ScaleOptions(workers=3, kill="worker", **OPTIONS)  # type: ignore[arg-type]
    result = await scenario(options, tmp_path, rabbit_setup)
    _exactly_once(result)
    assert result.failover_s is not None  # every partition is a survivor's
    assert sorted(result.owners_after.values()) == [4, 4]


async def test_a_broker_node_killed_loses_nothing(
    rabbit_setup: RabbitSetup, tmp_path: Path
) -> None:
    options = ScaleOptions(workers=3, kill="node", **OPTIONS)  # type: ignore[arg-type]
    result = await scenario(options, tmp_path, rabbit_setup)
    _exactly_once(result)
    # Every partition queue has its consumer again, on a surviving node.
    assert result.failover_s is not None
    assert rabbit_setup.cluster.nodes[0].process is None  # killed; the fixture restarts it
    assert sorted(result.owners_after.values()) == [2, 3, 3]


async def test_a_worker_added_on_the_cluster_takes_its_share(
    rabbit_setup: RabbitSetup, tmp_path: Path
) -> None:
    options = ScaleOptions(workers=4, kill="add", **OPTIONS)  # type: ignore[arg-type]
    result = await scenario(options, tmp_path, rabbit_setup)
    _exactly_once(result)
    assert result.failover_s is not None  # the newcomer holds its whole share
    assert sorted(result.owners_after.values()) == [2, 2, 2, 2]


async def test_a_cluster_run_needs_the_cluster_and_only_then(
    rabbit: RabbitSetup, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="RabbitMQ cluster is needed"):
        await scenario(ScaleOptions(workers=2, kill="none", nodes=3), tmp_path)
    with pytest.raises(ValueError, match="RabbitMQ cluster is needed"):
        await scenario(ScaleOptions(workers=2, kill="none"), tmp_path, rabbit)
