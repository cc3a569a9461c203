"""SCAIP message requests (``<mrq>``) and the receiver's message response (``<mrs>``).

CLC/TS 50134-9 (after SS 91100:2014) defines the alarm messages as a flat XML element:
``<mrq>`` with short child elements, each a simple text value. docs/adr/0120 lists which
fields we rely on and why. A request must carry ``ref`` (the message's reference, echoed
in the response), ``cid`` (the controller's id: which unit) and ``dty`` (the device type);
``mty`` (message type) is ``ME`` (an event) when omitted. Fields we do not know are
skipped (later versions of the specification add some); a known field given twice (except
``crd``, the caller id, which may list several channels), a known field with child elements,
a value of the wrong form, a DTD or an entity are refused: the parser never expands
entities, so a "billion laughs" body costs nothing.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass
from xml.sax.saxutils import escape

MESSAGE_TYPES = frozenset({"ME", "PI", "RE", "IN"})

# A controller id: the unit's identity, as registered.
CID_FORM = re.compile(r"[0-9A-Za-z._:-]{1,32}")
# Field → the form of its value.
_FORMS: dict[str, re.Pattern[str]] = {
    "ver": re.compile(r"\d{1,2}(\.\d{1,2})?"),
    "ref": re.compile(r"[\x21-\x7e]{1,32}"),
    "cid": CID_FORM,
    "dty": re.compile(r"\d{1,4}"),
    "did": re.compile(r"[0-9A-Za-z._-]{1,16}"),
    "dco": re.compile(r"[0-9A-Za-z._-]{1,8}"),
    "mty": re.compile(r"[A-Z]{2}"),
    "stc": re.compile(r"\d{1,4}"),
    "crd": re.compile(r"[a-z][a-z0-9+.-]{0,15}:[\x21-\x7e]{0,96}"),
    "cha": re.compile(r"\d{1,4}"),
    "pri": re.compile(r"\d{1,4}"),
    "lco": re.compile(r"\d{1,6}"),
    "hbo": re.compile(r"\d{1,6}"),
    "ame": re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f]{0,256}", re.DOTALL),
    "sco": re.compile(r"\d{1,4}"),
}
_REQUIRED = ("ref", "cid", "dty")
_MAX_UNKNOWN = 32


class ScaipError(ValueError):
    """A body that is not a valid SCAIP message request; ``reason`` names the defect for
    the metrics, ``detail`` for the answer and the log."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """One SCAIP message request, its fields as sent (``mty`` defaulted to ``ME``)."""

    ref: str
    cid: str
    dty: str
    mty: str = "ME"
    stc: str | None = None
    did: str = ""
    dco: str = ""
    lco: str = ""
    pri: str = ""
    ver: str = ""
    crd: tuple[str, ...] = ()
    ame: str = ""

    @property
    def status(self) -> int | None:
        """The status code as a number (``0010`` and ``10`` are the same code)."""
        return None if self.stc is None else int(self.stc)

    @property
    def wants_speech(self) -> bool:
        """True when a caller id names a voice channel (not ``no-voice:``)."""
        return any(not c.startswith("no-voice:") for c in self.crd)

    def canonical(self) -> str:
        """The fields in a fixed order: the same message whatever its whitespace."""
        parts = [
            self.ref,
            self.cid,
            self.dty,
            self.mty,
            self.stc or "",
            self.did,
            self.dco,
            self.lco,
            self.pri,
            ",".join(self.crd),
            self.ame,
        ]
        return "|".join(parts)

    def raw(self) -> str:
        """The message as the operator sees it (its event fields)."""
        text = f"SCAIP {self.mty} stc={self.stc or '-'} dty={self.dty}"
        if self.did:
            text += f" did={self.did}"
        if self.dco:
            text += f" dco={self.dco}"
        if self.lco:
            text += f" lco={self.lco}"
        return text


def parse_request(body: bytes) -> MessageRequest:
    """Read and check one ``<mrq>`` body (raises :class:`ScaipError`)."""
    fields: dict[str, list[str]] = {}
    stack: list[str] = []
    unknown_depth = 0
    unknown_count = 0
    text: list[str] = []
    root: list[str] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal unknown_depth, unknown_count
        local = name.rsplit(":", 1)[-1]
        if not stack:
            root.append(local)
            if local != "mrq":
                raise ScaipError("not_request", f"root element <{local}>, not <mrq>")
        elif unknown_depth:
            unknown_depth += 1
        elif len(stack) == 1:
            if local in _FORMS:
                text.clear()
            else:
                unknown_count += 1
                if unknown_count > _MAX_UNKNOWN:
                    raise ScaipError("invalid_xml", "too many unknown elements")
                unknown_depth = 1
        else:
            raise ScaipError("invalid_field", f"<{stack[-1]}> must hold text, not <{local}>")
        stack.append(local)

    def end(name: str) -> None:
        nonlocal unknown_depth
        local = stack.pop()
        if unknown_depth:
            unknown_depth -= 1
            return
        if len(stack) == 1:
            fields.setdefault(local, []).append("".join(text).strip())
            text.clear()

    def data(chunk: str) -> None:
        if len(stack) == 2 and not unknown_depth:
            text.append(chunk)

    def refuse_dtd(*_: object) -> None:
        raise ScaipError("invalid_xml", "a DTD is not allowed")

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = lambda *_: 0  # never fetch anything
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as err:
        raise ScaipError("invalid_xml", f"not well-formed XML ({err})") from None
    if not root:
        raise ScaipError("invalid_xml", "no element")
    return _check(fields)


def _check(fields: dict[str, list[str]]) -> MessageRequest:
    for name, values in fields.items():
        if len(values) > 1 and name != "crd":
            raise ScaipError("invalid_field", f"<{name}> given {len(values)} times")
        if len(values) > 4:
            raise ScaipError("invalid_field", "more than 4 <crd>")
        for value in values:
            if not _FORMS[name].fullmatch(value):
                raise ScaipError("invalid_field", f"<{name}> {value[:40]!r} is not valid")
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise ScaipError("missing_field", f"missing <{'>, <'.join(missing)}>")

    def one(name: str) -> str:
        return fields.get(name, [""])[0]

    mty = one("mty") or "ME"
    if mty not in MESSAGE_TYPES:
        raise ScaipError("unknown_message_type", f"message type {mty!r}")
    return MessageRequest(
        ref=one("ref"),
        cid=one("cid"),
        dty=one("dty"),
        mty=mty,
        stc=fields["stc"][0] if "stc" in fields else None,
        did=one("did"),
        dco=one("dco"),
        lco=one("lco"),
        pri=one("pri"),
        ver=one("ver"),
        crd=tuple(fields.get("crd", [])),
        ame=one("ame"),
    )


# Status numbers (``snu``) of the message response: 0 is "received and handled".
SNU_OK = 0


def build_response(ref: str, snu: int = SNU_OK) -> bytes:
    """The ``<mrs>`` answering the request with reference ``ref``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><mrs><ref>{escape(ref)}</ref><snu>{snu}</snu></mrs>'
    ).encode()
