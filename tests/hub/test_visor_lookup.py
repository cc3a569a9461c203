"""What the visor's search accepts (hub/visor/lookup.py), without a database."""

from __future__ import annotations

import pytest

from hub.visor.lookup import QueryRefused, parse_query


@pytest.mark.parametrize(
    ("by", "typed", "value"),
    [
        ("dni", " 12345678-z ", "12345678Z"),
        ("dni", "x1234567l", "X1234567L"),  # NIE: X → 0, 01234567 % 23 → L
        ("dni", "Y.1234567.X", "Y1234567X"),
        ("cip", "puso 0380314003", "PUSO0380314003"),
        ("file", " ss-bcn-2024/0815 ", "SS-BCN-2024/0815"),
        ("name", "  Núria   PUIG ", "nuria puig"),
        ("number", " 42 ", "42"),
    ],
)
def test_accepted(by: str, typed: str, value: str) -> None:
    assert parse_query(by, typed) == (by, value)


@pytest.mark.parametrize(
    ("by", "typed", "key"),
    [
        ("dni", "12345678A", "error_dni"),
        ("dni", "X1234567T", "error_dni"),
        ("dni", "123456789Z", "error_dni"),
        ("cip", "PUSO038031400", "error_cip"),
        ("cip", "P1SO0380314003", "error_cip"),
        ("file", "ab", "error_file"),
        ("file", "A" * 33, "error_file"),
        ("name", "Jo", "error_name_short"),
        ("name", "x" * 201, "error_name_short"),
        ("number", "-1", "error_resident_id"),
        ("number", "99999999999", "error_resident_id"),
        ("nie", "X1234567L", "error_by"),
    ],
)
def test_refused(by: str, typed: str, key: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        parse_query(by, typed)
    assert refused.value.key == key
