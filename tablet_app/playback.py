"""Voice messages the tablet plays: decoded once to WAV, which every Kivy audio backend plays.

Family members record Ogg/Opus or WebM/Opus (the family web app's ``MediaRecorder``), and
Kivy's SDL2 audio cannot open either without extra libraries (``libopusfile``; WebM not
at all). PyAV (installed with aiortc) decodes both, so each voice message is turned into a
16-bit mono WAV file next to the download, once, outside the event loop.
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import av

from tablet_app.audio import SAMPLE_RATE

_LOGGER = logging.getLogger(__name__)

MAX_VOICE_S = 600  # longer than the hub accepts; a bound against a hostile file


class UnplayableVoice(Exception):
    """The downloaded file is not a voice recording PyAV can decode."""


def voice_to_wav(source: Path, target: Path) -> Path:
    """Decode ``source`` (any audio PyAV reads) into a 16-bit mono 48 kHz WAV ``target``."""
    tmp = target.with_suffix(".part")
    limit = MAX_VOICE_S * SAMPLE_RATE
    written = 0
    try:
        with av.open(str(source)) as container, wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for pcm in resampler.resample(frame):
                    out.writeframes(bytes(pcm.planes[0])[: pcm.samples * 2])
                    written += pcm.samples
                if written > limit:
                    raise UnplayableVoice(f"{source.name} lasts more than {MAX_VOICE_S} s")
            for pcm in resampler.resample(None):
                out.writeframes(bytes(pcm.planes[0])[: pcm.samples * 2])
                written += pcm.samples
    except (av.FFmpegError, OSError, ValueError, IndexError) as err:
        tmp.unlink(missing_ok=True)
        raise UnplayableVoice(f"{source.name}: {err}") from err
    except UnplayableVoice:
        tmp.unlink(missing_ok=True)
        raise
    if written == 0:
        tmp.unlink(missing_ok=True)
        raise UnplayableVoice(f"{source.name} has no sound")
    tmp.replace(target)
    return target
