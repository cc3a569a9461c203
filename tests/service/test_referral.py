"""The referral form: every field's error, references, check values and duplicates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.service.errors import ReferralInvalid
from hub.service.referral import (
    KnownPerson,
    check_value_matches,
    find_duplicates,
    hash_check_value,
    new_check_value,
    new_reference,
    normalise_name,
    parse_referral,
    valid_dni,
)

TODAY = date(2026, 3, 2)


def good_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "applicant_kind": "relative",
        "applicant_name": "Marta Puig",
        "applicant_phone": "+34 600 111 222",
        "applicant_email": "marta@example.org",
        "person_name": "Núria  Puig i Soler",
        "birth_date": "1941-05-17",
        "id_document": "12345678-z",
        "street": "Carrer de Sants 12, 3r 2a",
        "postcode": "08014",
        "municipality": "Barcelona",
        "lives_alone": True,
        "mobility": "walking_aid",
        "falls_last_year": "2",
        "contacts": [{"name": "Marta Puig", "phone": "600111222", "key_holder": "on"}, {}],
        "consent_data": "on",
    }
    form.update(changes)
    return form


def codes(form: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ReferralInvalid) as err:
        parse_referral(form, TODAY)
    return {e.field: e.code for e in err.value.errors}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"street": "Carrer de Sants 12\x0b"}, "street"),
        ({"person_name": "Núria \x1b[1mPuig"}, "person_name"),
        ({"health_notes": "Diabetes \ufffe"}, "health_notes"),
        ({"municipality": "Barce\x7flona"}, "municipality"),
        (
            {"contacts": [{"name": "Marta\x0cPuig", "phone": "600111222"}]},
            "contacts.0.name",
        ),
    ],
)
def test_control_characters_are_refused_not_stored(changes: dict[str, Any], field: str) -> None:
    assert codes(good_form(**changes))[field] == "err_control_characters"


def test_line_breaks_in_notes_are_text() -> None:
    referral = parse_referral(good_form(health_notes="Diabetes.\nPacemaker."), TODAY)
    assert referral.health_notes == "Diabetes.\nPacemaker."


def test_a_good_form_is_normalised() -> None:
    referral = parse_referral(good_form(), TODAY)
    assert referral.person_name == "Núria Puig i Soler"
    assert referral.id_document == "12345678Z"
    assert referral.falls_last_year == 2
    assert len(referral.contacts) == 1
    assert referral.contacts[0].key_holder
    assert referral.consent_data
    assert not referral.consent_social_record


@pytest.mark.parametrize("form", ["feminine", "masculine", "neutral", "unknown"])
def test_the_form_of_address_is_kept(form: str) -> None:
    assert parse_referral(good_form(address_form=form), TODAY).address_form == form


def test_an_unstated_form_of_address_is_unknown() -> None:
    """Not stated is never guessed from the name: screens then use neutral words."""
    assert parse_referral(good_form(), TODAY).address_form == "unknown"
    assert parse_referral(good_form(address_form=""), TODAY).address_form == "unknown"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"applicant_kind": "neighbour"}, "applicant_kind", "err_choice"),
        ({"applicant_name": ""}, "applicant_name", "err_required"),
        ({"applicant_phone": "call me"}, "applicant_phone", "err_phone"),
        ({"applicant_email": "marta@"}, "applicant_email", "err_email"),
        ({"person_name": "  "}, "person_name", "err_required"),
        ({"birth_date": ""}, "birth_date", "err_required"),
        ({"birth_date": "17/05/1941"}, "birth_date", "err_date"),
        ({"birth_date": "2030-01-01"}, "birth_date", "err_birth_date"),
        ({"id_document": "12345678A"}, "id_document", "err_dni"),
        ({"postcode": "8014"}, "postcode", "err_postcode"),
        ({"street": ""}, "street", "err_required"),
        ({"municipality": ""}, "municipality", "err_required"),
        ({"mobility": "flying"}, "mobility", "err_choice"),
        ({"address_form": "senyora"}, "address_form", "err_choice"),
        ({"falls_last_year": "many"}, "falls_last_year", "err_number"),
        ({"health_notes": "x" * 2001}, "health_notes", "err_too_long"),
        ({"contacts": []}, "contacts", "err_contact_needed"),
        ({"contacts": [{"name": "Pere"}]}, "contacts.0.phone", "err_required"),
        ({"contacts": [{"phone": "600111222"}]}, "contacts.0.name", "err_required"),
        (
            {"contacts": [{"name": f"c{i}", "phone": "600111222"} for i in range(6)]},
            "contacts",
            "err_too_many_contacts",
        ),
        ({"consent_data": False}, "consent_data", "err_consent"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, Any], field: str, code: str) -> None:
    assert codes(good_form(**changes)).get(field) == code


def test_all_errors_come_at_once() -> None:
    found = codes({})
    assert {
        "applicant_kind",
        "person_name",
        "birth_date",
        "street",
        "postcode",
        "contacts",
        "consent_data",
    } <= set(found)


def test_the_person_applying_for_themselves_needs_no_applicant_name() -> None:
    referral = parse_referral(
        good_form(applicant_kind="self", applicant_name="", applicant_phone=""), TODAY
    )
    assert referral.applicant_kind == "self"


@pytest.mark.parametrize(
    ("doc", "ok"),
    [
        ("12345678Z", True),
        ("X1234567L", True),
        ("Y0000000Z", True),
        ("12345678A", False),
        ("1234567Z", False),
        ("W1234567L", False),
    ],
)
def test_dni_letter(doc: str, ok: bool) -> None:
    assert valid_dni(doc) is ok


def test_references_and_check_values() -> None:
    ref = new_reference(2026, lambda n: b"\x00" * n)
    assert ref == "TA-2026-000000"
    assert len(new_reference(2026)) == len("TA-2026-000000")
    check = new_check_value()
    assert len(check) == 6
    assert check.isdigit()
    stored = hash_check_value(ref, check)
    assert check_value_matches(ref, f" {check} ", stored)
    assert not check_value_matches(ref, "000000" if check != "000000" else "111111", stored)
    assert not check_value_matches("TA-2026-111111", check, stored)


@given(st.text(max_size=40))
def test_normalised_names_are_stable(name: str) -> None:
    once = normalise_name(name)
    assert normalise_name(once) == once
    assert once == once.strip()


def test_duplicates_by_document_or_by_name_and_birth_date() -> None:
    referral = parse_referral(good_form(), TODAY)
    known = [
        KnownPerson("resident:1", "NURIA PUIG I SOLER", date(1941, 5, 17)),
        KnownPerson("resident:2", "Someone Else", None, "12345678Z"),
        KnownPerson("resident:3", "Núria Puig i Soler", date(1950, 1, 1)),
    ]
    assert find_duplicates(referral, known) == [
        ("resident:1", "same_name_and_birth_date"),
        ("resident:2", "same_id_document"),
    ]
