"""Spoken prompts with the real espeak-ng, and silence where it is missing."""

from __future__ import annotations

import logging
import shutil
import wave
from pathlib import Path

import pytest

from tablet_app.ringtone import write_ring_tone
from tablet_app.speech import EspeakSpeaker


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_prompt_is_spoken_in_catalan(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(wav_dir=tmp_path)
    speaker.say("Esteu bé?", "ca")
    await speaker.wait()
    [wav] = list(tmp_path.glob("*.wav"))
    with wave.open(str(wav)) as audio:
        assert audio.getnframes() / audio.getframerate() > 0.3  # real speech, not silence
    await speaker.close()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_a_new_sentence_interrupts_the_old(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(wav_dir=tmp_path)
    speaker.say("Una frase molt llarga " * 20, "ca")
    speaker.say("-v en: not an option", "en")  # a leading dash is text, not an option
    await speaker.wait()
    assert [s for s, _ in speaker.spoken][-1] == "-v en: not an option"
    assert (tmp_path / "spoken-0002.wav").stat().st_size > 1000
    await speaker.close()


async def test_without_espeak_it_logs_and_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    speaker = EspeakSpeaker(enabled=False)
    assert not speaker.available
    with caplog.at_level(logging.INFO):
        speaker.say("Are you all right?", "en")
    assert "not spoken" in caplog.text
    await speaker.close()


def test_ring_tone_is_a_real_sound(tmp_path: Path) -> None:
    path = write_ring_tone(tmp_path / "ring.wav")
    with wave.open(str(path)) as audio:
        assert audio.getnchannels() == 1
        assert 2.5 < audio.getnframes() / audio.getframerate() < 3.5
