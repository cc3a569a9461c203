"""App keys of the alarm context: what its handlers and the rest of the hub (metrics, the
family's notices, the console, carephones) read of the running alarm context. Set by
:func:`hub.alarms.app.setup` and its lifespan."""

from __future__ import annotations

from aiohttp import web

from hub.alarms.backlog import Backlog
from hub.alarms.effects import HubAlarmEffects
from hub.alarms.engine import AlarmEngine
from hub.alarms.fanout import AlarmFanout, Relay
from hub.alarms.settings import AlarmSettings
from hub.alarms.sink import AlarmSink

ALARM_ENGINE = web.AppKey("alarm_engine", AlarmEngine)
# The start-up backlog of a single owner (ADR 0184), being applied or done; absent with
# partitions (each partition taken over applies its own).
ALARM_BACKLOG = web.AppKey("alarm_backlog", Backlog)
ALARM_SETTINGS = web.AppKey("alarm_settings", AlarmSettings)
ALARM_EFFECTS = web.AppKey("alarm_effects", HubAlarmEffects)
ALARM_SINK = web.AppKey("alarm_sink", AlarmSink)
ALARM_SOCKETS = web.AppKey("alarm_sockets", set[web.WebSocketResponse])
ALARM_FANOUT = web.AppKey("alarm_fanout", AlarmFanout)
# Other contexts' channels on the fan-out's connection (filled at setup, read at start).
FANOUT_RELAYS = web.AppKey("fanout_relays", list[Relay])
