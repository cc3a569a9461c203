"""The console's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``).

The operator console: the alarm queue, the resident's card, alarm handling with its voice and
click-to-call, technical alarms, wellbeing calls and campaigns, supervisor figures and user
administration. Every route of the context is added here, from the handlers of its feature
modules (one module per concept: ``calls.py``, ``campaigns.py``, ``residents.py`` …), together
with the dialler's lifespan and the call observer that puts centre calls in their alarms.
"""

from __future__ import annotations

from aiohttp import web

from hub.console import (
    adherence,
    calls,
    campaigns,
    dial,
    health,
    maintenance,
    messages,
    pages,
    protocol_editor,
    protocols,
    residents,
    supervision,
    users,
    voice,
)
from hub.family.calls.signalling import CALL_OBSERVER


def setup(app: web.Application) -> None:
    """Add every console route, the dialler's context and the call observer."""
    # Medication adherence on the card (adherence.py).
    app.router.add_get("/api/console/residents/{resident_id}/adherence", adherence.adherence)

    # Wellbeing calls (calls.py).
    app.router.add_get("/api/console/calls", calls.worklist)
    app.router.add_post("/api/console/calls", calls.plan_call)
    app.router.add_post("/api/console/calls/{call_id}/outcome", calls.record_outcome)
    app.router.add_put("/api/console/residents/{resident_id}/call-plan", calls.set_call_plan)

    # Call campaigns (campaigns.py).
    app.router.add_get("/api/console/campaigns", campaigns.list_campaigns)
    app.router.add_post("/api/console/campaigns/preview", campaigns.preview)
    app.router.add_post("/api/console/campaigns", campaigns.create)
    app.router.add_get("/api/console/campaigns/{campaign_id}", campaigns.detail)
    app.router.add_post("/api/console/campaigns/{campaign_id}/close", campaigns.close)

    # Click-to-call from the alarm card through the centre's PBX (dial.py).
    app.cleanup_ctx.append(dial.dialler_ctx)
    app.router.add_post("/api/console/alarms/{alarm_id}/dial", dial.dial)
    app.router.add_post("/api/console/dials/{call_id}/media", dial.media)
    app.router.add_post("/api/console/dials/{call_id}/hangup", dial.hangup)

    # The resident's health record (health.py).
    app.router.add_get("/api/console/residents/{resident_id}/health", health.get_health)
    app.router.add_put("/api/console/residents/{resident_id}/health", health.put_health)

    # Technical alarms' maintenance tickets (maintenance.py).
    app.router.add_get("/api/console/maintenance", maintenance.list_tickets)
    app.router.add_put("/api/console/maintenance/{alarm_id}", maintenance.update_ticket)

    # Messages to the tablet (messages.py).
    app.router.add_post("/api/console/messages", messages.send_message)
    app.router.add_get("/api/console/residents/{resident_id}/messages", messages.resident_messages)

    # The console's pages and their static files (pages.py).
    app.router.add_static(pages.STATIC_PREFIX, pages.HERE / "static", name="console-static")
    app.router.add_get("/console", pages.queue_page)
    app.router.add_get("/console/supervisor", pages.supervisor_page)
    app.router.add_get("/console/technical", pages.technical_page)
    app.router.add_get("/console/calls", pages.calls_page)
    app.router.add_get("/console/campaigns", pages.campaigns_page)
    app.router.add_get("/console/protocols", pages.protocols_page)

    # The protocol editor (protocol_editor.py).
    app.router.add_get("/api/console/protocols/edit", protocol_editor.list_protocols)
    app.router.add_put("/api/console/protocols/{kind}", protocol_editor.put_protocol)
    app.router.add_delete("/api/console/protocols/{kind}", protocol_editor.reset_protocol)

    # Protocols and their ticked steps (protocols.py).
    app.router.add_get("/api/console/protocols", protocols.get_protocols)
    app.router.add_post("/api/alarms/{alarm_id}/protocol-steps", protocols.tick_protocol_step)

    # Residents and their card (residents.py).
    app.router.add_get("/api/console/residents", residents.residents_summary)
    app.router.add_get("/api/console/residents/{resident_id}/card", residents.resident_card)
    app.router.add_get("/api/console/residents/{resident_id}/photo", residents.resident_photo)
    app.router.add_post("/api/console/residents/{resident_id}/key-safe", residents.reveal_key_safe)

    # Supervisor figures and who is on shift (supervision.py).
    app.router.add_get("/api/console/figures", supervision.figures)
    app.router.add_get("/api/console/figures.csv", supervision.figures_csv)
    app.router.add_post("/api/console/presence", supervision.heartbeat)
    app.router.add_get("/api/console/on-shift", supervision.on_shift)

    # User administration and one's own language (users.py).
    app.router.add_get("/api/admin/users", users.list_users)
    app.router.add_post("/api/admin/users", users.add_user)
    app.router.add_patch("/api/admin/users/{user_id}", users.change_user)
    app.router.add_put("/api/me/language", users.set_my_language)

    # Speaking with the home; the call service reports centre calls to the alarms (voice.py).
    app.router.add_post("/api/console/alarms/{alarm_id}/voice", voice.speak_about_alarm)
    app.router.add_get("/api/console/alarms/{alarm_id}/voice", voice.alarm_voice_calls)
    app.router.add_post("/api/console/residents/{resident_id}/voice", voice.speak_with_resident)
    app.router.add_post("/api/console/alarms/{alarm_id}/voice/listen", voice.listen_in)
    app[CALL_OBSERVER] = voice.AlarmVoiceRecorder(app)
    # on_startup runs after every cleanup context started (the call service, the engine)
    app.on_startup.append(voice.record_recovered)
