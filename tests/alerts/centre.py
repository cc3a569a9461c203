"""A local 112 receiving centre for tests: validates what it receives and answers like one.

NENA EIDO JSON is validated against NENA's published schema and CAP 1.2 XML against the
OASIS XSD (both from ``../shared/standards``, see :mod:`tests.alerts.standards`), then the
rules a schema cannot check: CAP identifier characters, UTC written ``-00:00``, and that an
Update or Cancel names in ``<references>`` only messages this centre received before (and
an Alert names none); EIDO component ids unique and every ``$ref`` resolving.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from lxml import etree

from tests.alerts.standards import (
    CAP_NS,
    cap_rule_problems,
    cap_schema_problems,
    eido_rule_problems,
    eido_schema_problems,
)


def cap_problems(raw: bytes) -> list[str]:
    """Everything wrong with a CAP 1.2 document, schema and rules (empty when valid)."""
    return cap_schema_problems(raw) or cap_rule_problems(raw)


def eido_problems(payload: Any) -> list[str]:
    """Everything wrong with an EIDO, schema and rules (empty when valid)."""
    return eido_schema_problems(payload) or eido_rule_problems(payload)


def cap_fields(raw: bytes) -> dict[str, Any]:
    """The CAP header fields a thread is made of."""
    root = etree.fromstring(raw)
    ns = {"cap": CAP_NS}

    def text(name: str) -> str:
        return str(root.findtext(f"cap:{name}", default="", namespaces=ns))

    return {
        "identifier": text("identifier"),
        "sender": text("sender"),
        "sent": text("sent"),
        "msgType": text("msgType"),
        "references": text("references").split(),
        "responseTypes": [str(e.text) for e in root.findall("cap:info/cap:responseType", ns)],
    }


@dataclass
class ReceivingCentre:
    """Records every payload; ``fail_first`` answers 503 that many times first;
    ``refuse_all`` answers 400 to everything (a centre that rejects the payload).

    Like a real PSAP it deduplicates by the message's identity (EIDO ``$id``, CAP sender
    and identifier): a repeat is answered with the first one's reference and is not a
    second incident (counted in ``duplicates``)."""

    fail_first: int = 0
    refuse_all: bool = False
    received: list[Any] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # CAP messages received, as "sender,identifier,sent" (what a reference must name).
    cap_messages: list[str] = field(default_factory=list)
    calls: int = 0
    duplicates: int = 0
    # Message identity -> the reference given to it.
    references: dict[str, str] = field(default_factory=dict)
    _numbers: Any = field(default_factory=lambda: itertools.count(1001))

    def _refuse(self, problems: list[str]) -> web.Response:
        self.rejected.append("; ".join(problems))
        return web.json_response({"error": "invalid", "detail": problems[:20]}, status=400)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            return web.json_response({"error": "overloaded"}, status=503)
        if self.refuse_all:
            return self._refuse(["refused by configuration"])
        raw = await request.read()
        if request.content_type == "application/json":
            try:
                payload = json.loads(raw)
            except ValueError as err:
                return self._refuse([f"not JSON: {err}"])
            problems = eido_problems(payload)
            if problems:
                return self._refuse(problems)
            key = str(payload.get("$id"))
            if key in self.references:
                return self._repeat(key)
            self.received.append(payload)
        elif request.content_type == "application/cap+xml":
            problems = cap_problems(raw)
            if problems:
                return self._refuse(problems)
            fields = cap_fields(raw)
            unknown = [r for r in fields["references"] if r not in self.cap_messages]
            if unknown:
                return self._refuse([f"references a message never received: {unknown}"])
            key = f"{fields['sender']},{fields['identifier']}"
            if key in self.references:
                return self._repeat(key)
            self.received.append(raw)
            self.cap_messages.append(f"{fields['sender']},{fields['identifier']},{fields['sent']}")
        else:
            return web.json_response({"error": "unsupported"}, status=415)
        reference = self.references[key] = f"112-CAT-{next(self._numbers)}"
        return web.json_response({"reference": reference, "status": "received"}, status=201)

    def _repeat(self, key: str) -> web.Response:
        self.duplicates += 1
        return web.json_response(
            {"reference": self.references[key], "status": "duplicate"}, status=200
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/incidents", self.handle)
        return app
