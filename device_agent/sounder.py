"""The gateway's local voice: alarms must be heard at home even with no network.

:class:`Sounder` is the port; :class:`LogSounder` (logs only, for tests and headless
boxes) and :class:`EspeakSounder` (speaks through ``espeak-ng``) are the adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Literal, Protocol

from protocol.i18n import Language

_LOGGER = logging.getLogger(__name__)

Phrase = Literal["panic", "smoke", "co", "gas", "fall_detected", "fall_cancelled", "alarm_received"]

# What the resident hears; every phrase in Catalan, Spanish and English.
PHRASES: dict[Phrase, dict[Language, str]] = {
    "panic": {
        "ca": "Alarma enviada. Us trucarem de seguida.",
        "es": "Alarma enviada. Le llamaremos enseguida.",
        "en": "Alarm sent. We will call you right away.",
    },
    "smoke": {
        "ca": "Atenció: s'ha detectat fum. Sortiu de casa si podeu.",
        "es": "Atención: se ha detectado humo. Salga de casa si puede.",
        "en": "Warning: smoke detected. Leave the home if you can.",
    },
    "co": {
        "ca": "Atenció: monòxid de carboni. Obriu les finestres i sortiu.",
        "es": "Atención: monóxido de carbono. Abra las ventanas y salga.",
        "en": "Warning: carbon monoxide. Open the windows and go outside.",
    },
    "gas": {
        "ca": "Atenció: fuita de gas. No encengueu llums ni foc, obriu les finestres i sortiu.",
        "es": "Atención: fuga de gas. No encienda luces ni fuego, abra las ventanas y salga.",
        "en": "Warning: gas leak. Do not switch on lights or flames; open the windows and go out.",
    },
    "fall_detected": {
        "ca": "Hem detectat una caiguda. Premeu el botó si esteu bé.",
        "es": "Hemos detectado una caída. Pulse el botón si está bien.",
        "en": "A fall was detected. Press the button if you are fine.",
    },
    "fall_cancelled": {
        "ca": "D'acord, avís cancel·lat.",
        "es": "De acuerdo, aviso cancelado.",
        "en": "All right, alert cancelled.",
    },
    "alarm_received": {
        "ca": "La central ha rebut el vostre avís.",
        "es": "La central ha recibido su aviso.",
        "en": "The centre has received your alert.",
    },
}

_VOICES: dict[Language, str] = {"ca": "ca", "es": "es", "en": "en"}


class Sounder(Protocol):
    """Plays phrases and free text on the gateway's speaker."""

    async def announce(self, phrase: Phrase, language: Language) -> None:
        """Say one of the :data:`PHRASES`."""
        ...

    async def say(self, text: str, language: Language) -> None:
        """Say a message sent by the centre."""
        ...


class LogSounder:
    """Writes what it would say to the log and remembers it (``spoken``)."""

    def __init__(self) -> None:
        self.spoken: list[tuple[str, Language]] = []

    async def announce(self, phrase: Phrase, language: Language) -> None:
        """Log the phrase."""
        await self.say(PHRASES[phrase][language], language)

    async def say(self, text: str, language: Language) -> None:
        """Log the text."""
        self.spoken.append((text, language))
        _LOGGER.info("sounder (%s): %s", language, text)


class EspeakSounder:
    """Speaks with ``espeak-ng``; falls back to the log if it is not installed.

    Speech runs in the background so an alarm is never delayed by the speaker;
    :meth:`aclose` waits for what is still playing. ``wav_dir`` writes numbered WAV files
    instead of playing them (tests, a box whose player is separate), as the tablet's
    speaker does.
    """

    def __init__(self, binary: str = "espeak-ng", wav_dir: Path | None = None) -> None:
        self.binary = shutil.which(binary)
        self.wav_dir = wav_dir
        self._log = LogSounder()
        self._playing: set[asyncio.Task[None]] = set()
        if self.binary is None:
            _LOGGER.warning("%s is not installed: alarms will only be logged", binary)

    async def announce(self, phrase: Phrase, language: Language) -> None:
        """Speak one of the :data:`PHRASES`."""
        await self.say(PHRASES[phrase][language], language)

    async def say(self, text: str, language: Language) -> None:
        """Speak ``text`` in ``language`` without waiting for it to finish."""
        await self._log.say(text, language)
        if self.binary is None:
            return
        task = asyncio.create_task(self._speak(self.binary, text, language))
        self._playing.add(task)
        task.add_done_callback(self._playing.discard)

    @property
    def spoken(self) -> list[tuple[str, Language]]:
        """What it was asked to say, in order (also logged)."""
        return self._log.spoken

    async def _speak(self, binary: str, text: str, language: Language) -> None:
        args = [binary, "-v", _VOICES[language]]
        if self.wav_dir is not None:
            self.wav_dir.mkdir(parents=True, exist_ok=True)
            args += ["-w", str(self.wav_dir / f"said-{len(self.spoken):04d}.wav")]
        # "--" so a message starting with "-" is never read as an option
        process = await asyncio.create_subprocess_exec(
            *args,
            "--",
            text,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await process.communicate()
        except asyncio.CancelledError:
            # The agent is stopping: the voice stops too, and the child is reaped (a killed
            # child left unwaited is a zombie, and its transport warns when collected).
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
            raise
        if process.returncode:
            _LOGGER.warning("espeak-ng failed (%s): %s", process.returncode, err.decode()[-200:])

    async def aclose(self) -> None:
        """Wait for speech still playing."""
        if self._playing:
            await asyncio.gather(*self._playing, return_exceptions=True)
