"""Pieces of ``teleassist bench scale`` that need no broker (the scenarios run in
tests/scale/test_home_owners.py and tests/scale/test_cluster_faults.py)."""

from __future__ import annotations

from teleassist.bench.scale import _consumer_node


def test_a_consumers_node_is_read_only_from_its_channel_details() -> None:
    assert _consumer_node({"channel_details": {"node": "n1@localhost"}}) == "n1@localhost"
    # The management API gives [] when it has no details (a channel of a node just gone).
    assert _consumer_node({"channel_details": []}) is None
    assert _consumer_node({"channel_details": {}}) is None
    assert _consumer_node({"channel_details": {"node": ""}}) is None
    assert _consumer_node({}) is None
