"""The centre ends a unit's speech call with a ``BYE`` (ADR 0160).

When the alarm is resolved while the unit's call is up (and when the operator hangs up: the
console's path, with SIPp playing the unit, is in ``test_scaip_speech.py``), the hub sends the
unit a ``BYE`` in its dialog, resends it over UDP until a final answer (RFC 3261 timer E),
and records on the alarm what the unit answered: ``ok`` (200), ``gone`` (481: it had ended
the call already) or ``no_answer``. A raw socket plays the unit, so every message is seen.
No clock is asserted: waits are for events, bounded; timer E is shortened where the test
needs it to run out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hub.carephones.app import SCAIP_RECEIVER, SCAIP_SPEECH
from hub.carephones.speech import SpeechCall
from tests.hub.carephones.conftest import Dc09Hub
from tests.hub.carephones.sipp import needs_sipp
from tests.hub.carephones.sipunit import (
    SipSocket,
    SpeechHub,
    answer_to,
    header,
    invite,
    request,
    resolve,
    unit_calls,
)
from tests.hub.carephones.test_scaip import ports
from tests.hub.ingest.helpers import eventually

pytestmark = [pytest.mark.broker, needs_sipp]


async def answered_call(hub: Dc09Hub, alarm: dict[str, Any], peer: SipSocket, cid: str,
                        call_id: str, contact: str | None = None) -> SpeechCall:  # fmt: skip
    """The unit's call rings, the operator accepts the alarm, the unit ACKs the 200."""
    peer.send(invite(cid, call_id, peer.port, contact=contact))
    assert await peer.astatus() == 180
    accepted = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
    assert accepted.status == 200, await accepted.text()
    assert await peer.astatus() == 200
    peer.send(request("ACK", cid, call_id, peer.port))
    (call,) = hub.app[SCAIP_SPEECH].calls.values()
    await eventually(call.acked.is_set, 10)
    return call


async def test_resolving_the_alarm_ends_the_units_call_with_a_bye_resent_until_its_200(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    speech, receiver = hub.app[SCAIP_SPEECH], hub.app[SCAIP_RECEIVER]
    with SipSocket(ports(hub)["udp"]) as peer:
        call = await answered_call(hub, alarm, peer, cid, "bye-1@unit")
        await resolve(hub, alarm)
        bye = await peer.areceive()
        assert bye.startswith(f"BYE sip:{cid}@127.0.0.1 SIP/2.0".encode())
        # In the unit's dialog: its From tag is our To, our To tag (the 200's) our From.
        assert header(bye, "to") == f"<sip:{cid}@127.0.0.1>;tag=ubye-1"
        assert ";tag=" in header(bye, "from")
        assert (header(bye, "call-id"), header(bye, "cseq")) == ("bye-1@unit", "1 BYE")
        # The media ends at once; the call is gone from the live ones.
        assert speech.calls == {}
        assert call.ended_by == "resolved"
        # Unanswered, the same BYE comes again (timer E) until the unit's 200.
        assert await peer.areceive() == bye
        peer.send(answer_to(bye, 200, "OK"))
        await eventually(call.bye_answered.is_set, 10)
        # A late retransmission of the 200 is not bad input.
        peer.send(answer_to(bye, 200, "OK"))
        # The unit's own BYE crossing ours gets a 200, not a 481.
        peer.send(request("BYE", cid, "bye-1@unit", peer.port, cseq=2))
        assert await peer.astatus() == 200
    assert call.bye_outcome == "ok"
    entries = await unit_calls(hub, alarm["id"], 3)
    assert [(e["detail"].get("status"), e["detail"].get("by"), e["detail"].get("bye"))
            for e in entries] == [
        (None, None, None), ("answered", "operator", None), ("ended", "resolved", "ok"),
    ]  # fmt: skip
    assert receiver.refused["unknown_bye_answer"] == 0
    assert receiver.refused["unknown_call"] == 0


async def test_a_unit_already_gone_answers_481_and_that_is_recorded(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    with SipSocket(ports(hub)["udp"]) as peer:
        call = await answered_call(hub, alarm, peer, cid, "gone-1@unit")
        assert hub.app[SCAIP_SPEECH].hang_up_unit(call, "operator")
        assert not hub.app[SCAIP_SPEECH].hang_up_unit(call, "operator")  # over already
        bye = await peer.areceive()
        peer.send(answer_to(bye, 100, "Trying"))  # a provisional answer: not the end
        peer.send(answer_to(bye, 481, "Call/Transaction Does Not Exist"))
        await eventually(call.bye_answered.is_set, 10)
    assert call.bye_outcome == "gone"
    entries = await unit_calls(hub, alarm["id"], 3)
    assert entries[-1]["detail"] | {"call": None} == {
        "call": None, "device": entries[0]["detail"]["device"], "status": "ended",
        "by": "operator", "bye": "gone",
    }  # fmt: skip
    assert hub.app[SCAIP_RECEIVER].refused["unknown_bye_answer"] == 0


async def test_a_unit_that_never_answers_the_bye_is_given_up_after_timer_f(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    speech = hub.app[SCAIP_SPEECH]
    speech.t1, speech.t2 = 0.01, 0.04  # timer F = 64·T1 runs out within the test
    with SipSocket(ports(hub)["udp"]) as peer:
        call = await answered_call(hub, alarm, peer, cid, "mute-1@unit")
        assert speech.hang_up_unit(call, "operator")
        first = await peer.areceive()
        assert await peer.areceive() == first
        await eventually(call.bye_answered.is_set, 10)
    assert call.bye_outcome == "no_answer"
    entries = await unit_calls(hub, alarm["id"], 3)
    assert (entries[-1]["detail"]["by"], entries[-1]["detail"]["bye"]) == ("operator", "no_answer")


async def test_over_tcp_the_bye_comes_once_on_the_units_connection(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    with SipSocket(ports(hub)["tcp"], tcp=True) as peer:
        call = await answered_call(hub, alarm, peer, cid, "tcp-bye@unit")
        await resolve(hub, alarm)
        bye = await peer.areceive()
        assert bye.startswith(b"BYE ")
        assert header(bye, "via").startswith("SIP/2.0/TCP ")
        peer.send(answer_to(bye, 200, "OK"))
        await eventually(call.bye_answered.is_set, 10)
    assert call.bye_outcome == "ok"


async def test_an_answer_to_a_bye_of_no_call_is_ignored_and_counted(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    speech, receiver = hub.app[SCAIP_SPEECH], hub.app[SCAIP_RECEIVER]
    with SipSocket(ports(hub)["udp"]) as peer:
        stray = (
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKstray\r\n"
            f"From: <sip:arc@127.0.0.1>;tag=x\r\nTo: <sip:{cid}@127.0.0.1>;tag=y\r\n"
            "Call-ID: nobody@nowhere\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        peer.send(stray)
        peer.send(stray.replace(b"200 OK", b"481 Call/Transaction Does Not Exist"))
        await eventually(lambda: receiver.refused["unknown_bye_answer"] == 2, 10)
        # The receiver goes on: the unit's call rings and is answered, and ends on a BYE.
        call = await answered_call(hub, alarm, peer, cid, "after-stray@unit")
        await resolve(hub, alarm)
        bye = await peer.areceive()
        peer.send(answer_to(bye, 200, "OK"))
        await eventually(call.bye_answered.is_set, 10)
    assert call.bye_outcome == "ok"
    assert speech.calls == {}
    metrics = await hub.client.get("/metrics", headers=hub.supervisor)
    assert 'teleassist_scaip_refused_total{reason="unknown_bye_answer"} 2.0' in await metrics.text()


# -- where the BYE goes: the dialog's remote target (ADR 0168) ---------------------------


async def test_the_bye_goes_to_the_units_contact(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    # The unit calls from one socket and names another in its Contact (RFC 3261 12.1.1:
    # the dialog's remote target): the BYE goes there, never to where the INVITE came from.
    with SipSocket(ports(hub)["udp"]) as peer, SipSocket(ports(hub)["udp"]) as contact:
        uri = f"sip:{cid}@127.0.0.1:{contact.port};transport=udp"
        call = await answered_call(hub, alarm, peer, cid, "contact-1@unit", contact=f"<{uri}>")
        await resolve(hub, alarm)
        bye = await contact.areceive()
        assert bye.startswith(f"BYE {uri} SIP/2.0".encode())
        assert call.bye_to == ("127.0.0.1", contact.port)
        contact.send(answer_to(bye, 200, "OK"))
        await eventually(call.bye_answered.is_set, 10)
        peer.sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            peer.sock.recv(65535)  # nothing came to the source
    assert call.bye_outcome == "ok"
    entries = await unit_calls(hub, alarm["id"], 3)
    assert (entries[-1]["detail"]["by"], entries[-1]["detail"]["bye"]) == ("resolved", "ok")


async def test_a_contact_behind_a_nat_is_reached_where_the_call_came_from(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    # The unit wrote its inside address (a NAT's), which cannot be reached from here: the
    # BYE still names it as its Request-URI, but goes to the INVITE's source address.
    with SipSocket(ports(hub)["udp"]) as peer:
        uri = f"sip:{cid}@192.168.1.20:5060"
        call = await answered_call(hub, alarm, peer, cid, "nat-1@unit", contact=f"<{uri}>")
        await resolve(hub, alarm)
        bye = await peer.areceive()
        assert bye.startswith(f"BYE {uri} SIP/2.0".encode())
        assert call.bye_to == ("127.0.0.1", peer.port)
        peer.send(answer_to(bye, 200, "OK"))
        await eventually(call.bye_answered.is_set, 10)
    assert call.bye_outcome == "ok"
