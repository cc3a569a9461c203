"""ffprobe and ffmpeg as child processes that never outlive the request that started them."""

from __future__ import annotations

import asyncio
import contextlib


async def communicate_within(
    proc: asyncio.subprocess.Process, limit_s: float
) -> tuple[bytes, bytes]:
    """The child's (stdout, stderr) once it ends; killed and reaped if it runs past
    ``limit_s`` (TimeoutError) or the caller is cancelled (the hub stopping, a request gone).

    Reaping matters twice: a killed child left unwaited is a zombie, and its transport,
    collected later by the garbage collector, warns of being unclosed in whatever code
    runs then.
    """
    try:
        return await asyncio.wait_for(proc.communicate(), limit_s)
    except BaseException:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
        raise
