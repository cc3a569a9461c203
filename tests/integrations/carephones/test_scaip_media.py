"""The speech call's media without sockets: SDP offers and answers, RTP packets, G.711."""

from __future__ import annotations

import math

import pytest

from integrations.carephones.scaip.media import (
    PCMA,
    PCMU,
    RtpPacket,
    SdpError,
    build_answer,
    build_rtp,
    decode,
    encode,
    parse_offer,
    parse_rtp,
)
from tests.hub.carephones.rtp_tone import alaw

OFFER = (
    "v=0\r\no=u 1 1 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    "m=video 40002 RTP/AVP 96\r\nc=IN IP4 10.9.9.9\r\n"
)


def test_an_offer_gives_the_first_audio_stream_and_its_g711_types() -> None:
    offer = parse_offer(OFFER)
    assert (offer.address, offer.port, offer.payload_types) == ("10.0.0.7", 40000, (PCMU, PCMA))
    media_level = OFFER.replace(
        "m=audio 40000 RTP/AVP 0 8 101\r\n", "m=audio 40000 RTP/AVP 8\r\nc=IN IP4 10.0.0.8\r\n"
    )
    assert parse_offer(media_level).address == "10.0.0.8"
    answer = build_answer("127.0.0.1", 30000, PCMA, 7)
    assert "m=audio 30000 RTP/AVP 8\r\n" in answer
    assert "a=rtpmap:8 PCMA/8000\r\n" in answer


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        OFFER.replace("m=audio 40000 RTP/AVP 0 8 101", "m=audio 40000 RTP/AVP 9 101"),
        OFFER.replace("c=IN IP4 10.0.0.7\r\n", ""),
        OFFER.replace("m=audio 40000", "m=audio 0"),
        OFFER.replace("IN IP4 10.0.0.7", "IN IP6 ::1"),
    ],
)
def test_an_offer_we_cannot_answer_is_refused(sdp: str) -> None:
    with pytest.raises(SdpError):
        parse_offer(sdp)


def test_rtp_round_trip_and_what_is_not_voice() -> None:
    packet = RtpPacket(PCMA, 7, 1120, 0xABCD, b"\xd5" * 160)
    assert parse_rtp(build_rtp(packet)) == packet
    assert parse_rtp(b"\x00" * 20) is None  # version 0
    assert parse_rtp(b"\x80\x08") is None  # too short
    rtcp = bytes([0x80, 200]) + b"\x00" * 30
    assert parse_rtp(rtcp) is None
    padded = bytearray(build_rtp(packet)) + b"\x00\x00\x03"
    padded[0] |= 0x20
    assert parse_rtp(bytes(padded)) == packet


def test_g711_matches_an_independent_encoder_and_round_trips() -> None:
    tone = [int(9000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(800)]
    assert encode(PCMA, tone) == bytes(alaw(s) for s in tone)
    for law in (PCMA, PCMU):
        back = decode(law, encode(law, tone))
        assert max(abs(a - b) for a, b in zip(tone, back, strict=True)) < 300
