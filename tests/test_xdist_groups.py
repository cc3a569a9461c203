"""The suite's repair of ``--dist loadgroup`` (tests/conftest.py, pytest-xdist#1386): a
grouped test's id ends in ``@group``, which is all the scheduler reads; where the id cannot
be changed any more, collection stops instead of spreading the group over the workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _pytest.nodeid import NodeId

from tests.conftest import _name_xdist_group


class _Item:
    """The little of a pytest item the repair touches: its markers and its id."""

    def __init__(self, nodeid: str, *groups: str) -> None:
        self._id = NodeId.parse(nodeid)
        self._marks = [pytest.mark.xdist_group(g).mark for g in groups]

    @property
    def nodeid(self) -> str:
        return str(self._id)

    def iter_markers(self, name: str) -> Iterator[Any]:
        return (m for m in self._marks if m.name == name)


class _FrozenItem(_Item):
    """An item whose id is kept where the repair does not write."""

    def __init__(self, nodeid: str, *groups: str) -> None:
        super().__init__(nodeid, *groups)
        self._frozen = nodeid

    @property
    def nodeid(self) -> str:
        return self._frozen


def test_a_grouped_test_id_ends_with_its_group() -> None:
    item = _Item("tests/tablet_app/test_acceptance.py::test_x[en]", "tablet-acceptance")
    _name_xdist_group(item)
    assert item.nodeid == "tests/tablet_app/test_acceptance.py::test_x[en]@tablet-acceptance"


def test_several_groups_are_joined_in_order_and_ungrouped_tests_are_left() -> None:
    both = _Item("tests/a.py::test_b", "rabbitmq", "native-compose")
    alone = _Item("tests/a.py::test_c")
    _name_xdist_group(both)
    _name_xdist_group(alone)
    assert both.nodeid == "tests/a.py::test_b@native-compose_rabbitmq"
    assert alone.nodeid == "tests/a.py::test_c"


def test_an_id_that_cannot_take_the_group_stops_the_run() -> None:
    item = _FrozenItem("tests/a.py::test_d", "probe")
    with pytest.raises(pytest.UsageError, match="'probe' did not reach the test id"):
        _name_xdist_group(item)
