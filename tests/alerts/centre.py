"""A local 112 receiving centre for tests: validates what it receives and answers like one.

EIDO-style JSON is validated against the published JSON Schema; CAP 1.2 XML against the
elements CAP requires (alert: identifier, sender, sent, status, msgType, scope; info:
category, event, urgency, severity, certainty; area: areaDesc).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
from aiohttp import web

from alerts.emergency import CAP_NS, schema

CAP_ALERT_REQUIRED = ("identifier", "sender", "sent", "status", "msgType", "scope")
CAP_INFO_REQUIRED = ("category", "event", "urgency", "severity", "certainty")
CAP_ENUMS = {
    "status": {"Actual", "Exercise", "System", "Test", "Draft"},
    "msgType": {"Alert", "Update", "Cancel", "Ack", "Error"},
    "scope": {"Public", "Restricted", "Private"},
    "category": {
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    },
    "urgency": {"Immediate", "Expected", "Future", "Past", "Unknown"},
    "severity": {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
    "certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"},
}


def cap_problems(raw: bytes) -> list[str]:
    """What is missing or wrong in a CAP 1.2 document (empty when valid)."""
    try:
        root = ET.fromstring(raw)  # noqa: S314 - our own test payload
    except ET.ParseError as err:
        return [f"not XML: {err}"]
    ns = {"cap": CAP_NS}
    problems = []
    if root.tag != f"{{{CAP_NS}}}alert":
        problems.append(f"root is {root.tag}, not cap:alert")
    for name in CAP_ALERT_REQUIRED:
        element = root.find(f"cap:{name}", ns)
        if element is None or not (element.text or "").strip():
            problems.append(f"alert/{name} missing")
        elif name in CAP_ENUMS and element.text not in CAP_ENUMS[name]:
            problems.append(f"alert/{name}={element.text!r} not allowed")
    infos = root.findall("cap:info", ns)
    if not infos:
        problems.append("no info block")
    for info in infos:
        for name in CAP_INFO_REQUIRED:
            element = info.find(f"cap:{name}", ns)
            if element is None or not (element.text or "").strip():
                problems.append(f"info/{name} missing")
            elif name in CAP_ENUMS and element.text not in CAP_ENUMS[name]:
                problems.append(f"info/{name}={element.text!r} not allowed")
        for area in info.findall("cap:area", ns):
            if area.find("cap:areaDesc", ns) is None:
                problems.append("area/areaDesc missing")
    return problems


@dataclass
class ReceivingCentre:
    """Records every payload; ``fail_first`` answers 503 that many times first."""

    fail_first: int = 0
    received: list[Any] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    calls: int = 0
    _numbers: Any = field(default_factory=lambda: itertools.count(1001))

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            return web.json_response({"error": "overloaded"}, status=503)
        raw = await request.read()
        if request.content_type == "application/json":
            try:
                payload = json.loads(raw)
                jsonschema.validate(payload, schema())
            except (ValueError, jsonschema.ValidationError) as err:
                self.rejected.append(str(err).splitlines()[0])
                return web.json_response({"error": "invalid", "detail": str(err)[:500]}, status=400)
            self.received.append(payload)
        elif request.content_type == "application/cap+xml":
            problems = cap_problems(raw)
            if problems:
                self.rejected.append("; ".join(problems))
                return web.json_response({"error": "invalid", "detail": problems}, status=400)
            self.received.append(raw)
        else:
            return web.json_response({"error": "unsupported"}, status=415)
        return web.json_response(
            {"reference": f"112-CAT-{next(self._numbers)}", "status": "received"}, status=201
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/incidents", self.handle)
        return app
