"""The part of SIP (RFC 3261) a SCAIP receiver needs: parse a request, build its response.

A SCAIP unit sends its messages as SIP ``MESSAGE`` requests (RFC 3428) over UDP or TCP; the
receiver answers each statelessly. A response copies the request's ``Via`` headers (in
order), ``From``, ``Call-ID`` and ``CSeq``, and its ``To`` with a tag: the tag is derived
from the request, so the answer to a retransmission is the same answer. Compact header
forms (``v``, ``f``, ``t``, ``i``, ``l``, ``c``) are read as their long names.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 4096

_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "l": "content-length",
    "c": "content-type",
    "m": "contact",
    "k": "supported",
}
_REQUEST_LINE = re.compile(r"([A-Z]{2,16}) (\S{3,512}) SIP/2\.0")
_CSEQ = re.compile(r"(\d{1,10})\s+([A-Z]{2,16})")
_REQUIRED = ("via", "from", "to", "call-id", "cseq")


class SipError(ValueError):
    """A request that cannot be read; ``status`` is the answer when one can be sent."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SipRequest:
    """One request: method, Request-URI, headers (lower-case names, in order) and body."""

    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (long, lower-case name)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return [value for key, value in self.headers if key == name]

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-case, without parameters."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def from_uri(self) -> str:
        """The ``From`` header's URI (inside ``<>`` when given so)."""
        return _uri(self.header("from") or "")


def header_uri(value: str) -> str:
    """The URI of a name-addr header value (``"x" <sip:a@b>;tag=1`` → ``sip:a@b``)."""
    return _uri(value)


_SIP_URI = re.compile(
    r"(?P<scheme>sips?):(?:[^@;?]*@)?(?P<host>\[[0-9a-fA-F:.]+\]|[^:;?\[\]]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<params>;[^?]*)?(?:\?.*)?",
    re.IGNORECASE,
)


_SHARED = ipaddress.ip_network("100.64.0.0/10")


def remote_target(
    contact_uri: str, source: tuple[str, int], *, reliable: bool = False
) -> tuple[str, int] | None:
    """Where to send a request of the dialog whose remote target is ``contact_uri`` (RFC 3261
    12.2.1.1, 8.1.2), or ``None`` when that URI is unusable and the request should go to
    ``source``, where the dialog's requests came from.

    Unusable: not a ``sip:`` URI (``sips:`` needs TLS; ``tel:`` is no address), a host that
    is a name (no RFC 3263 lookups: units register with addresses), a ``transport`` other
    than the one the dialog uses, a port out of range, or a private, loopback or link-local
    address that is not ``source``'s (the unit is behind a NAT and wrote its inside address:
    RFC 3581 answers it at its source, and so must we). ``reliable``: the dialog runs over TCP.
    """
    match = _SIP_URI.fullmatch(contact_uri.strip())
    if match is None or match["scheme"].lower() != "sip":
        return None
    try:
        address = ipaddress.ip_address(match["host"].strip("[]"))
    except ValueError:
        return None
    port = int(match["port"]) if match["port"] else 5060
    if not 0 < port < 65536:
        return None
    params = {
        name.lower(): value.lower()
        for name, _, value in (p.partition("=") for p in (match["params"] or "").split(";") if p)
    }
    if params.get("transport", "tcp" if reliable else "udp") != ("tcp" if reliable else "udp"):
        return None
    inside = (
        address.is_private or address.is_loopback or address.is_link_local
        or address in _SHARED  # carrier-grade NAT (RFC 6598): a mobile unit's inside address
    )  # fmt: skip
    try:
        same = ipaddress.ip_address(source[0]) == address
    except ValueError:
        same = False
    if inside and not same:
        return None
    return (str(address), port)


def _uri(value: str) -> str:
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";")[0].strip()


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and headers:  # a folded continuation (RFC 3261 7.3.1)
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not re.fullmatch(r"[a-z0-9!%*_+`'~.-]+", name):
            raise SipError(400, "Malformed header line")
        name = _COMPACT.get(name, name)
        # Via may list several hops in one header: keep them one per entry.
        if name == "via":
            headers.extend((name, hop.strip()) for hop in value.split(",") if hop.strip())
        else:
            headers.append((name, value.strip()))
    return headers


def split_message(data: bytes) -> tuple[bytes, bytes]:
    """The head (up to the blank line) and what follows it."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipError(400, "No end of headers")
    return head, rest


def content_length(head: bytes) -> int | None:
    """The ``Content-Length`` a head declares (``None`` when it declares none)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            text = value.strip()
            if not text.isdigit() or len(text) > 9:
                raise SipError(400, "Bad Content-Length")
            return int(text)
    return None


def parse_request(data: bytes, max_body: int, *, head_only: bool = False) -> SipRequest:
    """Read one SIP request (a whole UDP datagram, or head and body from TCP).

    Raises :class:`SipError` with the status to answer: 400 for what is not a well-formed
    request, 413 for a body over ``max_body`` bytes. ``head_only`` reads the head alone
    (enough to answer a request whose body is refused).
    """
    head, body = split_message(data)
    if len(head) > MAX_HEADER_BYTES:
        raise SipError(400, "Headers too long")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipError(400, "Headers are not UTF-8") from None
    lines = text.split("\r\n")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise SipError(400, "Not a SIP/2.0 request line")
    headers = _headers(lines[1:])
    request = SipRequest(match.group(1), match.group(2), tuple(headers), b"")
    missing = [name for name in _REQUIRED if request.header(name) is None]
    if missing:
        raise SipError(400, f"Missing {', '.join(missing)}")
    cseq = _CSEQ.fullmatch(request.header("cseq") or "")
    if cseq is None or cseq.group(2) != request.method:
        raise SipError(400, "CSeq does not match the request")
    if head_only:
        return request
    declared = content_length(head)
    if declared is None:
        declared = len(body)  # allowed over UDP (RFC 3261 20.14)
    if declared > max_body:
        raise SipError(413, "Request Entity Too Large")
    if declared > len(body):
        raise SipError(400, "Body shorter than Content-Length")
    return SipRequest(request.method, request.uri, request.headers, body[:declared])


REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Server Internal Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class SipResponse:
    """A response to build: status, reason, extra headers and body."""

    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    body: bytes = b""
    content_type: str | None = None


def to_tag(request: SipRequest) -> str:
    """Our tag for the dialog-less answer: the same for every retransmission."""
    seed = f"{request.header('call-id')}|{request.header('from')}|{request.header('cseq')}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:12]


def build_response(request: SipRequest, response: SipResponse) -> bytes:
    """The bytes of ``response`` to ``request`` (RFC 3261 8.2.6)."""
    reason = response.reason or REASONS.get(response.status, "Unknown")
    # A reason phrase is one line of text: nothing from a request may break the framing.
    reason = re.sub(r"[\r\n]+", " ", reason)[:120]
    lines = [f"SIP/2.0 {response.status} {reason}"]
    lines += [f"Via: {hop}" for hop in request.all("via")]
    lines.append(f"From: {request.header('from')}")
    to = request.header("to") or ""
    if ";tag=" not in to.replace(" ", ""):
        to = f"{to};tag={to_tag(request)}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.header('call-id')}")
    lines.append(f"CSeq: {request.header('cseq')}")
    lines.append("Server: Teleassist hub")
    lines += [f"{name}: {value}" for name, value in response.headers]
    if response.body and response.content_type:
        lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body


_STATUS_LINE = re.compile(r"SIP/2\.0 (\d{3}) ([^\r\n]*)")


@dataclass(frozen=True, slots=True)
class SipReply:
    """A response to a request the hub sent (calling out)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (long, lower-case name)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


def is_response(data: bytes) -> bool:
    """True when ``data`` starts like a SIP response."""
    return data.startswith(b"SIP/2.0 ")


def parse_reply(data: bytes, max_body: int) -> SipReply:
    """Read a SIP response (raises :class:`SipError`)."""
    head, body = split_message(data)
    if len(head) > MAX_HEADER_BYTES:
        raise SipError(400, "Headers too long")
    lines = head.decode("utf-8", "replace").split("\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise SipError(400, "Not a SIP/2.0 status line")
    headers = tuple(_headers(lines[1:]))
    declared = content_length(head)
    size = len(body) if declared is None else declared
    if size > max_body or size > len(body):
        raise SipError(400, "Bad body length")
    return SipReply(int(match.group(1)), match.group(2), headers, body[:size])


def build_request(
    method: str,
    uri: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    content_type: str | None = None,
) -> bytes:
    """The bytes of a request the hub sends (``headers`` in order, Content-Length added)."""
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body and content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
