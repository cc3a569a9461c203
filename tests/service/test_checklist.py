"""The installer's checklist: only the hub confirms a device's first message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.service.checklist import confirm_first_message, mark_item, new_checklist, pair_device
from hub.service.errors import InvalidTransition

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_device_is_done_when_paired_and_heard_after_pairing() -> None:
    checklist = pair_device(new_checklist(("gateway", "pendant")), "pendant", "pd-1", T0)
    # A message from before pairing (e.g. a factory test) does not count.
    early = confirm_first_message(checklist, "pd-1", T0 - timedelta(minutes=5))
    assert "device:pendant" in early.missing()
    heard = confirm_first_message(checklist, "pd-1", T0 + timedelta(minutes=1))
    assert "device:pendant" not in heard.missing()
    assert "device:gateway" in heard.missing()
    # Later messages keep the first time.
    again = confirm_first_message(heard, "pd-1", T0 + timedelta(hours=1))
    assert again.devices[1].first_message_at == T0 + timedelta(minutes=1)
    # Unknown devices change nothing.
    assert confirm_first_message(heard, "nobody", T0) == heard


def test_pairing_rules() -> None:
    checklist = pair_device(new_checklist(("pendant",)), "pendant", "pd-1", T0)
    with pytest.raises(InvalidTransition, match="already paired"):
        pair_device(checklist, "pendant", "pd-1", T0)
    with pytest.raises(InvalidTransition, match="no unpaired"):
        pair_device(checklist, "pendant", "pd-2", T0)
    with pytest.raises(InvalidTransition, match="no unpaired"):
        pair_device(checklist, "bed_sensor", "bs-1", T0)


def test_items_and_completion() -> None:
    checklist = new_checklist(("pendant",))
    checklist = confirm_first_message(pair_device(checklist, "pendant", "pd-1", T0), "pd-1", T0)
    assert not checklist.complete
    for item in ("test_alarm", "tablet_provisioned", "key_safe_recorded", "resident_trained"):
        checklist = mark_item(checklist, item, T0)
    assert checklist.complete
    assert checklist.missing() == ()
    assert mark_item(checklist, "resident_trained", T0 + timedelta(days=1)) == checklist
    with pytest.raises(InvalidTransition, match="unknown checklist item"):
        mark_item(checklist, "coffee", T0)
