"""An alarm call answered by itself: the announcement first, then the centre's voice.

Real tones over aiortc on loopback (the centre's engine plays 440 Hz, the tablet's output
is recorded); the announcement is a speaker the test finishes, or one that never does.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aioice.ice
import pytest

import tablet_app.calls
from tablet_app.audio import SAMPLE_RATE, CapturedOutput, rms
from tablet_app.calls import CallEngine, SyntheticMedia
from tablet_app.controller import SilentRinger, TabletController
from tablet_app.link import Broker, HubLink
from tablet_app.model import TabletModel
from tablet_app.outbox import Outbox
from tablet_app.speech import EspeakSpeaker
from tests.tablet_app.test_calls import Relay


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def _signals(relay: Relay, party: str) -> list[dict[str, Any]]:
    return [f["data"] for p, f in relay.sent if p == party and f["type"] == "call.signal"]


async def _centre_call(relay: Relay, ear: CapturedOutput) -> tuple[CallEngine, CallEngine]:
    centre = CallEngine(relay.sender("u:1"), SyntheticMedia(tone_hz=440))
    tablet = CallEngine(relay.sender("r:7"), SyntheticMedia(), output=ear)
    relay.engines = {"u:1": centre, "r:7": tablet}
    await centre.place("r:7")
    return centre, tablet


async def test_the_centre_is_heard_only_once_the_announcement_has_been_said() -> None:
    relay, ear = Relay(), CapturedOutput()
    centre, tablet = await _centre_call(relay, ear)
    said = asyncio.Event()
    try:
        await tablet.accept(42, voice_only=True, loud=True, announce=said.wait)
        assert {"announcing": True} in _signals(relay, "r:7")
        # Half a second of the centre's sound has reached the loudspeaker's path ...
        async with asyncio.timeout(60):
            while tablet.jitter.played_samples < SAMPLE_RATE // 2:
                await ear.wait_for_progress()
        # ... and none of it was played over the announcement.
        assert rms(ear.recent(0.4)) == 0
        assert tablet.announcing
        said.set()
        async with asyncio.timeout(60):
            heard = await ear.wait_for_tone(440)
        assert heard == pytest.approx(440, abs=10)
        assert _signals(relay, "r:7")[-1] == {"announced": True}
        assert not tablet.announcing
    finally:
        await tablet.close()
        await centre.close()


@pytest.mark.parametrize("fault", ["never_ends", "raises"])
async def test_an_announcement_that_hangs_or_fails_does_not_keep_the_centre_unheard(
    monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    monkeypatch.setattr(tablet_app.calls, "ANNOUNCE_MAX_S", 0.3)
    relay, ear = Relay(), CapturedOutput()
    centre, tablet = await _centre_call(relay, ear)

    async def broken() -> None:
        if fault == "raises":
            raise RuntimeError("no speech device")
        await asyncio.Event().wait()

    try:
        await tablet.accept(42, voice_only=True, announce=broken)
        async with asyncio.timeout(60):
            heard = await ear.wait_for_tone(440)
        assert heard == pytest.approx(440, abs=10)
        assert _signals(relay, "r:7")[-1] == {"announced": True}
    finally:
        await tablet.close()
        await centre.close()


class _Family:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def start_call(self, contact_id: str, call_id: str | None, **options: Any) -> None:
        self.started.append({"contact": contact_id, "call": call_id, **options})


class _PlainSpeaker:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, language: str) -> None:
        self.said.append(text)


def _controller(tmp_path: Path, speaker: Any, family: Any) -> tuple[TabletModel, Outbox]:
    model = TabletModel(language="es", online=True)
    outbox = Outbox(tmp_path / "outbox.db")
    TabletController(
        model, HubLink("t", Broker(), outbox), speaker=speaker, ringer=SilentRinger(),
        clock=lambda: None, family=family,  # type: ignore[arg-type, return-value]
    )  # fmt: skip
    return model, outbox


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_the_alarm_call_waits_for_the_spoken_sentence(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(wav_dir=tmp_path / "spoken")
    family = _Family()
    model, outbox = _controller(tmp_path, speaker, family)
    try:
        model.incoming_centre_call("31", "u:5", alarm=True)
        [started] = family.started
        assert (started["call"], started["voice_only"], started["loud"]) == ("31", True, True)
        await started["announce"]()  # returns once espeak-ng has said it
        assert speaker.spoken == [("El centro le está hablando.", "es")]
        [wav] = list((tmp_path / "spoken").glob("*.wav"))
        assert wav.stat().st_size > 1000
    finally:
        await speaker.close()
        outbox.close()


async def test_a_speaker_that_cannot_tell_when_it_is_done_just_says_it(tmp_path: Path) -> None:
    speaker, family = _PlainSpeaker(), _Family()
    model, outbox = _controller(tmp_path, speaker, family)
    try:
        model.incoming_centre_call("31", "u:5", alarm=True)
        assert speaker.said == ["El centro le está hablando."]
        assert family.started[0]["announce"] is None  # nothing to wait for
    finally:
        outbox.close()
