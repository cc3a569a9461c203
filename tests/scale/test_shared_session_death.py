"""What the broker does with a shared subscription's messages when a member dies (SIGKILL).

These tests pin the measured behaviour of the project's broker (Mosquitto 2.0.11) that
docs/adr/0125 builds on; they fail if a broker upgrade changes it:

- a member with a **persistent** session (clean session off, MQTT 3.1.1) that dies keeps its
  place in the group: the broker goes on handing it every other message, queued in its offline
  session, and both those and the QoS 1 messages it held unacknowledged wait for *that* client
  id to come back — nothing goes to the survivor;
- a member with a **clean** session that dies leaves the group at once (the broker sees the
  socket close): everything published afterwards goes to the survivor, but the messages the
  dead member held unacknowledged are dropped with its session — never redelivered to anyone.

Either way a QoS 1 acknowledgement between broker and hub is not enough to keep a panic from
waiting for, or dying with, a worker: hence the end-to-end acknowledgement of ADR 0125.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from teleassist.localbroker import MosquittoBroker, free_port

pytestmark = [pytest.mark.broker, pytest.mark.slow]

# A member in its own process, so that it can die for real. It never acknowledges (manual
# acks, none sent): every message it is given stays in flight, as in a hub worker that is
# killed before its batch commits. Prints "ready" once subscribed, then one line a message.
_MEMBER = """
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, clean, ack = int(sys.argv[1]), sys.argv[2] == "clean", sys.argv[3] == "ack"
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="member-a", clean_session=clean,
                     protocol=mqtt.MQTTv311, manual_ack=not ack)
client.on_connect = lambda c, u, f, rc, p: c.subscribe("$share/g/t/#", 1)
client.on_subscribe = lambda c, u, mid, rc, p: print("ready", flush=True)
client.on_message = lambda c, u, m: print(m.payload.decode(), flush=True)
client.connect("127.0.0.1", port)
client.loop_forever()
"""
WAIT_S = 20.0
N = 10


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type error\n",
        encoding="utf-8",
    )
    server = MosquittoBroker(port, conf)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Member:
    """The member in a subprocess; its printed lines arrive on a queue."""

    def __init__(self, port: int, session: str, *, ack: bool, resumes: bool = False) -> None:
        # A resumed session is sent what it kept as soon as it connects, before the SUBACK.
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MEMBER, str(port), session, "ack" if ack else "hold"],
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not resumes:
            assert self.lines.get(timeout=WAIT_S) == "ready"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next(self) -> str:
        """The next message (not the "ready" line)."""
        line = self.lines.get(timeout=WAIT_S)
        return self.lines.get(timeout=WAIT_S) if line == "ready" else line

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Survivor:
    """The member that stays, in this process (acknowledges everything)."""

    def __init__(self, port: int, session_clean: bool) -> None:
        self.got: queue.Queue[str] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="member-b", clean_session=session_clean
        )
        subscribed: queue.Queue[bool] = queue.Queue()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("$share/g/t/#", 1)
        self.client.on_subscribe = lambda c, u, mid, rc, p: subscribed.put(True)
        self.client.on_message = lambda c, u, m: self.got.put(m.payload.decode())
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        subscribed.get(timeout=WAIT_S)

    def take(self, n: int) -> list[str]:
        return [self.got.get(timeout=WAIT_S) for _ in range(n)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _publish(client: mqtt.Client, prefix: str) -> None:
    for i in range(N):
        client.publish("t/x", f"{prefix}{i}", qos=1).wait_for_publish(WAIT_S)


def _run(port: int, session: str) -> tuple[Survivor, mqtt.Client, list[str]]:
    """Member A (never acks) and B share a group; N messages; A is killed; N more.
    Returns B, the publisher and what A held when it died."""
    a = Member(port, session, ack=False)
    b = Survivor(port, session == "clean")
    publisher = _publisher(port)
    _publish(publisher, "pre")
    # Round robin: half each. Await A's half (held, never acknowledged) and B's half.
    held = [a.next() for _ in range(N // 2)]
    first = b.take(N // 2)
    assert sorted(held + first) == sorted(f"pre{i}" for i in range(N))
    a.kill()
    return b, publisher, held


def test_a_dead_persistent_member_keeps_its_share_and_its_held_messages(broker) -> None:
    b, publisher, held = _run(broker.port, "persistent")
    try:
        _publish(publisher, "post")
        # The survivor gets only every other one: the dead member's session takes the rest.
        survivor = b.take(N // 2)
        assert len(set(survivor)) == N // 2
        # The dead member's client id comes back and receives what waited for it: the
        # messages it held unacknowledged, then its share of those published while it was dead.
        back = Member(broker.port, "persistent", ack=True, resumes=True)
        try:
            waited = [back.next() for _ in range(N)]
        finally:
            back.kill()
        assert sorted(held) == sorted(waited[: N // 2])
        assert sorted(survivor + waited[N // 2 :]) == sorted(f"post{i}" for i in range(N))
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        b.close()


def test_a_dead_clean_member_leaves_the_group_and_its_held_messages_are_dropped(
    broker,
) -> None:
    b, publisher, held = _run(broker.port, "clean")
    try:
        _publish(publisher, "post")
        # Everything published after the death reaches the survivor...
        assert sorted(b.take(N)) == sorted(f"post{i}" for i in range(N))
        # ...and nothing the dead member held is ever redelivered: a marker published last
        # arrives with nothing before it.
        publisher.publish("t/x", "marker", qos=1).wait_for_publish(WAIT_S)
        assert b.take(1) == ["marker"]
        assert held  # these are gone
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        b.close()
