"""Other processes that keep the CPU busy while a benchmark measures (``--load N``).

Each is a separate Python process spinning in a tight loop at normal priority, so with
``N`` equal to the number of cores the hub competes for every core the way it would on a
machine shared with other work. They stop when the context ends (terminated, then killed).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

_SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def cpu_load(processes: int) -> Iterator[list[int]]:
    """Run ``processes`` busy loops for the duration of the block; yields their pids."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL)
        for _ in range(max(0, processes))
    ]
    try:
        yield [p.pid for p in spinners]
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            try:
                spinner.wait(timeout=5)
            except subprocess.TimeoutExpired:
                spinner.kill()
                spinner.wait()
