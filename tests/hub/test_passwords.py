"""Production password hashing: Argon2id with argon2-cffi's recommended costs."""

from __future__ import annotations

from hub.auth import passwords


def test_the_shipped_hasher_uses_recommended_argon2id_costs() -> None:
    # The suite swaps in a cheap hasher (tests/conftest.py); what ships must not be cheap.
    shipped = passwords.PRODUCTION_HASHER
    assert shipped.type.name == "ID"
    assert shipped.memory_cost >= 64 * 1024
    assert shipped.time_cost >= 3
    weak = passwords._HASHER.hash("correct horse battery staple")
    assert shipped.check_needs_rehash(weak)  # a cheap test hash would be upgraded at sign-in
