"""Rules every 112 message keeps, whatever the registry stores.

* Text: XML 1.0 cannot carry most control characters (U+0000–U+001F except tab, line feed and
  carriage return), nor U+FFFE/U+FFFF or lone surrogates; a CAP document holding one is
  unreadable. The registry refuses them (:func:`control_characters`), and the emitters clean
  whatever is stored anyway (:func:`clean_text`), so an old row never breaks a hand-off.
* Identifiers and sender ids (CAP 1.2 §3.2.1): no spaces, commas, ``<`` or ``&``
  (:func:`check_identifier`); they are refused, never rewritten, because 112 quotes them back.
* Times (CAP 1.2 §3.3.2): ``YYYY-MM-DDThh:mm:ss`` with a numeric zone; UTC is written
  ``-00:00``, never ``Z`` or ``+00:00`` (:func:`cap_time`).
* Threads: every message that reached 112 is a :class:`SentMessage`; a later Update or Cancel
  names them in ``<references>`` as ``sender,identifier,sent`` separated by spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.errors import AlertsValueError

# Characters XML 1.0 forbids, plus the C1 controls and DEL (legal XML, but never meant
# as text in an address or a note); tab, line feed and carriage return are kept.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_IN_IDENTIFIER = re.compile(r"[\s,<&\x00-\x1f\x7f-\x9f]")
MAX_IDENTIFIER = 200


def control_characters(value: str) -> list[str]:
    """The forbidden characters in ``value`` as ``U+XXXX`` (empty when it is clean)."""
    return sorted({f"U+{ord(c):04X}" for c in _NOT_TEXT.findall(value)})


def clean_text(value: str) -> str:
    """``value`` without the characters a 112 message must not carry."""
    return _NOT_TEXT.sub("", value)


def check_identifier(value: str, what: str = "identifier") -> str:
    """``value`` if CAP allows it as an identifier or sender id; raises otherwise."""
    if not value:
        raise AlertsValueError(f"the {what} must not be empty")
    if len(value) > MAX_IDENTIFIER:
        raise AlertsValueError(f"the {what} is longer than {MAX_IDENTIFIER} characters")
    bad = _NOT_IN_IDENTIFIER.search(value)
    if bad is not None:
        raise AlertsValueError(
            f"the {what} {value!r} contains {bad.group()!r}: spaces, commas, '<', '&'"
            " and control characters are not allowed"
        )
    return value


def cap_time(moment: datetime) -> str:
    """``moment`` as CAP writes it: whole seconds, in UTC, zone ``-00:00``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AlertsValueError(f"a 112 message time must be timezone-aware, got {moment!r}")
    utc = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return f"{utc.isoformat()}-00:00"


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message 112 received: who sent it, its identifier and when (whole seconds)."""

    sender: str
    identifier: str
    sent: datetime

    def __post_init__(self) -> None:
        check_identifier(self.sender, "sender")
        check_identifier(self.identifier)
        cap_time(self.sent)
        object.__setattr__(self, "sent", self.sent.astimezone(UTC).replace(microsecond=0))

    def reference(self) -> str:
        """CAP's ``sender,identifier,sent`` form of this message."""
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"

    @classmethod
    def parse(cls, reference: str) -> SentMessage:
        """Inverse of :meth:`reference`."""
        parts = reference.split(",")
        if len(parts) != 3:
            raise AlertsValueError(f"not a CAP reference: {reference!r}")
        sender, identifier, sent = parts
        try:
            moment = datetime.fromisoformat(sent)
        except ValueError:
            raise AlertsValueError(f"not a CAP time: {sent!r}") from None
        return cls(sender, identifier, moment)
