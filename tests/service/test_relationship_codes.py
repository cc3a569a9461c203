"""Contacts' relationships are codes (issue 23, ADR 0164): forms offer a list, words typed
before (or by an API client) are coded the same way, and the migration keeps every word."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from alerts.values import RELATIONSHIP_CODES, relationship_code, relationship_name
from hub.db import make_engine, upgrade_to_head
from hub.db.migrate import downgrade_to, upgrade_to
from hub.service.errors import ReferralInvalid
from hub.service.pages import relationship_options
from hub.service.referral import parse_referral

TODAY = date(2026, 12, 3)


def _form(**extra: object) -> dict[str, object]:
    return {
        "applicant_kind": "social_worker", "applicant_name": "Laia Serra",
        "person_name": "Montserrat Puig i Ferrer", "birth_date": "1941-03-12",
        "street": "C/ de Verdi 48", "postcode": "08012", "municipality": "Barcelona",
        "consent_data": True, **extra,
    }  # fmt: skip


def test_typed_words_are_coded_and_unknown_ones_kept_as_other() -> None:
    assert relationship_code("Hija") == ("daughter", "")
    assert relationship_code("veïna voluntària") == ("volunteer_neighbour_f", "")
    assert relationship_code("son") == ("son", "")
    assert relationship_code("padrina") == ("other", "padrina")
    assert relationship_code("  ") == ("", "")
    assert relationship_name("daughter", "ca") == "filla"
    assert relationship_name("other", "en", "godmother") == "godmother"
    assert relationship_name("Fill", "es") == "hijo"  # a word stored before the codes


def test_the_form_sends_codes_and_other_words() -> None:
    form = parse_referral(
        _form(contacts=[
            {"name": "Jordi Puig", "phone": "600 111 222", "relationship": "son"},
            {"name": "Rosa Vila", "phone": "600 333 444", "relationship": "other",
             "relationship_other": "padrina"},
            {"name": "Carme Soler", "phone": "600 555 666", "relationship": "Veïna"},
        ]),
        TODAY,
    )  # fmt: skip
    assert [(c.relationship, c.relationship_other) for c in form.contacts] == [
        ("son", ""), ("other", "padrina"), ("neighbour_f", ""),
    ]  # fmt: skip
    with pytest.raises(ReferralInvalid) as refused:
        parse_referral(
            _form(contacts=[{"name": "Rosa", "phone": "600 333 444", "relationship": "other"}]),
            TODAY,
        )
    assert [e.field for e in refused.value.errors] == ["contacts.0.relationship_other"]


def test_cip_and_file_number_are_checked_and_normalised() -> None:
    contacts = [{"name": "Jordi Puig", "phone": "600 111 222", "relationship": "son"}]
    form = parse_referral(
        _form(contacts=contacts, cip="pufe 4103 1200 12", social_file="ss-bcn/2026/0412"), TODAY
    )
    assert (form.cip, form.social_file) == ("PUFE4103120012", "SS-BCN/2026/0412")
    with pytest.raises(ReferralInvalid) as refused:
        parse_referral(_form(contacts=contacts, cip="123", social_file="x"), TODAY)
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("cip", "err_cip"), ("social_file", "err_social_file"),
    }  # fmt: skip


def test_the_select_names_every_code_once_in_each_language() -> None:
    for lang in ("ca", "es", "en"):
        options = relationship_options(lang)
        assert [code for code, _ in options] == list(RELATIONSHIP_CODES)
        names = [name for _, name in options]
        assert len(set(names)) == len(names), lang
    assert dict(relationship_options("en"))["neighbour_f"] == "neighbour (woman)"
    assert dict(relationship_options("ca"))["neighbour_f"] == "veïna"


async def test_the_migration_codes_known_words_and_keeps_the_others(
    empty_database_url: str,
) -> None:
    await upgrade_to(empty_database_url, "family_0007")
    engine = make_engine(empty_database_url)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    before = [
        {"name": "A", "phone": "600", "relationship": "Filla", "key_holder": True},
        {"name": "B", "phone": "601", "relationship": "padrina", "key_holder": False},
        {"name": "C", "phone": "602", "relationship": "", "key_holder": False},
    ]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO homes (id, address, abss_area, access_notes,"
                    " created_at) VALUES (1, 'x', '', '', :at)"
                ),
                {"at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO residents (id, home_id, name, language,"
                    " medical_notes, lives_alone, consent, created_at)"
                    " VALUES (1, 1, 'M', 'ca', '', true, '{}', :at)"
                ),
                {"at": at},
            )
            for index, c in enumerate(before, start=1):
                await conn.execute(
                    text(
                        "INSERT INTO contacts (resident_id, name, phone, relationship,"
                        " is_key_holder, priority, language, email)"
                        " VALUES (1, :n, :p, :r, :k, :i, 'ca', '')"
                    ),
                    {
                        "n": c["name"],
                        "p": c["phone"],
                        "r": c["relationship"],
                        "k": c["key_holder"],
                        "i": index,
                    },
                )
            await conn.execute(
                text("INSERT INTO service_referrals (reference, check_hash, state, applicant_kind,"
                     " applicant_name, applicant_phone, applicant_email, referred_by,"
                     " person_name, person_key, id_document, phone, language, street, postcode,"
                     " municipality, abss_area, lives_alone, mobility, falls_last_year,"
                     " health_notes, social_notes, contacts, consent, possible_duplicates,"
                     " referred_at, updated_at) VALUES ('TA-1', 'h', 'referred', 'relative', '',"
                     " '', '', 'public', 'M', 'm', '', '', 'ca', 's', '08012', 'B', '', true,"
                     " 'independent', 0, '', '', :contacts, '{}', '[]', :at, :at)"),
                {"contacts": json.dumps(before), "at": at},
            )  # fmt: skip
        await upgrade_to_head(empty_database_url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT relationship, relationship_other FROM contacts ORDER BY priority"
            ))).all()  # fmt: skip
            stored = (await conn.execute(text("SELECT contacts FROM service_referrals"))).scalar()
        coded = [("daughter", ""), ("other", "padrina"), ("", "")]
        assert [tuple(r) for r in rows] == coded
        stored = json.loads(stored) if isinstance(stored, str) else stored
        assert [(c["relationship"], c["relationship_other"]) for c in stored] == coded
        assert [c["key_holder"] for c in stored] == [True, False, False]
        await downgrade_to(empty_database_url, "family_0007")
        async with engine.connect() as conn:
            words = (await conn.execute(text(
                "SELECT relationship FROM contacts ORDER BY priority"
            ))).scalars().all()  # fmt: skip
        assert words == ["filla", "padrina", ""]
    finally:
        await engine.dispose()
