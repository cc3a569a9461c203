"""What the hub answers to one SCAIP request (a SIP ``MESSAGE``), and what it stores first.

Checks go from the outside in: the SIP request itself (400 when it is not one, 413 when its
body is over the limit), its method (``OPTIONS`` is answered, ``ACK`` ignored, anything else
405), its body's media type (415), the ``<mrq>`` (400 naming the defect), the unit (403
when the controller id is not registered). Then the unit is heard (supervision), a
heartbeat (``PI``) is answered, and events are stored in the events table through the
ingester BEFORE the ``200 OK`` carrying the ``<mrs>``: a hub that dies in between leaves
the unit without an answer, so it sends again, and the stored copy makes that a duplicate,
raised once. When storing fails the answer is ``503`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hub.carephones.accounts import AccountBook, UnitAccount
from hub.carephones.receiver import ReceiverStats
from hub.carephones.speech import SpeechCalls
from hub.carephones.store import AnsweredMessages, digest, store_unit_events
from hub.clock import Clock
from hub.ingest.ingester import Ingester
from hub.ingest.stats import RejectLog
from integrations.carephones.mapping import map_scaip
from integrations.carephones.scaip import (
    MessageRequest,
    ScaipError,
    SipError,
    SipRequest,
    SipResponse,
    build_response,
    build_sip_response,
    content_length,
    parse_request,
    parse_sip_request,
    split_message,
)
from integrations.carephones.scaip.sip import MAX_HEADER_BYTES, is_response, parse_reply
from protocol import UnitEvent

_LOGGER = logging.getLogger(__name__)

ALLOW = "MESSAGE, OPTIONS"
ALLOW_SPEECH = "MESSAGE, OPTIONS, INVITE, ACK, BYE, CANCEL"
# Media types a SCAIP body is sent with by the units we know of.
_XML_TYPES = frozenset({"text/xml", "application/xml", "application/scaip+xml"})


@dataclass(frozen=True, slots=True)
class ScaipConfig:
    """The receiver's limits (from ``[hub] scaip_*``)."""

    max_body_bytes: int = 2048
    retry_after_s: int = 5
    # Extra status codes → kinds (a centre's copy of the specification's table).
    status_codes: Mapping[int, str] | None = None


class ScaipReceiver:
    """Checks SCAIP requests, stores their events through the ingester, and answers.

    It is also the listeners' :class:`hub.carephones.transport.Wire` for SIP.
    """

    name = "SCAIP"

    def __init__(
        self,
        *,
        book: AccountBook,
        ingester: Ingester,
        clock: Clock,
        config: ScaipConfig | None = None,
    ) -> None:
        self.book = book
        self.ingester = ingester
        self.clock = clock
        self.config = config or ScaipConfig()
        self.stats = ReceiverStats()
        self.reject_log = RejectLog(logger=_LOGGER)
        self.max_tcp_bytes = MAX_HEADER_BYTES + 4
        # Told about a unit found in the database (registered by another hub worker).
        self.on_new_unit: Callable[[UnitAccount], None] | None = None
        self._answered = AnsweredMessages()
        # The units' speech calls, when the hub takes them (ADR 0121).
        self.speech: SpeechCalls | None = None

    @property
    def refused(self) -> Counter[str]:
        """Refusals by reason."""
        return self.stats.refused

    @property
    def allow(self) -> str:
        """The methods this endpoint takes."""
        return ALLOW if self.speech is None else ALLOW_SPEECH

    def refuse(self, reason: str, source: str, detail: str) -> None:
        """Count and (rate-limited) log one refused request."""
        self.stats.refused[reason] += 1
        self.reject_log.reject(reason, f"SCAIP from {source}", detail)

    async def read_tcp(self, reader: asyncio.StreamReader) -> tuple[bytes, bool]:
        """One SIP message: the head up to its blank line, then ``Content-Length`` bytes.

        A body over the limit is not read: the head alone is handled (answered 413) and
        the connection closed, since the rest of the stream cannot be framed.
        """
        head = await reader.readuntil(b"\r\n\r\n")
        stripped = head.lstrip(b"\r\n")
        if not stripped:
            return b"", False  # CRLF keep-alives (RFC 5626)
        try:
            length = content_length(stripped[:-4])
        except SipError:
            return stripped, True
        if length is None:
            # Over a stream, Content-Length is mandatory (RFC 3261 18.3).
            return stripped, True
        if length > self.config.max_body_bytes:
            return stripped, True
        return stripped + await reader.readexactly(length), False

    def oversize_answer(self) -> bytes | None:
        """Nothing: without a whole head there is nothing to answer to."""
        return None

    async def handle(self, raw: bytes, source: str) -> bytes | None:
        """The bytes answering one SIP message; ``None`` when there is nothing to answer."""
        self.stats.received += 1
        if is_response(raw):
            self._reply(raw, source)
            return None  # a response is never answered
        if len(raw) > MAX_HEADER_BYTES + self.config.max_body_bytes:
            self.refuse("oversize", source, f"{len(raw)} bytes")
            return self._answer_oversize(raw)
        try:
            request = parse_sip_request(raw, self.config.max_body_bytes)
        except SipError as err:
            reason = "oversize" if err.status == 413 else "malformed"
            self.refuse(reason, source, err.reason)
            return self._answer_unparsed(raw, err)
        response = await self._respond(request, source)
        return None if response is None else build_sip_response(request, response)

    def _reply(self, raw: bytes, source: str) -> None:
        if self.speech is None:
            self.refuse("unexpected_response", source, raw[:40].decode(errors="replace"))
            return
        try:
            reply = parse_reply(raw, self.config.max_body_bytes)
        except SipError as err:
            self.refuse("malformed", source, err.reason)
            return
        self.speech.reply(reply)

    def _answer_oversize(self, raw: bytes) -> bytes | None:
        return self._answer_unparsed(raw, SipError(413, "Request Entity Too Large"))

    def _answer_unparsed(self, raw: bytes, err: SipError) -> bytes | None:
        # The answer needs the request's Via, From, To, Call-ID and CSeq: read the head
        # alone (no body limit) and answer if they are there; else there is nobody to answer.
        try:
            head, _ = split_message(raw)
            request = parse_sip_request(head + b"\r\n\r\n", 0, head_only=True)
        except SipError:
            return None
        if request.method == "ACK":
            return None
        return build_sip_response(request, SipResponse(err.status, err.reason))

    async def _respond(self, request: SipRequest, source: str) -> SipResponse | None:
        if request.method == "ACK":
            if self.speech is not None:
                self.speech.ack(request)
            return None  # never answered (RFC 3261 17.2.1)
        if self.speech is not None and request.method in ("INVITE", "BYE", "CANCEL"):
            return await self._speech(request, self.speech)
        if request.method == "OPTIONS":
            return SipResponse(200, headers=(("Allow", self.allow), ("Accept", "text/xml")))
        if request.method != "MESSAGE":
            self.refuse("method", source, request.method)
            return SipResponse(405, headers=(("Allow", self.allow),))
        if request.content_type not in _XML_TYPES:
            self.refuse("media_type", source, request.content_type or "none")
            return SipResponse(415, headers=(("Accept", "text/xml, application/scaip+xml"),))
        try:
            message = parse_request(request.body)
        except ScaipError as err:
            self.refuse(err.reason, source, err.detail)
            return SipResponse(400, f"Invalid SCAIP message: {err.detail}")
        unit = await self._unit(message.cid, source)
        if unit is None:
            return SipResponse(403, "Unknown SCAIP unit")
        return await self._accept(request, message, unit)

    async def _speech(self, request: SipRequest, speech: SpeechCalls) -> SipResponse:
        if request.method == "INVITE":
            if request.content_type != "application/sdp":
                return SipResponse(415, headers=(("Accept", "application/sdp"),))
            return await speech.invite(request)
        if request.method == "BYE":
            return speech.bye(request)
        return speech.cancel(request)  # the unit hangs up while its call rings

    async def _unit(self, cid: str, source: str) -> UnitAccount | None:
        unit = self.book.find("", cid)
        if unit is None:
            try:
                unit = await self.book.fetch("", cid)
            except Exception:
                _LOGGER.exception("SCAIP unit lookup failed")
                return None
            if unit is not None and self.on_new_unit is not None:
                self.on_new_unit(unit)
        if unit is None:
            self.refuse("unknown_unit", source, f"cid {cid}")
        return unit

    async def _accept(
        self, request: SipRequest, message: MessageRequest, unit: UnitAccount
    ) -> SipResponse:
        now = self.clock()
        self.ingester.heard(unit.device, now)
        ok = SipResponse(200, body=build_response(message.ref), content_type=request.content_type)
        if message.mty == "PI":
            self.stats.polls += 1
            self.stats.acked += 1
            return ok
        content = digest(message.canonical())
        if self._answered.seen(unit.device.device_id, message.ref, content):
            self.stats.duplicates += 1
            self.stats.acked += 1
            return ok
        mapped = map_scaip(
            message.mty, message.status, message.did, unit.fall_zones, self.config.status_codes
        )
        body = UnitEvent(
            protocol="scaip",
            kind=mapped.kind,  # type: ignore[arg-type]
            code=mapped.code[:16],
            restore=mapped.restore,
            zone=message.did[:16],
            raw=message.raw()[:256],
        )
        try:
            new = await store_unit_events(
                self.ingester,
                protocol="scaip",
                unit=unit,
                number=message.ref,
                content=content,
                bodies=[body],
                device_ts=now,
                now=now,
            )
        except Exception:
            self.stats.refused["store_failed"] += 1
            _LOGGER.exception("SCAIP message of %s not stored; answered 503", unit.account)
            return SipResponse(503, headers=(("Retry-After", str(self.config.retry_after_s)),))
        self.stats.events_stored += new
        if not new:
            self.stats.duplicates += 1
        self._answered.remember(unit.device.device_id, message.ref, content)
        self.stats.acked += 1
        return ok
