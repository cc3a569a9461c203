"""The operator's audio link to a unit's call fails: the hub ends the unit's call (ADR 0168).

Before, a unit's answered call outlived the operator's WebRTC leg when that leg failed or
closed without a hang-up (a browser gone, ICE or DTLS failed, or a leg that never connected):
nothing ended it, and the unit's line stayed busy with the hold message. Now the hub sends
the unit a ``BYE`` and the alarm records ``ended`` ``by`` ``link_failed``, with the unit's
answer; the console's centre call ends with it. SIPp plays the unit; an aiortc peer over
the console's signalling plays the operator's browser. Waits are for events, bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from hub.carephones.app import SCAIP_SPEECH
from hub.family.ws import CALL_SERVICE
from tests.hub.carephones.rtp_tone import tone_pcap
from tests.hub.carephones.sipp import needs_sipp, run_sipp
from tests.hub.carephones.sipunit import (
    ConsoleVoice,
    Loudspeaker,
    SpeechHub,
    call_scenario,
    ringing_call,
    unit_calls,
)
from tests.hub.carephones.test_scaip import ports
from tests.hub.ingest.helpers import eventually

pytestmark = [pytest.mark.broker, needs_sipp]


async def test_a_browser_leg_that_goes_away_ends_the_units_call_with_a_bye(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub(prefix="l", accepted=True, scaip_hold_message="en")).parts
    speech = hub.app[SCAIP_SPEECH]
    speech.link_grace_s = 0.2  # the operator's hang-up, if any, would come within it
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 10.0)
    loudspeaker = await Loudspeaker.open()
    scenario = call_scenario(cid, pcap, 60000, hear_on=loudspeaker.port, centre_hangs_up=True)
    unit = asyncio.ensure_future(run_sipp(tmp_path, "link", scenario, ports(hub)["udp"]))
    try:
        call = await ringing_call(hub)
        async with ConsoleVoice(hub) as operator:
            call_id = await operator.start(alarm["id"])
            await operator.connect()
            await eventually(lambda: call.bridged, 30)
            # The browser's connection goes, and no hang-up follows (a closed tab, a
            # crashed browser): the hub's side sees its peer close.
            await operator.peer.close()
            ended = await operator.next_event("call.state", call_id=call_id, status="ended")
            # The console's centre call ended with the unit's, by the home's side.
            assert ended["call"]["ended_by"].startswith("r:")
    finally:
        run = await unit
        loudspeaker.close()
    # SIPp (the unit) got the hub's BYE and answered it 200.
    assert run.returncode == 0, (run.errors, run.output)
    await eventually(call.bye_answered.is_set, 30)
    assert (call.ended_by, call.bye_outcome) == ("link_failed", "ok")
    assert speech.calls == {}
    entries = await unit_calls(hub, alarm["id"], 3)
    assert [(e["detail"].get("status"), e["detail"].get("by"), e["detail"].get("bye"))
            for e in entries][1:] == [
        ("answered", "voice", None), ("ended", "link_failed", "ok"),
    ]  # fmt: skip


async def test_a_leg_that_never_connects_ends_the_units_call(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub(prefix="n", accepted=True, scaip_hold_message="")).parts
    # The console's call gives up when its media does not connect (shortened here).
    hub.app[CALL_SERVICE].media_timeout_s = 0.5
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 1.0)
    scenario = call_scenario(cid, pcap, 60000, centre_hangs_up=True)
    unit = asyncio.ensure_future(run_sipp(tmp_path, "never", scenario, ports(hub)["udp"]))
    try:
        call = await ringing_call(hub)
        async with ConsoleVoice(hub) as operator:
            # "Speak with the home" answers the unit's call, but no offer ever comes.
            call_id = await operator.start(alarm["id"])
            await operator.next_event("call.state", call_id=call_id, status="failed")
    finally:
        run = await unit
    assert run.returncode == 0, (run.errors, run.output)
    await eventually(call.bye_answered.is_set, 30)
    assert (call.ended_by, call.bye_outcome) == ("link_failed", "ok")
    entries = await unit_calls(hub, alarm["id"], 3)
    assert (entries[-1]["detail"]["status"], entries[-1]["detail"]["by"]) == (
        "ended", "link_failed",
    )  # fmt: skip
