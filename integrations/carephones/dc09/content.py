"""The data of a DC-09 message: what follows ``[`` (after decryption).

``#acct|event]`` then optional extended data blocks ``[X...]`` then an optional
``_HH:MM:SS,MM-DD-YYYY`` timestamp (UTC). The event is

- ADM-CID (Contact ID, SIA DC-05): ``Q EEE GG CCC`` written ``QEEE GG CCC`` — qualifier
  (1 new event, 3 restore, 6 still present), event code, group/partition, zone or user;
- SIA-DCS (SIA DC-03): ``N`` then ``/``-separated fields: modifiers (``ri`` area, ``id``
  user, ``ti`` time, ``pi`` peripheral) and two-letter event codes with their address
  (``Nri1/BA001``); several events may share a message;
- NULL: nothing (a supervision poll).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

CID_QUALIFIERS = {"1": "new", "3": "restore", "6": "status"}

_TIMESTAMP = re.compile(r"_(\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4})$")
_XDATA = re.compile(r"\[([^\[\]]*)\]")
_ACCOUNT = re.compile(r"[0-9A-Fa-f]{3,16}")
_CID = re.compile(r"([136])([0-9A-F]{3}) ([0-9A-F]{2}) ([0-9A-F]{3})")
_SIA_MODIFIER = re.compile(r"([a-z]{2})([0-9A-Za-z:.-]*)")
_SIA_EVENT = re.compile(r"([A-Z]{2})([0-9A-Za-z]{0,8})(?:\^[^\^]*\^)?")


class ContentError(ValueError):
    """Data that does not follow the layout of its token."""


@dataclass(frozen=True, slots=True)
class EventCode:
    """One reported event, as the unit said it.

    ``code`` is the Contact ID event number (``"101"``) or the SIA code (``"MA"``);
    ``qualifier`` the Contact ID qualifier (``"1"``, ``"3"``, ``"6"``), ``None`` for SIA;
    ``zone`` the zone, user or address; ``area`` the group/partition; ``raw`` the text.
    """

    format: str
    code: str
    qualifier: str | None
    zone: str
    area: str
    raw: str

    @property
    def restore(self) -> bool:
        """A Contact ID restore (qualifier 3)."""
        return self.qualifier == "3"


@dataclass(frozen=True, slots=True)
class Content:
    """The parsed data of one message."""

    account: str | None
    events: tuple[EventCode, ...]
    xdata: tuple[str, ...]
    timestamp: datetime | None
    raw: str


def format_timestamp(moment: datetime) -> str:
    """``_HH:MM:SS,MM-DD-YYYY`` in UTC (the receiver's and the unit's clock format)."""
    return moment.astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def parse_content(message_type: str, data: str) -> Content:
    """Parse the data of a ``message_type`` (ID token) message; raise :class:`ContentError`."""
    timestamp = None
    stamp = _TIMESTAMP.search(data)
    body = data
    if stamp is not None:
        hh, mi, ss, mo, dd, yyyy = (int(g) for g in stamp.groups())
        try:
            timestamp = datetime(yyyy, mo, dd, hh, mi, ss, tzinfo=UTC)
        except ValueError:
            raise ContentError(f"timestamp {stamp.group(0)!r} is not a date and time") from None
        body = data[: stamp.start()]
    close = body.find("]")
    if close < 0:
        raise ContentError("no ']' closing the data")
    payload, tail = body[:close], body[close + 1 :]
    xdata = tuple(_XDATA.findall(tail))
    if _XDATA.sub("", tail):
        raise ContentError("unexpected text after the data")
    account = None
    if payload.startswith("#"):
        account, bar, payload = payload[1:].partition("|")
        if not bar or not _ACCOUNT.fullmatch(account):
            raise ContentError("the data's account is not '#' and 3 to 16 hex digits then '|'")
        account = account.upper()
    if message_type == "NULL":
        if payload:
            raise ContentError("a NULL message carries no event")
        events: tuple[EventCode, ...] = ()
    elif message_type == "ADM-CID":
        events = (_contact_id(payload),)
    elif message_type == "SIA-DCS":
        events = _sia(payload)
    else:
        raise ContentError(f"no event data in a {message_type!r} message")
    return Content(account, events, xdata, timestamp, payload)


def _contact_id(payload: str) -> EventCode:
    match = _CID.fullmatch(payload)
    if match is None:
        raise ContentError(f"Contact ID data {payload[:40]!r} is not 'QEEE GG CCC'")
    qualifier, code, group, zone = match.groups()
    return EventCode("ADM-CID", code, qualifier, zone, group, payload)


def _sia(payload: str) -> tuple[EventCode, ...]:
    if payload.startswith("N"):
        payload = payload[1:]
    area = ""
    events = []
    for field in payload.split("/"):
        event = _SIA_EVENT.fullmatch(field)
        if event is not None:
            events.append(EventCode("SIA-DCS", event[1], None, event[2], area, field))
            continue
        modifier = _SIA_MODIFIER.fullmatch(field)
        if modifier is None:
            raise ContentError(f"SIA field {field[:20]!r} is neither a modifier nor an event")
        if modifier[1] == "ri":
            area = modifier[2]
    if not events:
        raise ContentError("SIA data without an event code")
    return tuple(events)
