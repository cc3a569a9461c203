"""Coded values read back from the database are checked (hub.db.values)."""

from __future__ import annotations

import pytest

from hub.db.values import StoredValueError, all_of, one_of, one_of_or_none
from hub.service.codes import CARE_LEVELS, DEVICE_KINDS, SERVICE_STATES


def test_a_known_code_comes_back_as_itself() -> None:
    assert one_of("active", SERVICE_STATES, "services.state") == "active"
    assert all_of(["pendant", "tablet"], DEVICE_KINDS, "care_plans.devices") == (
        "pendant",
        "tablet",
    )
    assert one_of_or_none(None, CARE_LEVELS, "services.care_level") is None


@pytest.mark.parametrize("value", ["Active", "", "paused", 3, None])
def test_an_unknown_stored_code_fails_loudly_naming_the_column(value: object) -> None:
    with pytest.raises(StoredValueError, match=r"services\.state: stored value"):
        one_of(value, SERVICE_STATES, "services.state")


def test_one_bad_item_of_a_list_column_fails_the_list() -> None:
    with pytest.raises(StoredValueError, match="teleporter"):
        all_of(["pendant", "teleporter"], DEVICE_KINDS, "care_plans.devices")
