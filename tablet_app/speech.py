"""Spoken prompts with espeak-ng, where it is installed; silence (and a log line) otherwise.

One sentence at a time: a new one interrupts the old, so the resident hears the latest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

from tablet_app.i18n import Lang

_LOGGER = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
# Slower than the default 175 words per minute: easier for older ears.
WORDS_PER_MINUTE = 140
VOICES: dict[Lang, str] = {"ca": "ca", "es": "es", "en": "en"}


class EspeakSpeaker:
    """Says sentences aloud; ``wav_dir`` writes numbered WAV files instead (tests, kiosks)."""

    def __init__(
        self, binary: str | None = None, wav_dir: Path | None = None, *, enabled: bool = True
    ) -> None:
        self.binary = (binary or shutil.which(ESPEAK)) if enabled else None
        self.wav_dir = wav_dir
        self.spoken: list[tuple[str, Lang]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        """True when espeak-ng was found."""
        return self.binary is not None

    def say(self, text: str, language: Lang) -> None:
        """Start saying ``text`` (interrupting whatever is being said)."""
        self.spoken.append((text, language))
        if self.binary is None:
            _LOGGER.info("no text-to-speech on this device; not spoken: %s", text)
            return
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._speak(text, language))

    async def announce(self, text: str, language: Lang) -> None:
        """Say ``text`` and return once it has been said, or interrupted by a newer one
        (the centre's call holds the operator's voice until then)."""
        self.say(text, language)
        task = self._task
        if self.binary is not None and task is not None:
            # wait() neither raises the speech's own errors nor swallows our cancellation
            await asyncio.wait({task})

    async def _speak(self, text: str, language: Lang) -> None:
        assert self.binary is not None
        args = [self.binary, "-v", VOICES[language], "-s", str(WORDS_PER_MINUTE)]
        if self.wav_dir is not None:
            self.wav_dir.mkdir(parents=True, exist_ok=True)
            args += ["-w", str(self.wav_dir / f"spoken-{len(self.spoken):04d}.wav")]
        # "--" so a sentence starting with "-" is never read as an option
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
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            # shielded: a second cancel (a newer sentence, then close) must not leave the
            # child unreaped, its transport to warn later in unrelated code
            await asyncio.shield(process.wait())
            raise
        if process.returncode:
            _LOGGER.warning("espeak-ng failed (%s): %s", process.returncode, err.decode()[-200:])

    async def close(self) -> None:
        """Stop speaking and wait for the speech process to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait(self) -> None:
        """Wait until the current sentence is finished (tests)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
