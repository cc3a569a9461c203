"""The SCAIP codec without sockets: SIP requests and responses, ``<mrq>`` and ``<mrs>``, and
the status-code mapping. Every defect is refused with its reason."""

from __future__ import annotations

import pytest

from integrations.carephones.mapping import map_scaip, parse_status_codes
from integrations.carephones.scaip import (
    ScaipError,
    SipError,
    SipResponse,
    build_response,
    build_sip_response,
    parse_request,
    parse_sip_request,
)

BODY = b"<mrq><ref>00001883</ref><cid>26317</cid><dty>02</dty><stc>010</stc></mrq>"


def sip(head: str, body: bytes = BODY, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (head.replace("\n", "\r\n") + f"\r\nl: {size}\r\n\r\n").encode() + body


HEAD = (
    "MESSAGE sip:arc@centre SIP/2.0\n"
    "v: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\n"
    "f: <sip:unit@10.0.0.7>;tag=u1\nt: <sip:arc@centre>\ni: abc@10.0.0.7\n"
    "CSeq: 7 MESSAGE\nc: text/xml"
)


def test_a_request_in_compact_form_is_read_and_answered_with_its_hops() -> None:
    request = parse_sip_request(sip(HEAD), 2048)
    assert (request.method, request.content_type, request.body) == ("MESSAGE", "text/xml", BODY)
    assert len(request.all("via")) == 2
    answer = build_sip_response(request, SipResponse(200, body=b"<mrs/>", content_type="text/xml"))
    lines = answer.split(b"\r\n")
    assert lines[0] == b"SIP/2.0 200 OK"
    assert lines[1].endswith(b"branch=z9hG4bK1")
    assert lines[2].endswith(b"branch=z9hG4bK0")
    assert b"To: <sip:arc@centre>;tag=" in answer
    assert answer.endswith(b"Content-Length: 6\r\n\r\n<mrs/>")
    # A retransmission gets the very same answer (the tag is derived, not random).
    again = build_sip_response(
        parse_sip_request(sip(HEAD), 2048),
        SipResponse(200, body=b"<mrs/>", content_type="text/xml"),
    )
    assert again == answer


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"MESSAGE sip:a SIP/2.0\r\nVia: x\r\n", 400),  # no end of headers
        (sip(HEAD.replace("SIP/2.0\n", "SIP/3.0\n", 1)), 400),
        (sip(HEAD.replace("CSeq: 7 MESSAGE", "CSeq: 7 INVITE")), 400),
        (sip(HEAD.replace("i: abc@10.0.0.7\n", "")), 400),  # no Call-ID
        (sip(HEAD + "\nno colon here"), 400),
        (sip(HEAD, length=len(BODY) + 5), 400),  # body shorter than declared
        (sip(HEAD, body=b"x" * 3000), 413),
        (sip(HEAD).replace(b"l: ", b"l: -"), 400),
    ],
)
def test_a_bad_request_is_refused_with_its_status(data: bytes, status: int) -> None:
    with pytest.raises(SipError) as caught:
        parse_sip_request(data, 2048)
    assert caught.value.status == status


def test_a_reason_phrase_cannot_break_the_framing() -> None:
    request = parse_sip_request(sip(HEAD), 2048)
    answer = build_sip_response(request, SipResponse(400, "bad\r\nX-Injected: 1"))
    assert b"\r\nX-Injected" not in answer


def test_a_message_request_is_read_with_its_defaults() -> None:
    message = parse_request(BODY)
    assert (message.ref, message.cid, message.dty, message.mty, message.status) == (
        "00001883", "26317", "02", "ME", 10,
    )  # fmt: skip
    assert not message.wants_speech
    spoken = parse_request(
        b"<mrq><mty>ME</mty><ref>r</ref><cid>1</cid><dty>3</dty><crd>gsm:</crd>"
        b"<crd>sip:u@h</crd><xyz><deep>kept out</deep></xyz></mrq>"
    )
    assert spoken.crd == ("gsm:", "sip:u@h")
    assert spoken.wants_speech
    assert (
        spoken.canonical()
        == parse_request(
            b"<mrq>\n <mty>ME</mty> <ref>r</ref><cid>1</cid><dty>3</dty><crd>gsm:</crd>"
            b"<crd>sip:u@h</crd></mrq>"
        ).canonical()
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<mrq><ref>1</ref>", "invalid_xml"),
        (b"", "invalid_xml"),
        (b"<mrs><ref>1</ref><snu>0</snu></mrs>", "not_request"),
        (b"<mrq><ref>1</ref><cid>2</cid></mrq>", "missing_field"),
        (b"<mrq><ref>1</ref><cid>2</cid><dty>x</dty></mrq>", "invalid_field"),
        (b"<mrq><ref>1</ref><ref>2</ref><cid>2</cid><dty>1</dty></mrq>", "invalid_field"),
        (b"<mrq><ref>1</ref><cid>2</cid><dty>1</dty><stc><b>1</b></stc></mrq>", "invalid_field"),
        (b"<mrq><ref>1</ref><cid>2</cid><dty>1</dty><mty>XX</mty></mrq>", "unknown_message_type"),
        (b"<mrq><ref>1</ref><cid>a b</cid><dty>1</dty></mrq>", "invalid_field"),
        (
            b'<!DOCTYPE mrq [<!ENTITY a "aaaa">]><mrq><ref>&a;</ref><cid>2</cid><dty>1</dty></mrq>',
            "invalid_xml",
        ),
        (
            b'<!DOCTYPE mrq SYSTEM "http://example.invalid/x.dtd"><mrq><ref>1</ref></mrq>',
            "invalid_xml",
        ),
    ],
)
def test_a_bad_message_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ScaipError) as caught:
        parse_request(body)
    assert caught.value.reason == reason


def test_the_response_echoes_the_reference_escaped() -> None:
    assert build_response("a<b") == (
        b'<?xml version="1.0" encoding="UTF-8"?><mrs><ref>a&lt;b</ref><snu>0</snu></mrs>'
    )


def test_status_codes_map_to_kinds() -> None:
    assert map_scaip("ME", 10, "").kind == "panic"
    assert map_scaip("ME", 10, "03", frozenset({"3"})).kind == "fall"
    assert map_scaip("ME", None, "").kind == "panic"  # an alarm without a status is an alarm
    assert map_scaip("ME", 102, "").kind == "test"
    unknown = map_scaip("IN", 67, "")
    assert (unknown.kind, unknown.restore, unknown.code) == ("unknown", False, "IN67")
    assert map_scaip("ME", 19, "").restore  # cancelled at the unit
    reset = map_scaip("RE", 12, "", extra={12: "smoke"})
    assert (reset.kind, reset.restore) == ("smoke", True)
    assert map_scaip("RE", 67, "").kind == "panic"
    assert map_scaip("ME", 12, "", extra={12: "smoke"}).kind == "smoke"


def test_a_centres_status_codes_are_checked() -> None:
    kinds = frozenset({"fall", "smoke"})
    assert parse_status_codes(" 12=fall, 0020=smoke ,", kinds) == {12: "fall", 20: "smoke"}
    for bad in ("12", "x=fall", "12=flood", "12345=fall"):
        with pytest.raises(ValueError, match="expected CODE=KIND"):
            parse_status_codes(bad, kinds)
