"""The hub's settings: section ``[hub]`` of the configuration.

Secrets left empty (JWT secret, key-safe encryption key) are generated on first start
and kept in files under ``data_dir`` with mode 0600, so the demo runs with no set-up and a
production install sets them from its secret store through the environment
(``TELEASSIST_HUB__JWT_SECRET``, ``TELEASSIST_HUB__KEYSAFE_KEY``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

import msgspec
from cryptography.fernet import Fernet

from config import Config, ConfigError
from hub.files import make_private_dir

SECTION = "hub"
MIN_JWT_SECRET_BYTES = 32

Mode = Literal["demo", "production"]
TimeseriesBackend = Literal["sqlite", "influxdb", "victoriametrics"]


class HubSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the hub process needs to know; defaults run the embedded demo."""

    # "production": refuse to start with demo-grade settings (hub/prodcheck.py lists what
    # is checked); "demo": the embedded defaults run as they are.
    mode: Mode = "demo"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    data_dir: str = "var/hub"
    # Empty means "SQLite file hub.sqlite under data_dir".
    database_url: str = ""
    # Run Alembic migrations to head when the hub starts.
    migrate_on_start: bool = True
    # sqlite: one box (the default, the demo); victoriametrics: production (docker-compose.yml,
    # tested for writes, queries, downsampling, last values and retention); influxdb:
    # EXPERIMENTAL - no InfluxDB server is tested, only its writes (against VictoriaMetrics)
    # and its Flux as text (docs/timeseries.md).
    timeseries_backend: TimeseriesBackend = "sqlite"
    # Empty with the sqlite backend means "timeseries.sqlite under data_dir".
    timeseries_url: str = ""
    timeseries_token: str = ""
    timeseries_org: str = "teleassist"
    timeseries_bucket: str = "teleassist"
    jwt_secret: str = ""
    # A Fernet key (urlsafe base64 of 32 bytes) for key-safe codes held at rest.
    keysafe_key: str = ""
    # Earlier keys, still read while `teleassist hub rotate-keysafe-key` re-encrypts with
    # keysafe_key what they encrypted (docs/security.md); empty once that has run.
    keysafe_previous_keys: list[str] = msgspec.field(default_factory=list)
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 14 * 24 * 3600
    # Sign-in limits (docs/security.md): max_failed_logins tries per lockout_s for one
    # username from one address (other addresses are not affected, so nobody can lock
    # staff out from elsewhere), and login_max_failures_per_address failed tries per
    # lockout_s from one address whatever the username.
    max_failed_logins: int = 5
    lockout_s: int = 15 * 60
    login_max_failures_per_address: int = 30
    # Reverse proxies whose X-Forwarded-For the hub believes (their own addresses);
    # empty: the peer address is the client's.
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    # Key-safe reveals (docs/security.md): one operator sees one alarm's code at most
    # keysafe_reveals_per_alarm times, and at most keysafe_reveals_per_hour codes an hour.
    keysafe_reveals_per_alarm: int = 3
    keysafe_reveals_per_hour: int = 10
    # The centre's map service: the resident card links the home's address to this URL,
    # with {address} (URL-encoded), {lat} and {lon} filled in. Empty: no link. Only a
    # click sends the address there; the console loads nothing from it.
    map_url: str = "https://www.openstreetmap.org/search?query={address}"
    # Ingestion (MQTT). The client id must be stable per worker: its broker session keeps
    # unacknowledged QoS 1 events while the hub restarts. Empty: "_hub-<hostname>" (a
    # leading "_" is never a device id, so no device account can ever hold it).
    ingest_enabled: bool = True
    ingest_client_id: str = ""
    # The workers' shared-subscription group. With a broker password the group on the wire
    # is "<group>_<digest of the password>", which no device can know, so no device can
    # join it and take a share of the hub's messages (docs/adr/0013). Empty: a plain
    # subscription (one hub only, e.g. on a broker without $share).
    ingest_share_group: str = "hub"
    # Keep the broker session across a restart (clean session off). Right for one hub: what
    # was queued while it restarted is delivered when it is back. With several workers set it
    # to false: Mosquitto keeps a dead worker's persistent session in the shared group and
    # queues its share of every new message there until it returns; with a clean session it
    # leaves the group at once and the devices re-send the alarm events it held (ADR 0125).
    ingest_persistent_session: bool = True
    # One owner per home (docs/adr/0147, PostgreSQL only): the homes are split into this many
    # partitions (home_id % partitions) and each is owned by one live worker at a time, through
    # leases in the database renewed every lease_heartbeat_s and lost lease_ttl_s after a
    # worker's last renewal. Every worker of a cluster must use the same count. 0: off (one
    # worker, or today's shared subscription: every worker may process any home).
    partitions: int = 0
    lease_heartbeat_s: float = 1.0
    lease_ttl_s: float = 5.0
    # On plain MQTT (no per-partition queues) every worker then hears every home and keeps what
    # it does not own for this long, to replay to itself if it takes the partition over.
    standby_s: float = 30.0
    # How events reach the workers (docs/adr/0145): "mqtt" — a subscription on one broker
    # (Mosquitto; the single-box default) — or "rabbitmq" — a RabbitMQ cluster with its MQTT
    # plugin, where each home's devices are bound to its partition's queue and a worker
    # consumes the partitions it holds a lease on (needs partitions > 0 and PostgreSQL).
    ingest_transport: str = "mqtt"
    # On "rabbitmq": how many of this worker's partition sessions may be connecting at once
    # (from the TCP connect to the broker's CONNACK). After a broker node is lost its sessions
    # come back a few at a time, each with jittered back-off, not all in one burst (ADR 0169).
    partition_connects: int = 4
    # RabbitMQ's management API (comma-separated URLs of several nodes, tried in turn) and an
    # administrator's account: the hub binds devices to partitions and closes a revoked
    # device's connections there.
    rabbitmq_api_urls: str = ""
    rabbitmq_api_user: str = ""
    rabbitmq_api_password: str = ""
    # The secret in the URLs of the broker's HTTP auth backend (/broker-auth/<token>/user…,
    # docs/adr/0146). Empty: the routes answer 404.
    broker_auth_token: str = ""
    ingest_batch_size: int = 2000
    ingest_flush_interval_s: float = 0.2
    ingest_queue_size: int = 10_000
    # One device's rate past which its routine events / readings are dropped and a "device
    # flooding" technical alarm raised (protocol.ratelimit, docs/adr/0116); panics never drop.
    ingest_device_events_per_s: float = 2.0
    ingest_device_events_burst: int = 20
    ingest_device_telemetry_per_s: float = 4.0
    ingest_device_telemetry_burst: int = 40
    # SQLite time-series retention: raw samples, then hourly rollups.
    timeseries_raw_retention_days: int = 30
    timeseries_rollup_retention_days: int = 5 * 366
    # Broker security managed by the hub (empty passwd file: the broker is managed elsewhere).
    mosquitto_passwd_file: str = ""
    # The hub's own account, for the broker's hub-only listener (deploy/mosquitto). Empty:
    # the hub's account goes into mosquitto_passwd_file (a single-listener broker).
    mosquitto_hub_passwd_file: str = ""
    mosquitto_acl_file: str = ""
    # The ACL's fixed part; empty: the built-in copy of deploy/mosquitto/acl.
    mosquitto_acl_template: str = ""
    # How to make Mosquitto re-read the files: its pid file (SIGHUP) or a command.
    mosquitto_pid_file: str = ""
    mosquitto_reload_command: str = ""
    mosquitto_file_mode: int = 0o640
    # Re-render the files this often (picks up devices registered by other workers).
    broker_sync_interval_s: float = 30.0
    # /metrics: what a Prometheus scraper sends as "Authorization: Bearer <token>". Empty:
    # only signed-in admins and supervisors can read it.
    metrics_token: str = ""
    # Tablet pairing (docs/tablet.md): setup codes live this long, and one address may try
    # this many wrong codes per window before it gets 429.
    tablet_code_ttl_s: int = 24 * 3600
    tablet_pair_max_failures: int = 10
    tablet_pair_window_s: int = 15 * 60
    # A paired tablet's family-API token lives this long; the tablet renews it once less
    # than half is left (a tablet switched off for longer must be paired again).
    tablet_token_ttl_s: int = 60 * 24 * 3600
    # What a paired tablet is told. public_url: the hub as tablets reach it (empty: the
    # address the tablet used to pair). device_mqtt_*: the broker as devices reach it
    # (empty host: the hub's own [mqtt] host, port and TLS; port 0: 8883 with TLS, else 1883).
    public_url: str = ""
    device_mqtt_host: str = ""
    device_mqtt_port: int = 0
    device_mqtt_tls: bool = False
    # Supervision: seconds of silence before a device is offline, by device type
    # (overrides hub/ingest/devicetypes.py), and how often deadlines are checked.
    supervision_intervals: dict[str, float] = msgspec.field(default_factory=dict)
    supervision_check_s: float = 5.0
    low_battery_percent: int = 15
    # Cookies carry the tokens for the server-rendered pages. Secure when set, and always
    # when the hub is served over HTTPS (the request, or public_url starts with https://).
    secure_cookies: bool = False
    # Weekly risk and needs signals for the social record (docs/wsocial.md): computed for
    # the last closed local week (Monday 00:00 in weekly_signals_timezone) once it has been
    # over for weekly_signals_delay_s (late events of devices that were offline), checked
    # every weekly_signals_check_s; weeks missed while the hub was down are caught up, up
    # to weekly_signals_catch_up_weeks. Residents are read weekly_signals_batch_size at a
    # time, with weekly_signals_history_weeks earlier weeks as their baseline.
    weekly_signals_enabled: bool = True
    weekly_signals_timezone: str = "Europe/Madrid"
    weekly_signals_delay_s: float = 3600.0
    weekly_signals_check_s: float = 600.0
    weekly_signals_catch_up_weeks: int = 4
    weekly_signals_batch_size: int = 200
    weekly_signals_history_weeks: int = 16  # at least 13: a falls flag must be able to clear
    # SIA DC-09 receiver for certified carephones and alarm panels (docs/carephones.md):
    # TCP and UDP on dc09_host (port 0: a free port, -1: that transport off). A unit's
    # timestamp may be at most dc09_window_past_s behind and dc09_window_future_s ahead of
    # the hub's clock (else NAK: a replay or a wrong clock); clear frames without a timestamp
    # are refused when dc09_require_timestamp. One source address may send dc09_source_rate
    # frames a second (bursts of dc09_source_burst; 0: no limit); frames beyond are dropped.
    dc09_enabled: bool = False
    dc09_host: str = "127.0.0.1"
    dc09_tcp_port: int = 0
    dc09_udp_port: int = 0
    dc09_window_past_s: float = 20.0
    dc09_window_future_s: float = 20.0
    dc09_require_timestamp: bool = False
    dc09_max_frame_bytes: int = 1024
    dc09_source_rate: float = 50.0
    dc09_source_burst: int = 200
    dc09_idle_timeout_s: float = 300.0
    # SCAIP receiver (CLC/TS 50134-9: SIP MESSAGE requests with an XML body) for social-alarm
    # units (docs/carephones.md): UDP and TCP on scaip_host (port 0: a free port, -1: off).
    # Bodies over scaip_max_body_bytes are refused (413); scaip_source_rate/_burst as for
    # DC-09. scaip_status_codes adds status codes to the built-in table, "12=fall, 20=smoke"
    # (the kinds of docs/carephones.md); a code not in either still raises a technical alarm.
    scaip_enabled: bool = False
    scaip_host: str = "127.0.0.1"
    scaip_tcp_port: int = 0
    scaip_udp_port: int = 0
    scaip_max_body_bytes: int = 2048
    scaip_source_rate: float = 50.0
    scaip_source_burst: int = 200
    scaip_status_codes: str = ""
    # Take the units' speech calls (SIP INVITE on the SCAIP endpoint, G.711 RTP on a port of
    # scaip_host; ADR 0121), offered to the operator through "speak with the home". Off by
    # default until a browser test has run that path.
    scaip_speech_enabled: bool = False
    # A unit's call rings (180) until an operator accepts its alarm or speaks with the home
    # (ADR 0160); after scaip_speech_ring_s the hub answers it and plays the hold message
    # (0: answered at once). scaip_hold_message: "ca", "es" or "en" (the message shipped
    # in hub/carephones/hold/) or the path of a mono 16-bit WAV file; empty: silence.
    scaip_speech_ring_s: float = 30.0
    scaip_hold_message: str = "ca"
    # Click-to-call (ADR 0143): phone numbers are called as sip:<number>@host through the
    # centre's PBX or SIP trunk at scaip_pbx ("host:port"; empty: only SIP URIs are called,
    # i.e. a carephone whose caller_id is a sip: URI).
    scaip_pbx: str = ""
    # Digest credentials (RFC 2617/7616) for a PBX that challenges the hub's INVITEs with
    # 401/407; empty: a challenge ends the call as failed (the PBX must trust the hub's address).
    scaip_pbx_user: str = ""
    scaip_pbx_password: str = ""

    @property
    def data_path(self) -> Path:
        """``data_dir`` as a path."""
        return Path(self.data_dir)

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL of the relational store."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_path / 'hub.sqlite').resolve()}"


MAP_URL_FIELDS = ("address", "lat", "lon")


def check_map_url(template: str) -> None:
    """A ``map_url`` is empty or an http(s) URL whose only fields are address, lat and lon."""
    if not template:
        return
    try:
        template.format(**dict.fromkeys(MAP_URL_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"[hub] map_url may only use {{address}}, {{lat}} and {{lon}}: {err}"
        ) from None
    if not template.startswith(("https://", "http://")):
        raise ConfigError("[hub] map_url must start with https:// (or http://)")


def load_hub_settings(config: Config) -> HubSettings:
    """Read section ``[hub]`` of ``config``."""
    settings = config.section(SECTION, HubSettings)
    check_map_url(settings.map_url)
    return settings


def _secret_file(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    make_private_dir(path.parent)
    # O_EXCL: two hub workers starting together must not overwrite each other's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(make)
    return make


def with_secrets(settings: HubSettings) -> HubSettings:
    """``settings`` with empty secrets filled from (or generated into) ``data_dir``."""
    jwt_secret = settings.jwt_secret or _secret_file(
        settings.data_path / "jwt_secret", secrets.token_urlsafe(48)
    )
    keysafe_key = settings.keysafe_key or _secret_file(
        settings.data_path / "keysafe_key", Fernet.generate_key().decode("ascii")
    )
    if len(jwt_secret.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
        raise ConfigError(f"[hub] jwt_secret must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256)")
    for name, key in [
        ("keysafe_key", keysafe_key),
        *(("keysafe_previous_keys", k) for k in settings.keysafe_previous_keys),
    ]:
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                f"[hub] {name} must be a Fernet key (urlsafe base64 of 32 bytes)"
            ) from None
    return msgspec.structs.replace(settings, jwt_secret=jwt_secret, keysafe_key=keysafe_key)
