"""Sound in calls: the jitter buffer, the volume, and real tones both ways over aiortc."""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.ice
import numpy as np
import pytest

from tablet_app.audio import (
    CHUNK_SAMPLES,
    LOUD_VOLUME,
    NORMAL_VOLUME,
    SAMPLE_RATE,
    VOLUME_GAINS,
    CapturedOutput,
    JitterBuffer,
    SoundDeviceOutput,
    apply_gain,
    dominant_frequency,
    rms,
)
from tablet_app.calls import CallEngine, SyntheticMedia
from tests.tablet_app.test_calls import Relay


def tone(hz: float, seconds: float, amplitude: int = 9000) -> bytes:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return bytes((amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes())


# ---------------------------------------------------------------- pure parts


def test_the_buffer_plays_silence_until_its_cushion_is_filled() -> None:
    buffer = JitterBuffer(target_ms=60, max_ms=300)
    buffer.push(tone(440, 0.04))  # 40 ms: less than the 60 ms cushion
    assert buffer.pull(CHUNK_SAMPLES) == bytes(CHUNK_SAMPLES * 2)
    buffer.push(tone(440, 0.04))  # 80 ms now
    played = buffer.pull(CHUNK_SAMPLES)
    assert played == tone(440, 0.02)
    assert buffer.played_samples == CHUNK_SAMPLES


def test_running_dry_pads_with_silence_counts_an_underrun_and_refills_the_cushion() -> None:
    buffer = JitterBuffer(target_ms=20, max_ms=300)
    buffer.push(tone(440, 0.03))
    buffer.pull(CHUNK_SAMPLES)  # 20 ms played, 10 ms left
    short = buffer.pull(CHUNK_SAMPLES)
    assert short[: 480 * 2] == tone(440, 0.03)[CHUNK_SAMPLES * 2 :]
    assert short[480 * 2 :] == bytes(480 * 2)
    assert buffer.underruns == 1
    buffer.push(tone(440, 0.01))  # below the cushion again: silence, not a crackle
    assert buffer.pull(480) == bytes(480 * 2)


def test_a_burst_past_the_limit_drops_the_oldest_sound_back_to_the_cushion() -> None:
    buffer = JitterBuffer(target_ms=60, max_ms=200)
    first = tone(440, 0.15)
    second = tone(880, 0.1)
    buffer.push(first)
    buffer.push(second)  # 250 ms > 200 ms: keep the newest 60 ms
    assert buffer.buffered_ms == pytest.approx(60)
    assert buffer.dropped_samples == int(0.19 * SAMPLE_RATE)
    assert buffer.pull(int(0.06 * SAMPLE_RATE)) == second[-int(0.06 * SAMPLE_RATE) * 2 :]


def test_odd_byte_counts_never_shift_the_samples() -> None:
    buffer = JitterBuffer(target_ms=20, max_ms=300)
    buffer.push(tone(440, 0.02) + b"\x01")
    assert buffer.buffered_ms == pytest.approx(20)


@pytest.mark.parametrize(("target", "limit"), [(0, 100), (100, 100), (200, 100)])
def test_a_buffer_needs_a_cushion_below_its_limit(target: int, limit: int) -> None:
    with pytest.raises(ValueError, match="target_ms"):
        JitterBuffer(target_ms=target, max_ms=limit)


def test_gain_scales_and_clips_instead_of_wrapping() -> None:
    loud = apply_gain(tone(440, 0.02, amplitude=20000), 2.0)
    samples = np.frombuffer(loud, dtype=np.int16)
    assert samples.max() == 32767
    assert samples.min() == -32768
    assert apply_gain(tone(440, 0.02), 1.0) == tone(440, 0.02)
    assert rms(apply_gain(tone(440, 0.1), 0.5)) == pytest.approx(rms(tone(440, 0.1)) / 2, rel=0.01)


def test_the_fft_finds_the_tone_and_silence_has_no_level() -> None:
    assert dominant_frequency(tone(440, 0.5)) == pytest.approx(440, abs=3)
    assert dominant_frequency(tone(880, 0.5)) == pytest.approx(880, abs=3)
    assert rms(bytes(9600)) == 0.0
    assert dominant_frequency(b"") == 0.0


async def test_a_tablet_without_a_sound_card_keeps_the_call_silently() -> None:
    output = SoundDeviceOutput(device="no such device")
    output.start(lambda n: bytes(n * 2))  # logs a warning, raises nothing
    await output.stop()


# ---------------------------------------------------------------- real calls on loopback


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ICE on 127.0.0.1 (aioice leaves loopback out by default); no STUN/TURN."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.mark.usefixtures("loopback_only")
@pytest.mark.parametrize("voice_only", [False, True], ids=["video-call", "voice-call"])
async def test_each_side_hears_the_others_tone(voice_only: bool) -> None:
    relay = Relay()
    family_ear, tablet_ear = CapturedOutput(), CapturedOutput()
    family = CallEngine(relay.sender("u:1"), SyntheticMedia(tone_hz=440), output=family_ear)
    tablet = CallEngine(relay.sender("r:7"), SyntheticMedia(tone_hz=880), output=tablet_ear)
    relay.engines = {"u:1": family, "r:7": tablet}
    try:
        await family.place("r:7")
        await tablet.accept(42, voice_only=voice_only)
        async with asyncio.timeout(60):
            heard = await tablet_ear.wait_for_tone(440)
            back = await family_ear.wait_for_tone(880)
        assert heard == pytest.approx(440, abs=10)
        assert back == pytest.approx(880, abs=10)
        assert tablet.audio_tracks == 1
        if voice_only:
            assert tablet.local.frames == 0  # no camera was opened
        await tablet.hangup()
        assert tablet_ear._task is None  # the loudspeaker stopped with the call
    finally:
        await family.close()
        await tablet.close()


@pytest.mark.usefixtures("loopback_only")
async def test_the_operators_louder_raises_the_tablets_volume_and_is_confirmed() -> None:
    relay = Relay()
    ear = CapturedOutput()
    centre = CallEngine(relay.sender("u:1"), SyntheticMedia(tone_hz=440))
    tablet = CallEngine(relay.sender("r:7"), SyntheticMedia(), output=ear)
    relay.engines = {"u:1": centre, "r:7": tablet}
    levels: list[Any] = []
    original = centre.on_signal

    async def spy(call_id: int, data: dict[str, Any]) -> None:
        if "volume_level" in data:
            levels.append(data["volume_level"])
        await original(call_id, data)

    centre.on_signal = spy  # type: ignore[method-assign]
    try:
        await centre.place("r:7")
        await tablet.accept(42, voice_only=True, loud=True)
        assert tablet.volume == LOUD_VOLUME
        async with asyncio.timeout(60):
            await ear.wait_for_tone(440)
        quiet = rms(ear.recent(0.4))
        await centre._signal({"volume": "up"})
        assert tablet.volume == LOUD_VOLUME + 1
        assert levels == [LOUD_VOLUME + 1]
        ratio = VOLUME_GAINS[LOUD_VOLUME + 1] / VOLUME_GAINS[LOUD_VOLUME]
        async with asyncio.timeout(30):
            while rms(ear.recent(0.4)) < quiet * ratio * 0.8:
                await ear.wait_for_progress()
        for _ in range(10):
            await centre._signal({"volume": "up"})
        assert tablet.volume == len(VOLUME_GAINS) - 1  # clamped at the loudest step
        await centre._signal({"volume": "sideways"})  # unknown: ignored, nothing answered
        assert levels[-1] == len(VOLUME_GAINS) - 1
    finally:
        await centre.close()
        await tablet.close()
    assert tablet.set_volume(-3) == 0
    assert NORMAL_VOLUME < LOUD_VOLUME
