"""Digest authentication towards a PBX: the RFCs' own examples, and the challenges refused."""

from __future__ import annotations

import hashlib

import pytest

from integrations.carephones.scaip.digest import (
    Challenge,
    DigestError,
    authorization,
    parse_challenge,
)


def _params(value: str) -> dict[str, str]:
    out = {}
    for part in value.removeprefix("Digest ").split(", "):
        key, _, val = part.partition("=")
        out[key] = val.strip('"')
    return out


def test_rfc_2617_example() -> None:
    # RFC 2617 section 3.5 (the response the RFC prints).
    challenge = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    value = authorization(
        challenge, username="Mufasa", password="Circle Of Life", method="GET",
        uri="/dir/index.html", cnonce="0a4f113b",
    )  # fmt: skip
    params = _params(value)
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert (params["nc"], params["qop"], params["opaque"]) == (
        "00000001", "auth", "5ccc069c403ebaf9f0171e9517f40e41"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc_7616_examples(algorithm: str, expected: str) -> None:
    # RFC 7616 section 3.9.1.
    challenge = parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    value = authorization(
        challenge, username="Mufasa", password="Circle of Life", method="GET",
        uri="/dir/index.html", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )  # fmt: skip
    assert _params(value)["response"] == expected


def test_without_qop_and_with_sess() -> None:
    # RFC 2069 style (no qop): response = H(HA1:nonce:HA2); -sess folds the cnonce into HA1.
    plain = Challenge(realm="pbx", nonce="n1")
    value = authorization(
        plain, username="arc", password="pw", method="INVITE", uri="sip:600@pbx", cnonce="c"
    )
    assert "qop" not in value

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the RFC's hash

    expected = md5(f"{md5('arc:pbx:pw')}:n1:{md5('INVITE:sip:600@pbx')}")
    assert _params(value)["response"] == expected
    sess = Challenge(realm="pbx", nonce="n1", algorithm="MD5-sess")
    other = authorization(
        sess, username="arc", password="pw", method="INVITE", uri="sip:600@pbx", cnonce="c"
    )
    assert _params(other)["response"] != _params(value)["response"]


@pytest.mark.parametrize(
    "header",
    [
        'Basic realm="pbx"',
        'Digest nonce="n"',  # no realm
        'Digest realm="pbx"',  # no nonce
        'Digest realm="pbx", nonce="n", algorithm=SHA-512-256',
        'Digest realm="pbx", nonce="n", qop="auth-int"',
        'Digest realm="pbx", nonce="n", ===',
        'Digest realm="' + "x" * 3000 + '", nonce="n"',
    ],
)
def test_challenges_we_cannot_answer_are_refused(header: str) -> None:
    with pytest.raises(DigestError):
        parse_challenge(header)


def test_quotes_and_escapes_in_a_challenge() -> None:
    challenge = parse_challenge(r'Digest realm="a \"quoted\" realm", nonce=abc')
    assert (challenge.realm, challenge.nonce, challenge.qop) == ('a "quoted" realm', "abc", ())
    value = authorization(
        challenge, username="arc", password="pw", method="INVITE", uri="sip:1@pbx", cnonce="c"
    )
    assert 'realm="a \\"quoted\\" realm"' in value
