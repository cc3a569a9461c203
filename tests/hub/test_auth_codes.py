from datetime import UTC, datetime, timedelta

import pytest

from hub.auth.codes import (
    CODE_ALPHABET,
    CODE_LENGTH,
    SPOKEN_ALPHABET,
    CodeState,
    GuessPolicy,
    LinkingError,
    check_redeemable,
    code_digest,
    display_code,
    guess_verdict,
    new_code,
    normalize_code,
)

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_new_codes_are_short_readable_and_distinct() -> None:
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)


# Letter names that sound alike (Catalan / Spanish / English), read over a phone line.
SOUND_ALIKE = (
    "BCDEGPTVZ",  # be ce de e ge pe te ve zeta / bee cee dee ee gee pee tee vee zee
    "AJK",  # ay jay kay
    "MN",  # ema ena / eme ene / em en
    "FS",  # efa essa / efe ese / ef ess
    "IY",  # i i grega / i i griega
    "QU",  # cu u / queue you
)


def test_new_codes_can_be_read_aloud_without_mishearing() -> None:
    codes = "".join(new_code() for _ in range(500))
    assert set(codes) == set(SPOKEN_ALPHABET)  # every symbol used, nothing else
    for group in SOUND_ALIKE:
        assert len(set(group) & set(SPOKEN_ALPHABET)) <= 1, group
    assert set(SPOKEN_ALPHABET) <= set(CODE_ALPHABET)
    # 8 symbols of 15: still 2.6e9 codes for a single-use, expiring, rate-limited code
    assert len(SPOKEN_ALPHABET) ** CODE_LENGTH > 2 * 10**9


def test_a_code_issued_before_the_spoken_alphabet_is_still_accepted() -> None:
    assert normalize_code("abcd-efgh") == "ABCDEFGH"


def test_typed_codes_are_normalized() -> None:
    code = "ABCD2345"
    assert display_code(code) == "ABCD-2345"
    assert normalize_code(" abcd-2345 ") == code
    assert normalize_code("ab cd 23 45") == code


@pytest.mark.parametrize("typed", ["", "ABC", "ABCD-23456", "ABCD-234O", "ABCD 2341", "ÀBCD2345"])
def test_malformed_codes_are_refused(typed: str) -> None:
    with pytest.raises(LinkingError) as err:
        normalize_code(typed)
    assert err.value.code == "code_malformed"


def test_digest_depends_on_the_secret() -> None:
    assert code_digest("ABCD2345", "s1") == code_digest("ABCD2345", "s1")
    assert code_digest("ABCD2345", "s1") != code_digest("ABCD2345", "s2")
    assert "ABCD2345" not in code_digest("ABCD2345", "s1")


def test_redeemable_only_when_unknown_used_revoked_or_expired_is_false() -> None:
    check_redeemable(CodeState(expires_at=NOW + timedelta(seconds=1), used_at=None), NOW)
    cases = {
        "code_unknown": None,
        "code_used": CodeState(expires_at=NOW + timedelta(hours=1), used_at=NOW),
        "code_expired": CodeState(expires_at=NOW, used_at=None),
        "code_revoked": CodeState(expires_at=NOW + timedelta(hours=1), used_at=None, revoked=True),
    }
    for expected, state in cases.items():
        with pytest.raises(LinkingError) as err:
            check_redeemable(state, NOW)
        assert err.value.code == expected


def test_guessing_is_limited_and_the_wait_is_told() -> None:
    policy = GuessPolicy(max_failures=3, window=timedelta(minutes=10))
    fails = [NOW - timedelta(minutes=9), NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)]
    assert guess_verdict(fails[:2], NOW, policy).allowed
    verdict = guess_verdict(fails, NOW, policy)
    assert not verdict.allowed
    assert verdict.retry_after_s == 60
    # Old failures fall out of the window.
    assert guess_verdict(fails, NOW + timedelta(minutes=1, seconds=1), policy).allowed
    stale = [NOW - timedelta(hours=1)] * 10
    assert guess_verdict(stale, NOW, policy).allowed
