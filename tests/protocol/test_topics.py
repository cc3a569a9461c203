from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol
from protocol import Channel, TopicError


def test_device_topic_round_trip() -> None:
    topic = protocol.device_topic("h001-pendant", Channel.EVENT)
    assert topic == "ta/v1/d/h001-pendant/event"
    parsed = protocol.parse_device_topic(topic)
    assert parsed.device_id == "h001-pendant"
    assert parsed.channel is Channel.EVENT


def test_command_topic_round_trip() -> None:
    topic = protocol.command_topic("h001-tablet", "prompt")
    assert topic == "ta/v1/c/h001-tablet/prompt"
    assert protocol.parse_command_topic(topic) == protocol.CommandTopic("h001-tablet", "prompt")


@pytest.mark.parametrize(
    ("device_id", "words"),
    [
        ("a/b", "'/'"),
        ("a+b", r"'\+' wildcard"),
        ("a#", "'#' wildcard"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x85b", "control character"),
        ("x" * 65, "longer than 64 bytes"),
        ("é" * 33, "longer than 64 bytes"),
        ("", "empty"),
        ("-start", "must start with a letter or digit"),
        ("has space", "may only use"),
    ],
)
def test_bad_device_ids_are_rejected_with_a_reason(device_id: str, words: str) -> None:
    with pytest.raises(TopicError, match=words) as info:
        protocol.validate_device_id(device_id)
    assert info.value.reason is protocol.RejectReason.BAD_TOPIC


def test_device_id_of_exactly_64_bytes_is_accepted() -> None:
    assert protocol.validate_device_id("d" * 64) == "d" * 64


@pytest.mark.parametrize(
    "topic",
    [
        "ta/v1/d/dev/telemetry/extra",
        "ta/v1/d/dev",
        "ta/v2/d/dev/event",
        "ta/v1/d/dev/unknown",
        "ta/v1/d/+/event",
        "ta/v1/c/dev/event",
    ],
)
def test_bad_device_topics_are_rejected(topic: str) -> None:
    with pytest.raises(TopicError):
        protocol.parse_device_topic(topic)


def test_subscriptions() -> None:
    assert protocol.device_subscription() == "ta/v1/d/+/+"
    assert protocol.device_subscription(Channel.STATUS) == "ta/v1/d/+/status"
    assert protocol.shared_subscription("hub", "ta/v1/d/+/+") == "$share/hub/ta/v1/d/+/+"
    assert protocol.command_subscription("dev1") == "ta/v1/c/dev1/+"


@given(st.text(max_size=100))
def test_parsing_arbitrary_topics_raises_only_topic_errors(topic: str) -> None:
    try:
        parsed = protocol.parse_device_topic(topic)
    except TopicError:
        return
    assert protocol.device_topic(parsed.device_id, parsed.channel) == topic


def test_share_group_names_are_checked() -> None:
    long_secret = "hub_" + "0" * 60
    assert protocol.shared_subscription(long_secret, "x") == f"$share/{long_secret}/x"
    for bad in ("", "Hub", "hub-1", "hub/x", "h" * 65, "+", "#"):
        with pytest.raises(protocol.TopicError):
            protocol.shared_subscription(bad, "ta/v1/d/+/+")
