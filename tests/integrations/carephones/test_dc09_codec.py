"""The DC-09 codec: frames, CRC and length, encryption, event data, answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.carephones.dc09 import (
    ContentError,
    DecryptError,
    FrameError,
    ack,
    build_frame,
    crc16,
    decrypt_data,
    duh,
    encrypt_data,
    nak,
    parse_content,
    parse_frame,
)
from integrations.carephones.dc09.crypto import pad_length

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
HEX = "0123456789ABCDEF"

tokens = st.sampled_from(["SIA-DCS", "ADM-CID", "NULL"])
seqs = st.integers(0, 9999).map(lambda n: f"{n:04d}")
hexes = lambda lo, hi: st.text(HEX, min_size=lo, max_size=hi)  # noqa: E731
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def test_crc_is_crc16_arc() -> None:
    # The check value of CRC-16/ARC.
    assert crc16(b"123456789") == 0xBB3D
    assert crc16(b"") == 0


@given(tokens, seqs, hexes(1, 6), hexes(1, 6), hexes(3, 16), printable, st.booleans())
def test_frames_round_trip(
    token: str, seq: str, receiver: str, prefix: str, account: str, rest: str, encrypted: bool
) -> None:
    raw = build_frame(
        token,
        seq,
        receiver=receiver,
        prefix=prefix,
        account=account,
        rest=rest,
        encrypted=encrypted,
    )
    assert raw.startswith(b"\n")
    assert raw.endswith(b"\r")
    frame = parse_frame(raw)
    assert (frame.token, frame.seq, frame.receiver, frame.prefix, frame.account) == (
        token,
        seq,
        receiver,
        prefix,
        account,
    )
    assert (frame.rest, frame.encrypted) == (rest, encrypted)


@given(tokens, seqs, hexes(3, 16), printable, st.data())
def test_any_corrupted_byte_is_refused(
    token: str, seq: str, account: str, rest: str, data: st.DataObject
) -> None:
    raw = bytearray(build_frame(token, seq, prefix="1", account=account, rest=rest))
    # Any byte between the LF and the CR, changed to another printable byte.
    at = data.draw(st.integers(1, len(raw) - 2))
    new = data.draw(st.integers(0x20, 0x7E).filter(lambda b: b != raw[at]))
    raw[at] = new
    with pytest.raises(FrameError) as caught:
        parse_frame(bytes(raw))
    assert caught.value.reason in {"crc", "length", "malformed"}


@given(tokens, seqs, hexes(3, 16), printable, st.integers(1, 20))
def test_missing_or_extra_bytes_are_refused_by_the_length(
    token: str, seq: str, account: str, rest: str, cut: int
) -> None:
    raw = build_frame(token, seq, prefix="1", account=account, rest=rest + "x" * 20)
    with pytest.raises(FrameError) as short:
        parse_frame(raw[: -1 - cut] + b"\r")
    assert short.value.reason == "length"
    with pytest.raises(FrameError) as long:
        parse_frame(raw[:-1] + b"y" * cut + b"\r")
    assert long.value.reason == "length"


def test_oversized_and_garbage_frames_are_refused() -> None:
    with pytest.raises(FrameError) as big:
        parse_frame(b"\n" + b"A" * 2000 + b"\r")
    assert big.value.reason == "oversize"
    for junk in (b"", b"\n\r", b"hello", b'\nZZZZ0005"NULL"\r', b"\n00000000garbage\r"):
        with pytest.raises(FrameError):
            parse_frame(junk)


@given(keys, printable)
def test_encryption_round_trips_for_every_key_size(key: bytes, data: str) -> None:
    sealed = encrypt_data(key, data)
    assert len(sealed) % 32 == 0
    assert sealed == sealed.upper()
    assert decrypt_data(key, sealed) == data


@given(keys, keys, st.text("#0123456789ABCDEF|] NriPAMA/", min_size=1, max_size=80))
def test_a_wrong_key_is_refused(key: bytes, other: bytes, data: str) -> None:
    if key == other:
        return
    sealed = encrypt_data(key, data)
    try:
        opened = decrypt_data(other, sealed)
    except DecryptError:
        return
    # Vanishingly rare: noise that happens to be printable with a '|' after a valid pad;
    # it can still never be the sender's data.
    assert opened != data


def test_pad_fills_whole_blocks() -> None:
    for length in range(0, 70):
        pad = pad_length(length)
        assert 1 <= pad <= 16
        assert (pad + 1 + length) % 16 == 0


def test_encryption_uses_aes_cbc_with_a_zero_iv() -> None:
    # Checked with an independent AES: the standard's zero IV makes the first block
    # AES-ECB(key, first plaintext block).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes(range(16))
    pad = b"ABCDEFGHIJK"  # 11 + '|' + 20 = 32
    sealed = bytes.fromhex(encrypt_data(key, "#1234|Nri1/PA001]_10", pad=pad))
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - the check
    assert sealed[:16] == ecb.update((pad + b"|#1234|Nri1/PA001]_10")[:16]) + ecb.finalize()


def test_contact_id_data() -> None:
    content = parse_content("ADM-CID", "#1234|1101 01 015][Xdata]_10:00:05,12-01-2026")
    assert content.account == "1234"
    assert content.xdata == ("Xdata",)
    assert content.timestamp == datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    (event,) = content.events
    assert (event.code, event.qualifier, event.area, event.zone) == ("101", "1", "01", "015")
    assert not event.restore
    assert parse_content("ADM-CID", "3301 00 000]").events[0].restore


def test_sia_data_with_several_events() -> None:
    content = parse_content("SIA-DCS", "#ABC|Nri2/MA001/ti10:00/PA^Pendant^]")
    assert [(e.code, e.zone, e.area) for e in content.events] == [
        ("MA", "001", "2"),
        ("PA", "", "2"),
    ]
    assert content.timestamp is None


def test_null_data_is_empty() -> None:
    assert parse_content("NULL", "]_10:00:00,12-01-2026").events == ()


@pytest.mark.parametrize(
    ("token", "data"),
    [
        ("ADM-CID", "1101 01 001"),  # no ]
        ("ADM-CID", "#1234|9101 01 001]"),  # qualifier 9
        ("ADM-CID", "#1234|1101 1 001]"),
        ("ADM-CID", "#12|1101 01 001]"),  # account too short
        ("SIA-DCS", "#1234|N]"),  # no event
        ("SIA-DCS", "#1234|Nri1/!!]"),
        ("NULL", "#1234|1101 01 001]"),
        ("ADM-CID", "1101 01 001]_25:00:00,12-01-2026"),  # no such hour
        ("ADM-CID", "1101 01 001]garbage"),
        ("RSP", "]"),
    ],
)
def test_bad_data_is_refused(token: str, data: str) -> None:
    with pytest.raises(ContentError):
        parse_content(token, data)


def test_answers() -> None:
    frame = parse_frame(
        build_frame(
            "ADM-CID", "0042", receiver="12", prefix="3", account="1234", rest="#1234|1101 01 001]"
        )
    )
    assert ack(frame, T0) == build_frame(
        "ACK", "0042", receiver="12", prefix="3", account="1234", rest="]"
    )
    assert parse_frame(duh(frame)).token == "DUH"
    refused = nak(T0)
    assert b'"NAK"0000R0L0A0[]_10:00:00,12-01-2026\r' in refused
    assert parse_frame(refused).token == "NAK"
    key = bytes(range(32))
    secret = parse_frame(
        build_frame(
            "ADM-CID",
            "0042",
            receiver="12",
            prefix="3",
            account="1234",
            rest=encrypt_data(key, "#1234|1101 01 001]"),
            encrypted=True,
        )
    )
    assert parse_frame(ack(frame, T0, key)).encrypted is False  # a clear frame: a clear ACK
    sealed = parse_frame(ack(secret, T0, key))
    assert (sealed.token, sealed.encrypted, sealed.seq) == ("ACK", True, "0042")
    assert decrypt_data(key, sealed.rest) == "]_10:00:00,12-01-2026"
