"""FHIR mapping: every event becomes a valid R4 resource with the right codes and a stable id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from integrations.wsocial.events import AlarmHandled, DeviceEvent, RiskFlag, ServiceEvent
from integrations.wsocial.mapping import (
    EXT_STATUS_REASON,
    RESIDENT_SYSTEM,
    MappingError,
    stable_id,
    to_resources,
    transaction_bundle,
)
from integrations.wsocial.vocabulary import SNOMED_SYSTEM
from tests.integrations.samples import T0, sample_events


def _codes(node: Any) -> set[tuple[str, str]]:
    """Every (system, code) pair anywhere in a JSON tree."""
    found: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            found.add((node["system"], node["code"]))
        for value in node.values():
            found |= _codes(value)
    elif isinstance(node, list):
        for value in node:
            found |= _codes(value)
    return found


def test_every_event_maps_to_a_resource_that_validates_again_from_json() -> None:
    for event in sample_events():
        (mapped,) = to_resources(event)
        data = mapped.as_json()
        again = get_fhir_model_class(data["resourceType"]).model_validate(data)
        assert again.id == mapped.id
        assert data["subject"]["identifier"] == {"system": RESIDENT_SYSTEM, "value": "res-1"}
        assert "name" not in str(data["subject"])  # logical reference only, no personal data


def test_ids_are_stable_and_distinct() -> None:
    first = [to_resources(e)[0] for e in sample_events()]
    second = [to_resources(e)[0] for e in sample_events()]
    assert [m.id for m in first] == [m.id for m in second]
    other = [to_resources(e)[0].id for e in sample_events("res-2")]
    assert not set(other) & {m.id for m in first}
    assert stable_id("Flag", "s", "v") != stable_id("Observation", "s", "v")


def test_service_rows_share_one_identifier_and_carry_status_and_reason() -> None:
    started, suspended, ended = (to_resources(e)[0] for e in sample_events()[:3])
    assert started.id == suspended.id == ended.id
    assert [m.as_json()["status"] for m in (started, suspended, ended)] == [
        "active",
        "on-hold",
        "completed",
    ]
    assert (SNOMED_SYSTEM, "719858009") in _codes(started.as_json()["code"])
    reason = {e["url"]: e for e in suspended.as_json()["extension"]}[EXT_STATUS_REASON]
    assert (SNOMED_SYSTEM, "32485007") in _codes(reason)
    ended_json = ended.as_json()
    assert (SNOMED_SYSTEM, "419099009") in _codes(ended_json["extension"])
    assert ended_json["occurrencePeriod"]["end"].startswith("2026-12-12")


def test_alarm_escalation_and_flags_carry_the_verified_codes() -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in sample_events():
        mapped = to_resources(event)[0]
        by_type.setdefault(mapped.resource_type, []).append(mapped.as_json())
    (encounter,) = by_type["Encounter"]
    assert (SNOMED_SYSTEM, "1912002") in _codes(encounter["type"])
    assert encounter["class"]["code"] == "VR"
    (communication,) = by_type["Communication"]
    assert communication["recipient"][0]["identifier"]["value"] == "112"
    assert communication["encounter"]["identifier"]["value"] == "alarm-res-1-1"
    flag_codes = set().union(*(_codes(f["code"]) for f in by_type["Flag"]))
    assert flag_codes == {(SNOMED_SYSTEM, "105529008"), (SNOMED_SYSTEM, "129839007")}
    risk = next(o for o in by_type["Observation"] if o.get("valueBoolean") is True)
    assert (SNOMED_SYSTEM, "422650009") in _codes(risk["code"])
    installed, removed = by_type["DeviceUseStatement"]
    assert (installed["status"], removed["status"]) == ("active", "completed")


def test_a_cleared_flag_updates_the_same_resource() -> None:
    active = RiskFlag(resident_id="r", occurred_at=T0, risk="lives_alone", active=True, since=T0)
    cleared = RiskFlag(
        resident_id="r",
        occurred_at=T0,
        risk="lives_alone",
        active=False,
        since=T0,
        until=T0 + timedelta(days=9),
    )
    a, c = to_resources(active)[0], to_resources(cleared)[0]
    assert a.id == c.id
    assert c.as_json()["status"] == "inactive"


def test_transaction_bundle_uses_conditional_updates() -> None:
    resources = [to_resources(e)[0] for e in sample_events()]
    bundle = transaction_bundle(resources)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "transaction"
    for entry, mapped in zip(bundle["entry"], resources, strict=True):
        assert entry["request"]["method"] == "PUT"
        assert entry["request"]["url"].startswith(f"{mapped.resource_type}?identifier=")


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 2, 9, 0)
    event = ServiceEvent(
        resident_id="r", occurred_at=T0, service_id="s", status="active", started_at=naive
    )
    with pytest.raises(MappingError, match="naive datetime"):
        to_resources(event)


def test_alarm_without_answer_time_is_still_valid() -> None:
    event = AlarmHandled(
        resident_id="r",
        occurred_at=T0,
        alarm_id="a2",
        alarm_kind="smoke",
        raised_at=T0,
        answered_at=None,
        closed_at=T0 + timedelta(minutes=5),
        outcome="contact_visit",
    )
    data = to_resources(event)[0].as_json()
    assert len(data["extension"]) == 1
    assert DeviceEvent  # imported for symmetry with the samples module


def test_every_coded_input_value_has_a_concept() -> None:
    from typing import get_args

    from integrations.wsocial.events import AlarmKind, AlarmOutcomeCode, RiskKind
    from integrations.wsocial.vocabulary import vocabulary

    keys = set(vocabulary())
    for kind in get_args(AlarmKind):
        assert f"alarm_{kind}" in keys, kind
    for outcome in get_args(AlarmOutcomeCode):
        assert f"outcome_{outcome}" in keys, outcome
    for risk in get_args(RiskKind):
        assert risk in keys, risk


def test_an_empty_bundle_is_refused() -> None:
    with pytest.raises(MappingError, match="at least one resource"):
        transaction_bundle([])
