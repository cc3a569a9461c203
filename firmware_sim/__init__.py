"""Simulated homes: a seeded model of a resident's day, injected incidents with their
ground truth, and (in :mod:`teleassist.sim`) the fleet load generator.

The pure core
-------------
``simulate_days(home, profile, start_date, days, seed, incidents=(), view="hub")``
returns a :class:`Trace`: every record a home's devices send, sorted by time, plus
the ground truth of what was injected. It does no I/O, never sleeps and never reads
the clock: time is the simulation's own (local midnight of ``start_date`` in the
home's time zone, converted to tz-aware UTC). A resident-day takes a few milliseconds.

- ``home``: a :class:`HomeSpec`; :func:`standard_home` builds the reference
  installation (gateway, a PIR per room, front door, bed sensor, pendant, bathroom fall
  detector, smoke/CO/leak, two thermometers, kettle and TV plugs, tablet).
- ``profile``: ``"active"``, ``"frail"``, ``"cognitive_decline"`` (:class:`Profile`) or
  your own :class:`ProfileParams`.
- ``seed``: the same seed (and arguments) gives the same trace, record for record.
  Each day draws from its own seeded generator, so adding an incident on day 5 does
  not change days 0–4.
- ``incidents``: :class:`IncidentSpec` requests (kind, day, optional local time,
  duration and device); :func:`plan_incidents` draws a reproducible benchmark mix.
- ``view="hub"`` (default): what the hub receives from an agent in that home — the
  agent's fall cancel window applied (a confirmed ``fall`` 30 s after detection, or a
  ``fall_cancelled`` with the fall's id and no ``fall``), gateway heartbeats and its
  Last Will (``status``), sensors declared offline by supervision, and records held
  during a gateway outage carrying ``delivered_at``. ``view="sensor"``: what the
  sensors themselves report, which is what the device agent consumes.

Each :class:`TraceRecord` has ``ts``, ``device_id``, ``device_type``, ``room`` and
``body`` (a protocol event body, :class:`protocol.Telemetry` or
:class:`protocol.Status`). :meth:`Trace.messages` wraps them in contract envelopes
(per-device sequence numbers, stable message ids) with their topics.

Ground truth (:class:`Incident`): kind, the alarm ``rule`` that should catch it,
``expect_alarm`` (False for a cancelled fall), ``also`` (rules that may fire as a
consequence), home and resident ids, UTC ``start``/``end``, device and room.

Normal days keep promises the alert rules can rely on (see
:mod:`firmware_sim.profiles`): the front door stays closed 23:00–06:00, every night
trip out of bed is back within 20 minutes, the check-in comes before the deadline,
rooms stay between 16 and 28 °C and batteries above 15 %.

Example::

    from datetime import date
    from firmware_sim import IncidentKind, IncidentSpec, simulate_days, standard_home

    trace = simulate_days(
        standard_home("h001"), "frail", date(2026, 1, 12), days=7, seed=42,
        incidents=[IncidentSpec(IncidentKind.FALL, day=2)],
    )
    for record in trace.records: ...
    for incident in trace.incidents: ...
"""

from firmware_sim.home import BATTERY_TYPES, DeviceSpec, DeviceType, HomeSpec, standard_home
from firmware_sim.incidents import (
    CRITICAL_KINDS,
    RULES,
    Incident,
    IncidentKind,
    IncidentSpec,
    plan_incidents,
)
from firmware_sim.profiles import (
    MAX_NORMAL_NIGHT_OUT_MIN,
    PROFILES,
    Profile,
    ProfileParams,
    profile_params,
)
from firmware_sim.sensors import HIGH_TEMP_C, LOW_BATTERY_PERCENT, LOW_TEMP_C
from firmware_sim.simulate import SimOptions, simulate_days
from firmware_sim.trace import Trace, TraceRecord

__all__ = [
    "BATTERY_TYPES",
    "CRITICAL_KINDS",
    "HIGH_TEMP_C",
    "LOW_BATTERY_PERCENT",
    "LOW_TEMP_C",
    "MAX_NORMAL_NIGHT_OUT_MIN",
    "PROFILES",
    "RULES",
    "DeviceSpec",
    "DeviceType",
    "HomeSpec",
    "Incident",
    "IncidentKind",
    "IncidentSpec",
    "Profile",
    "ProfileParams",
    "SimOptions",
    "Trace",
    "TraceRecord",
    "plan_incidents",
    "profile_params",
    "simulate_days",
    "standard_home",
]
