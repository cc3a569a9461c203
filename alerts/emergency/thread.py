"""Which message 112 gets now: the first one, an update, or the close.

An alarm's messages to 112 form one thread. What 112 received is in the alarm's history
(:data:`MESSAGE_DETAIL` on the entries that recorded a delivered hand-off), so every later
message names them (CAP ``<references>``):

* nothing delivered yet: ``Alert``;
* the alarm still open: ``Update`` (a second hand-off, e.g. with news);
* the alarm closed: ``Cancel`` when no emergency service was needed after all (false alarm,
  the resident fine or cancelling, a duplicate, a technical fault), otherwise an ``Update``
  whose response is ``AllClear`` (CAP 1.2: "the subject event no longer poses a threat").
"""

from __future__ import annotations

from typing import Literal

from alerts.alarm import Alarm, Outcome
from alerts.emergency.wire import SentMessage

MsgType = Literal["Alert", "Update", "Cancel"]

# The history detail holding a delivered message as ``sender,identifier,sent``.
MESSAGE_DETAIL = "message"

CANCELLING_OUTCOMES = frozenset(
    {
        Outcome.FALSE_ALARM,
        Outcome.RESIDENT_FINE,
        Outcome.RESIDENT_CANCELLED,
        Outcome.DUPLICATE,
        Outcome.TECHNICAL_FIXED,
    }
)


def delivered_messages(alarm: Alarm) -> tuple[SentMessage, ...]:
    """The messages of this alarm that 112 received, oldest first."""
    found: list[SentMessage] = []
    for entry in alarm.history:
        details = entry.details
        reference = details.get(MESSAGE_DETAIL)
        if reference and details.get("delivered") == "True":
            message = SentMessage.parse(reference)
            if message not in found:
                found.append(message)
    return tuple(found)


def message_type(alarm: Alarm, previous: tuple[SentMessage, ...]) -> MsgType:
    """The CAP ``msgType`` of the message to send now."""
    if not previous:
        return "Alert"
    if alarm.is_open or alarm.outcome not in CANCELLING_OUTCOMES:
        return "Update"
    return "Cancel"


def is_all_clear(alarm: Alarm, previous: tuple[SentMessage, ...]) -> bool:
    """A close that is not a cancel: the incident was real and is over."""
    return bool(previous) and not alarm.is_open and message_type(alarm, previous) == "Update"
