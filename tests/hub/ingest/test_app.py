"""How ingestion names itself on the broker: client id and shared-subscription group."""

from __future__ import annotations

import socket

from hub.ingest.app import default_client_id, share_group
from protocol import TopicError, shared_subscription, validate_device_id
from teleassist.config import MqttSettings


def test_default_client_id_is_never_a_device_id() -> None:
    client_id = default_client_id()
    assert client_id == f"_hub-{socket.gethostname()}"
    try:
        validate_device_id(client_id)
    except TopicError:
        pass
    else:
        raise AssertionError(f"{client_id} could be a device's id (and client id)")


def test_share_group_is_derived_from_the_hubs_password() -> None:
    one = share_group("hub", MqttSettings(username="hub", password="first secret"))
    assert one == share_group("hub", MqttSettings(username="hub", password="first secret"))
    assert one.startswith("hub_")
    assert len(one) == 4 + 32
    assert one != share_group("hub", MqttSettings(username="hub", password="other secret"))
    assert one != share_group("hub2", MqttSettings(username="hub", password="first secret"))
    assert shared_subscription(one, "ta/v1/d/+/+") == f"$share/{one}/ta/v1/d/+/+"
    # No password (an anonymous development broker): the group as configured; none: none.
    assert share_group("gtest", MqttSettings()) == "gtest"
    assert share_group("", MqttSettings(password="x")) == ""
