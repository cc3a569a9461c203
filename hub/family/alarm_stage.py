"""The stage of an alarm as its push notices and SMS word it, from what the family may see.

One word per step a relative cares about, in order: ``raised`` (the centre has it),
``speaking`` (the centre is speaking with the resident), ``on_the_way`` (someone is going:
help sent to a key holder, a relative, a neighbour or the mobile unit, or a relative who
answered "I'm on my way"), ``called_112`` and ``closed``. A later stage wins: an alarm for
which 112 was called stays "112 called" even when a relative then says they are going.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

STAGES = ("raised", "speaking", "on_the_way", "called_112", "closed")
ANSWERS = ("on_my_way", "cannot")


def stage_of(state: str, steps: Iterable[Mapping[str, Any]], answers: Iterable[str]) -> str:
    """The notice's stage from its state, its steps (hub/family/alarm_progress.py) and the
    answers given to it."""
    if state == "closed":
        return "closed"
    reached = 0
    for step in steps:
        kind = step.get("kind")
        if kind == "voice":
            reached = max(reached, 1)
        elif kind == "help":
            reached = max(reached, 3 if step.get("target") == "emergency_112" else 2)
        elif kind == "resolved":
            return "closed"
    if any(answer == "on_my_way" for answer in answers):
        reached = max(reached, 2)
    return STAGES[reached]
