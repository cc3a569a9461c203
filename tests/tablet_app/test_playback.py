"""Voice messages from the family play on the tablet (decoded to WAV for Kivy's audio)."""

from __future__ import annotations

import array
import itertools
import wave
from pathlib import Path
from typing import Any

import pytest

from tablet_app.family import FamilyClient
from tablet_app.model import Message, TabletModel
from tablet_app.playback import UnplayableVoice, voice_to_wav
from tests.family.conftest import World, media_samples  # noqa: F401
from tests.family.media_samples import Samples
from tests.tablet_app.conftest import pump, tap
from tests.tablet_app.test_family import direct_conversation, say

pytestmark = pytest.mark.tablet


def wav_facts(path: Path) -> tuple[int, int, float, float]:
    """(channels, rate, seconds, pitch in Hz from zero crossings) of a WAV file."""
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
        channels, rate, count = wav.getnchannels(), wav.getframerate(), wav.getnframes()
    samples = array.array("h", frames)
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return channels, rate, count / rate, crossings / 2 / (count / rate)


async def upload(world: World, who: Any, data: bytes) -> int:
    resp = await world.client.post("/api/family/media?kind=voice", data=data, headers=who.headers)
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["media_id"])


@pytest.mark.parametrize("recorded_as", ["ogg_voice", "webm_voice"])
async def test_a_voice_message_from_the_family_plays_on_the_tablet(
    world: World,
    media_samples: Samples,  # noqa: F811
    kivy_window: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorded_as: str,
) -> None:
    from datetime import UTC, datetime

    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)
    cid = await direct_conversation(world, anna, tablet)
    media_id = await upload(world, anna, getattr(media_samples, recorded_as))
    await say(world, anna, cid, media_id=media_id)

    model = TabletModel(language="en", online=True)
    token = tablet.headers["Authorization"].removeprefix("Bearer ")
    family = FamilyClient(
        str(world.client.make_url("/")), token, tablet.resident_id, model, tmp_path / "media"
    )
    try:
        await family.refresh()
        await family.refresh()  # a second refresh reuses the decoded file
    finally:
        await family.close()
    [voice] = [m for m in model.messages if m.kind == "voice"]
    assert voice.media is not None
    assert voice.media.endswith(".wav")
    channels, rate, seconds, pitch = wav_facts(Path(voice.media))
    assert (channels, rate) == (1, 48_000)
    assert seconds == pytest.approx(1.0, abs=0.05)  # the sample is one second of 440 Hz
    assert pitch == pytest.approx(440, abs=10)

    # Kivy's own audio opens it (SDL's dummy driver: there is no sound card here).
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    from kivy.core.audio import SoundLoader

    sound = SoundLoader.load(voice.media)
    assert sound is not None
    assert sound.length == pytest.approx(1.0, abs=0.05)

    # Touching "Voice message" in the conversation plays this file.
    played: list[Message] = []
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    view = TabletView(model, lambda: now, Actions(lambda: None, played.append))
    kivy_window.add_widget(view)
    try:
        model.open_conversation(anna.party)
        pump(3)
        from tablet_app.widgets import find

        tap(find(view, f"conversation.open.{voice.id}"))
        assert [m.media for m in played] == [voice.media]
    finally:
        view.detach()
        kivy_window.remove_widget(view)
        pump()


def test_a_file_that_is_not_sound_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS" + b"\0" * 200)
    with pytest.raises(UnplayableVoice):
        voice_to_wav(bad, tmp_path / "bad.wav")
    assert not list(tmp_path.glob("*.wav"))
    assert not list(tmp_path.glob("*.part"))
