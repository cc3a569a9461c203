"""SCAIP (CLC/TS 50134-9, after SS 91100:2014): SIP ``MESSAGE`` requests with an XML body.

Pure functions over bytes and frozen values, no sockets and no clock: :mod:`.sip` reads a
request and builds its response, :mod:`.message` reads the ``<mrq>`` body and builds the
``<mrs>`` answer. The hub's receiver (``hub.carephones.scaip``) adapts them.
"""

from integrations.carephones.scaip.message import (
    MESSAGE_TYPES,
    SNU_OK,
    MessageRequest,
    ScaipError,
    build_response,
    parse_request,
)
from integrations.carephones.scaip.sip import (
    SipError,
    SipRequest,
    SipResponse,
    content_length,
    split_message,
)
from integrations.carephones.scaip.sip import (
    build_response as build_sip_response,
)
from integrations.carephones.scaip.sip import (
    parse_request as parse_sip_request,
)

__all__ = [
    "MESSAGE_TYPES",
    "SNU_OK",
    "MessageRequest",
    "ScaipError",
    "SipError",
    "SipRequest",
    "SipResponse",
    "build_response",
    "build_sip_response",
    "content_length",
    "parse_request",
    "parse_sip_request",
    "split_message",
]
