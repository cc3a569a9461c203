"""A supervisor listening in to a centre call: a second, receive-only audio leg.

The leg runs between the supervisor's browser and the **operator's** browser, which
forwards the two sounds it already has — the home's (the tablet's remote track) and its
own microphone — in a separate peer connection that carries nothing back (ADR 0100).
The tablet never sees it, so the home cannot hear the supervisor and the operator's own
connection to the tablet is not touched. The hub only decides who may listen, relays the
leg's offer and answer (``listen.signal``) and ends it (``listen.ended``) when the
supervisor leaves, the supervisor's last connection drops, or the call itself ends.

Events to the two ends: ``listen.joined`` (to the operator: offer to this listener),
``listen.signal`` (relayed verbatim), ``listen.ended`` (with ``reason``: ``left``,
``call_ended`` or ``disconnected``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

from hub.family.calls.state import CallError, CallKind, CallState
from hub.family.live import LiveHub

_LOGGER = logging.getLogger(__name__)

MAX_SIGNAL_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Listen:
    """One supervisor listening to one centre call (through its operator's browser)."""

    id: int
    call_id: int
    speaker: str  # the operator's party, who forwards the sound
    listener: str  # the supervisor's party, who only receives
    speaker_name: str
    listener_name: str

    def view(self) -> dict[str, Any]:
        """For JSON answers and events."""
        return {
            "listen_id": self.id,
            "call_id": self.call_id,
            "speaker": {"party": self.speaker, "name": self.speaker_name},
            "listener": {"party": self.listener, "name": self.listener_name},
        }


class ListenIns:
    """The listen-in legs of this process's live calls (in memory, like the calls)."""

    def __init__(self, live: LiveHub) -> None:
        self._live = live
        self._ids = itertools.count(1)
        self._legs: dict[int, Listen] = {}

    def of_call(self, call_id: int) -> list[Listen]:
        """Who listens to ``call_id``, in the order they joined."""
        return [leg for leg in self._legs.values() if leg.call_id == call_id]

    def join(self, call_id: int, call: CallState, listener: str, names: dict[str, str]) -> Listen:
        """``listener`` starts listening to the live centre call ``call_id``.

        Raises ``CallError`` ``own_call`` (the listener speaks in it), or
        ``already_listening``. The operator is told (``listen.joined``) and offers.
        """
        if call.kind is not CallKind.CENTRE or call.final:
            raise CallError("no_call", "nobody is speaking with this home now")
        if listener in (call.caller, call.callee):
            raise CallError("own_call", "you are speaking in this call yourself")
        if any(leg.listener == listener for leg in self.of_call(call_id)):
            raise CallError("already_listening", "you are already listening to this call")
        leg = Listen(
            id=next(self._ids), call_id=call_id, speaker=call.caller, listener=listener,
            speaker_name=names.get(call.caller, call.caller),
            listener_name=names.get(listener, listener),
        )  # fmt: skip
        self._legs[leg.id] = leg
        self._live.publish([leg.speaker], {"type": "listen.joined", **leg.view()})
        _LOGGER.info("call %s: %s listens in (leg %s)", call_id, listener, leg.id)
        return leg

    def _get(self, listen_id: object, party: str) -> Listen:
        leg = self._legs.get(listen_id) if isinstance(listen_id, int) else None
        if leg is None or party not in (leg.speaker, leg.listener):
            raise CallError("listen_unknown", "no such listen-in in progress")
        return leg

    def relay(self, listen_id: object, party: str, data: object, size: int) -> None:
        """Pass the leg's offer/answer/ICE ``data`` from one end to the other."""
        leg = self._get(listen_id, party)
        if size > MAX_SIGNAL_BYTES:
            raise CallError("signal_too_large", "signalling message too large")
        if not isinstance(data, dict):
            raise CallError("signal_invalid", "data must be an object with sdp or candidate")
        other = leg.listener if party == leg.speaker else leg.speaker
        self._live.publish(
            [other], {"type": "listen.signal", "listen_id": leg.id, "from": party, "data": data}
        )

    def leave(self, listen_id: object, party: str) -> None:
        """Either end stops the leg (the supervisor leaves, or the operator's browser
        could not set it up)."""
        self._end(self._get(listen_id, party), "left")

    def call_over(self, call_id: int) -> None:
        """The call ended: so does every listen-in to it."""
        for leg in self.of_call(call_id):
            self._end(leg, "call_ended")

    def disconnected(self, party: str) -> None:
        """``party`` has no connection left: the legs it listens through end (an operator
        who dropped keeps the call for its grace period; the call's end ends the legs)."""
        for leg in [leg for leg in self._legs.values() if leg.listener == party]:
            self._end(leg, "disconnected")

    def _end(self, leg: Listen, reason: str) -> None:
        if self._legs.pop(leg.id, None) is None:
            return
        self._live.publish(
            [leg.speaker, leg.listener], {"type": "listen.ended", **leg.view(), "reason": reason}
        )
        _LOGGER.info("listen-in %s to call %s ended: %s", leg.id, leg.call_id, reason)

    def clear(self) -> None:
        """Forget every leg (hub shutdown: the sockets go too)."""
        self._legs.clear()
