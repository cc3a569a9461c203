"""Operator protocols per alarm kind: short steps shown on the alarm card and ticked as the
operator goes. Each tick is a note in the alarm's history (detail ``protocol_step``), so the
answers are part of the alarm's record and every screen sees them live.

``GET /api/console/protocols`` (the steps in the reader's language, by rule) and
``POST /api/alarms/{alarm_id}/protocol-steps`` with ``{"step": "<key>"}``. A centre's own
protocol for a kind (hub.console.protocol_editor, stored in ``operator_protocols``) replaces
the shipped one (protocols.toml); both are read per request, so every worker agrees.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import Actor, Alarm, add_note
from hub.alarms.routes import ACTORS, _act, _actor, _view
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth import current_user, requires
from hub.console.bodies import ProtocolStep
from hub.console.models import ProtocolOverride
from hub.http import ApiError, read_checked
from protocol.i18n import LANGUAGES, as_language

PROTOCOLS_FILE = Path(__file__).with_name("protocols.toml")
STEP_DETAIL = "protocol_step"
# Rules that share a protocol.
SAME_AS = {"co": "smoke", "gas": "smoke", "fire": "smoke", "prompt_help": "panic"}


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a protocol, in the three languages."""

    key: str
    texts: dict[str, str]

    def text(self, language: str) -> str:
        """The step in ``language`` (English when missing)."""
        return self.texts.get(as_language(language)) or self.texts["en"]


@cache
def protocols() -> dict[str, tuple[Step, ...]]:
    """Every protocol by rule kind (``default`` for the rest), read once."""
    data = tomllib.loads(PROTOCOLS_FILE.read_text(encoding="utf-8"))
    return {
        kind: tuple(Step(s["key"], {lang: s[lang] for lang in LANGUAGES}) for s in steps)
        for kind, steps in data.items()
    }


def protocol_for(rule: str, table: dict[str, tuple[Step, ...]] | None = None) -> tuple[Step, ...]:
    """The protocol of an alarm whose first rule is ``rule`` (in ``table``: the shipped
    protocols unless given)."""
    table = table if table is not None else protocols()
    return table.get(SAME_AS.get(rule, rule)) or table["default"]


async def current_protocols(session: AsyncSession) -> dict[str, tuple[Step, ...]]:
    """The shipped protocols with the centre's own in place of theirs."""
    table = dict(protocols())
    for row in await session.scalars(select(ProtocolOverride)):
        table[row.kind] = tuple(
            Step(s["key"], {lang: s[lang] for lang in LANGUAGES}) for s in row.steps
        )
    return table


def tick_step(alarm: Alarm, actor: Actor, at: datetime, step: Step, language: str) -> Alarm:
    """The alarm with ``step`` ticked: a note "✓ <step>" marked with its key."""
    noted = add_note(alarm, actor, at, f"✓ {step.text(language)}")
    last = noted.history[-1]
    marked = replace(last, detail=(*last.detail, (STEP_DETAIL, step.key)))
    return replace(noted, history=(*noted.history[:-1], marked))


@requires(*ACTORS)
async def get_protocols(request: web.Request) -> web.Response:
    """``{"protocols": {rule: [{key, text}]}}`` in the reader's language."""
    language = current_user(request).language
    async with request.app[SESSIONMAKER]() as session:
        table = await current_protocols(session)
    body = {
        kind: [{"key": s.key, "text": s.text(language)} for s in steps]
        for kind, steps in table.items()
    }
    return web.json_response({"protocols": body, "same_as": SAME_AS})


@requires(*ACTORS)
async def tick_protocol_step(request: web.Request) -> web.Response:
    """Tick one step of the alarm's protocol (a note in its history, audited)."""
    data: dict[str, Any] = await read_checked(request, ProtocolStep)
    key = data.get("step")
    if set(data) != {"step"} or not isinstance(key, str):
        raise ApiError(400, "invalid_request", 'send {"step": "<key>"}')
    user = current_user(request)
    actor, now = _actor(user), request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        table = await current_protocols(session)

    def change(alarm: Alarm) -> Alarm:
        steps = {s.key: s for s in protocol_for(alarm.rules[0].value, table)}
        if key not in steps:
            raise ApiError(400, "unknown_step", f"no step {key!r} in this alarm's protocol")
        return tick_step(alarm, actor, now, steps[key], user.language)

    alarm = await _act(request, change, "alarm.protocol_step", {"step": key})
    return web.json_response(_view(request, alarm))
