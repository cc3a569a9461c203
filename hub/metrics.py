"""``GET /metrics``: the hub's figures in Prometheus text format.

Ingestion counters and queue depths come from memory; open alarms, the oldest open alarm's
age and the wSocial outbox backlog are read from the database at scrape time, so every hub
worker reports the same shared figures for them (sum the per-worker ingestion counters).

Not public: a scraper sends ``Authorization: Bearer <hub.metrics_token>``; a signed-in admin
or supervisor may read it too (the console's cookie or access token).
"""

from __future__ import annotations

import hmac
import logging
import shutil
from collections.abc import Iterable, Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hub.alarms.keys import ALARM_EFFECTS, ALARM_ENGINE, ALARM_FANOUT, ALARM_SINK
from hub.alarms.models import AlarmRow
from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.auth.roles import Role
from hub.auth.web import ROLES_ATTRIBUTE, requires
from hub.carephones.app import DC09_RECEIVER, SCAIP_RECEIVER
from hub.carephones.receiver import ReceiverStats
from hub.carephones.requests import CALL_REQUESTS
from hub.cluster.keys import OWNERSHIP
from hub.ingest.app import INGESTER, MQTT_CLIENT
from hub.outbox.models import OutboxRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LOGGER = logging.getLogger(__name__)


class DatabaseProbe:
    """Scrapes whose database read failed: the alert on database errors counts these."""

    def __init__(self) -> None:
        self.errors = 0


DATABASE_PROBE = web.AppKey("metrics_database_probe", DatabaseProbe)


class _Snapshot(Collector):
    """Hands already-built metric families to ``generate_latest``."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _ingest_families(app: web.Application) -> list[Metric]:
    ingester = app.get(INGESTER)
    if ingester is None:
        return []
    stats = ingester.stats
    received = CounterMetricFamily(
        "teleassist_ingest_received", "MQTT messages received by this worker"
    )
    received.add_metric([], stats.received)
    accepted = CounterMetricFamily(
        "teleassist_ingest_accepted", "Messages accepted, by channel", labels=["channel"]
    )
    for channel, count in sorted(stats.accepted.items()):
        accepted.add_metric([channel], count)
    rejected = CounterMetricFamily(
        "teleassist_ingest_rejected", "Messages rejected, by reason", labels=["reason"]
    )
    for reason, count in sorted(stats.rejected.items()):
        rejected.add_metric([reason], count)
    quarantined = CounterMetricFamily(
        "teleassist_ingest_events_quarantined",
        "Events the database refused, kept as dead letters (ingest_dead_letters)",
    )
    quarantined.add_metric([], stats.quarantined)
    gaps = CounterMetricFamily("teleassist_ingest_sequence_gaps", "Sequence gaps detected")
    gaps.add_metric([], stats.gaps)
    points = CounterMetricFamily("teleassist_timeseries_points_written", "Points written")
    points.add_metric([], stats.points_written)
    depth = GaugeMetricFamily(
        "teleassist_queue_depth", "Items waiting in a bounded in-process queue", labels=["queue"]
    )
    depth.add_metric(["ingest"], ingester.queue.qsize())
    depth.add_metric(["ingest_urgent"], ingester.urgent_queue.qsize())
    depth.add_metric(["ingest_routine_backlog"], ingester.routine_backlog)
    sink = app.get(ALARM_SINK)
    if sink is not None:
        depth.add_metric(["alarm_urgent"], sink.urgent.qsize())
        depth.add_metric(["alarm_routine"], sink.routine_depth)
    p99 = GaugeMetricFamily("teleassist_ingest_p99_ms", "p99 device-time to stored, ms")
    p99.add_metric([], stats.percentile_ms(0.99) or 0.0)
    return [
        received, accepted, rejected, quarantined, gaps, points, depth, p99,
        *_mqtt_families(app),
    ]  # fmt: skip


def _mqtt_families(app: web.Application) -> list[Metric]:
    client = app.get(MQTT_CLIENT)
    if client is None:
        return []
    connected = GaugeMetricFamily(
        "teleassist_mqtt_connected", "1 while this worker is connected to the broker"
    )
    connected.add_metric([], 1.0 if client.connected.is_set() else 0.0)
    subscribed = GaugeMetricFamily(
        "teleassist_mqtt_subscribed",
        "1 while the broker has granted this worker's device subscription",
    )
    subscribed.add_metric([], 1.0 if client.subscribed.is_set() else 0.0)
    return [connected, subscribed]


def _emergency_families(app: web.Application) -> list[Metric]:
    effects = app.get(ALARM_EFFECTS)
    if effects is None:
        return []
    handoffs = CounterMetricFamily(
        "teleassist_emergency_handoffs", "Incidents sent to 112, by outcome", labels=["outcome"]
    )
    for outcome in ("delivered", "failed"):
        handoffs.add_metric([outcome], effects.handoffs[outcome])
    return [handoffs]


def _disk_families(app: web.Application) -> list[Metric]:
    """Free and total bytes of the file system holding ``data_dir`` (media, SQLite, secrets)."""
    try:
        usage = shutil.disk_usage(app[SETTINGS].data_dir)
    except OSError:  # not created yet: nothing to report
        return []
    free = GaugeMetricFamily(
        "teleassist_data_dir_free_bytes", "Bytes free on the file system of data_dir"
    )
    free.add_metric([], usage.free)
    size = GaugeMetricFamily(
        "teleassist_data_dir_size_bytes", "Size in bytes of the file system of data_dir"
    )
    size.add_metric([], usage.total)
    return [free, size]


def _receiver_families(
    stats: ReceiverStats | None, key: str, name: str, unit: str, refusal: str
) -> list[Metric]:
    if stats is None:
        return []
    frames = CounterMetricFamily(
        f"teleassist_{key}_{unit}s", f"{name} {unit}s received, by outcome", labels=["outcome"]
    )
    frames.add_metric(["received"], stats.received)
    frames.add_metric(["acked"], stats.acked)
    frames.add_metric(["polls"], stats.polls)
    frames.add_metric(["duplicates"], stats.duplicates)
    stored = CounterMetricFamily(f"teleassist_{key}_events_stored", f"{name} unit events stored")
    stored.add_metric([], stats.events_stored)
    refused = CounterMetricFamily(
        f"teleassist_{key}_refused",
        f"{name} {unit}s refused ({refusal}), by reason",
        labels=["reason"],
    )
    for reason, count in sorted(stats.refused.items()):
        refused.add_metric([reason], count)
    return [frames, stored, refused]


def _dc09_families(app: web.Application) -> list[Metric]:
    receiver = app.get(DC09_RECEIVER)
    stats = None if receiver is None else receiver.stats
    return _receiver_families(stats, "dc09", "DC-09", "frame", "NAK, DUH or dropped")


def _scaip_families(app: web.Application) -> list[Metric]:
    receiver = app.get(SCAIP_RECEIVER)
    stats = None if receiver is None else receiver.stats
    return _receiver_families(stats, "scaip", "SCAIP", "message", "a SIP error or dropped")


def _call_request_families(app: web.Application) -> list[Metric]:
    requests = app.get(CALL_REQUESTS)
    if requests is None:  # SQLite, or no speech calls: nothing crosses workers
        return []
    families: list[Metric] = []
    for name, value, text in (
        ("asked", requests.asked, "Carephone call requests sent to the worker holding the call"),
        ("handled", requests.handled, "Other workers' carephone call requests handled here"),
        ("timed_out", requests.timed_out, "Carephone call requests unanswered (504 given)"),
        ("caught_up", requests.caught_up, "Requests or answers read after a reconnection"),
        ("stale_calls_out", requests.stale_calls_out, "Rows of ended calls out dropped"),
    ):
        counter = CounterMetricFamily(f"teleassist_carephone_requests_{name}", text)
        counter.add_metric([], float(value))
        families.append(counter)
    return families


def _engine_families(app: web.Application) -> list[Metric]:
    engine = app.get(ALARM_ENGINE)
    if engine is None:
        return []
    passes = CounterMetricFamily(
        "teleassist_alarm_timer_passes", "Completed passes of this worker's alarm timer loop"
    )
    passes.add_metric([], engine.timer_passes)
    return [passes, *_ownership_families(app)]


def _ownership_families(app: web.Application) -> list[Metric]:
    ownership = app.get(OWNERSHIP)
    if ownership is None:  # hub.partitions = 0: every home is every worker's
        return []
    owned = GaugeMetricFamily(
        "teleassist_partitions_owned", "Partitions of the homes this worker owns now"
    )
    owned.add_metric([], float(len(ownership.owned)))
    members = GaugeMetricFamily("teleassist_cluster_members", "Live hub workers seen last beat")
    members.add_metric([], float(len(ownership.members)))
    changes = CounterMetricFamily(
        "teleassist_partition_changes", "Partitions gained or given up by this worker"
    )
    changes.add_metric([], float(ownership.changes))
    families: list[Metric] = [owned, members, changes]
    ingester = app.get(INGESTER)
    if ingester is not None:
        not_owned = CounterMetricFamily(
            "teleassist_ingest_not_owned", "Messages of homes another worker owns (kept aside)"
        )
        not_owned.add_metric([], float(ingester.stats.not_owned))
        families.append(not_owned)
    return families


def _fanout_families(app: web.Application) -> list[Metric]:
    fanout = app.get(ALARM_FANOUT)
    if fanout is None:  # SQLite: one worker, nothing to fan out
        return []
    listening = GaugeMetricFamily(
        "teleassist_alarm_fanout_listening", "1 while LISTEN for other workers' alarms is on"
    )
    listening.add_metric([], 1.0 if fanout.listening.is_set() else 0.0)
    families: list[Metric] = [listening]
    for name, value, text in (
        ("signals", fanout.signals, "Alarm change signals received"),
        ("published", fanout.published, "Other workers' alarm changes published here"),
        ("reconnects", fanout.reconnects, "Times the listening connection was re-established"),
        ("caught_up", fanout.caught_up, "Alarm changes found by the read after a reconnect"),
        ("resyncs", fanout.resyncs, "Times the live sockets were told to reload"),
        ("residents", fanout.residents, "Care-plan changes from any worker applied here"),
        ("relayed", fanout.relayed, "Other contexts' notifications handled (prepared videos)"),
    ):
        counter = CounterMetricFamily(f"teleassist_alarm_fanout_{name}", text)
        counter.add_metric([], value)
        families.append(counter)
    return families


async def _database_families(app: web.Application, now: datetime) -> list[Metric]:
    async with app[SESSIONMAKER]() as session:
        by_priority = (
            await session.execute(
                select(AlarmRow.priority, func.count(), func.min(AlarmRow.raised_at))
                .where(AlarmRow.state != "resolved")
                .group_by(AlarmRow.priority)
            )
        ).all()
        outbox = (
            await session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
        ).all()
        # Waiting for an operator: not resolved and nobody has accepted it.
        unclaimed_at = (
            await session.execute(
                select(func.min(AlarmRow.raised_at)).where(
                    AlarmRow.state != "resolved", AlarmRow.claimed_by.is_(None)
                )
            )
        ).scalar_one_or_none()
    open_alarms = GaugeMetricFamily(
        "teleassist_alarms_open", "Alarms not yet resolved, by priority", labels=["priority"]
    )
    oldest = GaugeMetricFamily(
        "teleassist_alarm_oldest_open_age_seconds", "Age of the oldest unresolved alarm"
    )
    oldest_at: datetime | None = None
    for priority, count, first in by_priority:
        open_alarms.add_metric([str(priority)], count)
        if first is not None and (oldest_at is None or first < oldest_at):
            oldest_at = first
    oldest.add_metric([], (now - oldest_at).total_seconds() if oldest_at else 0.0)
    unclaimed = GaugeMetricFamily(
        "teleassist_alarm_oldest_unclaimed_age_seconds",
        "Age of the oldest unresolved alarm no operator has accepted (0: none)",
    )
    unclaimed.add_metric([], (now - unclaimed_at).total_seconds() if unclaimed_at else 0.0)
    backlog = GaugeMetricFamily(
        "teleassist_outbox_records", "wSocial outbox records, by state", labels=["state"]
    )
    for state, count in outbox:
        backlog.add_metric([state], count)
    return [open_alarms, oldest, unclaimed, backlog]


async def _probed_database_families(app: web.Application, now: datetime) -> list[Metric]:
    """The database figures, and whether the database answered this scrape."""
    probe = app[DATABASE_PROBE]
    try:
        families = await _database_families(app, now)
        up = 1.0
    except (SQLAlchemyError, OSError):
        _LOGGER.exception("metrics: the database did not answer")
        probe.errors += 1
        families, up = [], 0.0
    gauge = GaugeMetricFamily("teleassist_database_up", "1 if the database answered this scrape")
    gauge.add_metric([], up)
    errors = CounterMetricFamily("teleassist_database_errors", "Scrapes whose database read failed")
    errors.add_metric([], probe.errors)
    return [*families, gauge, errors]


async def _exposition(request: web.Request) -> web.StreamResponse:
    app = request.app
    families = (
        _ingest_families(app)
        + _dc09_families(app)
        + _scaip_families(app)
        + _call_request_families(app)
        + _engine_families(app)
        + _fanout_families(app)
        + _emergency_families(app)
        + _disk_families(app)
        + await _probed_database_families(app, app[CLOCK]())
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})


_STAFF = (Role.ADMIN, Role.SUPERVISOR)
_for_staff = requires(*_STAFF)(_exposition)


def _scraper(request: web.Request) -> bool:
    """Does the request carry the configured scrape token?"""
    token = request.app[SETTINGS].metrics_token
    if not token:
        return False
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


async def metrics(request: web.Request) -> web.StreamResponse:
    """The Prometheus exposition of this worker (scrape token, or an admin/supervisor)."""
    if _scraper(request):
        return await _exposition(request)
    return await _for_staff(request)


# The permission table (docs/roles.md) lists the staff who may read it.
setattr(metrics, ROLES_ATTRIBUTE, frozenset(_STAFF))


def setup(app: web.Application) -> None:
    """Add ``/metrics``."""
    app[DATABASE_PROBE] = DatabaseProbe()
    app.router.add_get("/metrics", metrics)
