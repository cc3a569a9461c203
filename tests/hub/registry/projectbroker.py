"""The project's own Mosquitto configuration (deploy/mosquitto) on free ports, for tests.

``deploy/mosquitto/mosquitto.conf`` is copied with its two listeners moved to free ports on
127.0.0.1 (the device listener without TLS), and its files moved to a directory of the test;
everything else (``per_listener_settings``, ``use_username_as_clientid``, the ACL template)
is the deployed text. The hub renders the password files and the ACL into that directory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from teleassist.localbroker import MosquittoBroker, free_port

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto"
HUB_LISTENER, DEVICE_LISTENER = "1883", "8883"
_TLS_KEYS = {"certfile", "keyfile", "cafile", "require_certificate"}


@dataclass(frozen=True)
class ProjectBrokerConfig:
    """Where a copy of the project's broker configuration listens and keeps its files."""

    conf: Path
    hub_port: int
    device_port: int
    passwd: Path
    hub_passwd: Path
    acl: Path

    def broker(self) -> MosquittoBroker:
        """The (not yet started) broker; it listens on both ports."""
        return MosquittoBroker(self.hub_port, self.conf)


def project_config(directory: Path) -> ProjectBrokerConfig:
    """Write deploy/mosquitto/mosquitto.conf with listeners and paths moved to ``directory``
    (which the broker's own user must be able to read: not a pytest tmp dir)."""
    ports = {HUB_LISTENER: free_port(), DEVICE_LISTENER: free_port()}
    out = []
    listener = ""
    for line in (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8").splitlines():
        words = line.split()
        key = words[0] if words else ""
        if key == "listener":
            listener = words[1]
            out.append(f"listener {ports[listener]} 127.0.0.1")
        elif key in _TLS_KEYS:
            continue  # the test's device listener is plain MQTT
        elif key in {"password_file", "acl_file"}:
            out.append(f"{key} {directory / Path(words[1]).name}")
        elif key == "persistence_location":
            data = directory / "data"
            data.mkdir(mode=0o777)
            data.chmod(0o777)  # Mosquitto started as root runs as the mosquitto user
            out.append(f"persistence_location {data}/")
        elif key == "log_dest":
            out.append("log_dest stderr")
        else:
            out.append(line)
    directory.chmod(0o755)
    conf = directory / "mosquitto.conf"
    conf.write_text("\n".join(out) + "\n", encoding="utf-8")
    return ProjectBrokerConfig(
        conf=conf,
        hub_port=ports[HUB_LISTENER],
        device_port=ports[DEVICE_LISTENER],
        passwd=directory / "passwd",
        hub_passwd=directory / "passwd-hub",
        acl=directory / "acl",
    )


class Client:
    """A paho client (network thread) that records what it receives."""

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        client_id: str | None = None,
        *,
        clean_session: bool = True,
    ) -> None:
        self.received: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.connack: queue.Queue[object] = queue.Queue()
        self.suback: queue.Queue[list[object]] = queue.Queue()
        self.disconnected = threading.Event()
        c = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id if client_id is not None else username,
            clean_session=clean_session,
        )
        c.username_pw_set(username, password)
        c.on_connect = lambda *a: self.connack.put(a[3])
        c.on_message = lambda _c, _u, m: self.received.put(m)
        c.on_subscribe = lambda _c, _u, _m, reasons, _p: self.suback.put(list(reasons))
        c.on_disconnect = lambda *a: self.disconnected.set()
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        self.reason = self.connack.get(timeout=10)

    @property
    def accepted(self) -> bool:
        """Did the broker accept the connection?"""
        return not self.reason.is_failure  # type: ignore[attr-defined]

    def subscribe(self, topics: Sequence[str]) -> list[object]:
        """Subscribe (QoS 1) and return the SUBACK's reason codes."""
        self.client.subscribe([(t, 1) for t in topics])
        return self.suback.get(timeout=10)

    def publish(self, topic: str, payload: bytes = b"{}") -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
