"""A real 3-node RabbitMQ cluster (MQTT plugin) for the cluster tests, started once per session.

Its nodes ask the hub's broker-auth routes through :class:`AuthRelay` (a fixed address whose
targets a test points at the workers it starts) and devices reach any node through
:class:`TcpBalancer`, as through a load balancer in production (docs/adr/0145, 0146).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from teleassist.rabbitcluster import RabbitSetup, rabbitmq_available, running_rabbit

__all__ = ["RabbitSetup"]


@pytest.fixture(scope="session")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitSetup]:
    if not rabbitmq_available():
        pytest.skip("RabbitMQ is not installed")
    with running_rabbit(tmp_path_factory.mktemp("rabbit")) as setup:
        yield setup


@pytest.fixture
def rabbit_setup(rabbit: RabbitSetup) -> Iterator[RabbitSetup]:
    """The session's cluster, whole before the test (every node running and listening, each
    a member of the MQTT client-id registry), and with every node running again after it:
    a test never starts on a node still rejoining after the previous one (ADR 0161)."""
    rabbit.cluster.wait_whole()
    yield rabbit
    rabbit.relay.targets = []
    for node in rabbit.cluster.nodes:
        if node.process is None:
            rabbit.cluster.start_node(node.index)
