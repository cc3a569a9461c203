"""Settings of the family network (section ``[family]``) and its typed app keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
from aiohttp import web

from hub.media import MediaLimits, MediaStore

SECTION = "family"


class FamilySettings(msgspec.Struct, kw_only=True, frozen=True):
    """Limits and services of the family network; defaults run the demo."""

    # Empty means "media" under the hub's data_dir.
    media_dir: str = ""
    media: MediaLimits = msgspec.field(default_factory=MediaLimits)
    link_code_ttl_s: int = 24 * 3600
    link_code_max_ttl_s: int = 7 * 24 * 3600
    link_max_failures: int = 5
    link_failure_window_s: int = 15 * 60
    ring_timeout_s: float = 45.0
    # ICE servers handed to clients; TURN credentials are minted from turn_secret.
    stun_urls: list[str] = msgspec.field(default_factory=list)
    turn_urls: list[str] = msgspec.field(default_factory=list)
    turn_secret: str = ""
    turn_ttl_s: int = 6 * 3600
    # The TURN server's coturn configuration, readable by the hub: in production mode the
    # hub refuses to hand out a relay that may reach private addresses (hub/prodcheck.py).
    turn_server_config: str = ""
    # Members silent for this long show as "quiet" in the facilitator view.
    quiet_after_days: int = 7
    # Web Push (VAPID, RFC 8292): the application server's P-256 private key, as PEM or
    # as the base64url of its 32-byte scalar (`teleassist hub vapid-key` prints one).
    # Empty: no push (the app says notifications are not available).
    vapid_private_key: str = ""
    # Who the push services may contact about our pushes (mailto: or https:).
    vapid_subject: str = "mailto:centre@teleassist.invalid"
    push_ttl_s: int = 3600
    # Key holders without the app answer alarm SMS with a reply code: the SMS gateway posts
    # replies to /api/family/sms/replies with this bearer token (empty: no replies taken).
    sms_inbound_token: str = ""
    # How long an SMS reply code stays good (it also ends when the alarm closes).
    sms_code_ttl_s: int = 2 * 3600
    # Tests only: accept http:// and loopback push endpoints (a stand-in push service).
    push_allow_insecure: bool = False
    # One sender's posts (messages, group events, agenda items) per window (hub/family/sending.py).
    send_max_posts: int = 30
    send_window_s: int = 5 * 60
    reminder_poll_s: float = 30.0
    # Video messages are re-encoded by a background job (hub/family/video_jobs.py): how
    # often a worker looks for uploads nobody is preparing (an upload wakes its own worker
    # at once), how long a worker's claim lasts without renewal (a crashed worker's uploads
    # are taken again after it), how many claims an upload gets before it is marked failed,
    # and the bound on one re-encoding.
    video_poll_s: float = 10.0
    video_lease_s: float = 90.0
    video_max_claims: int = 3
    video_transcode_timeout_s: float = 300.0

    def media_path(self, data_dir: Path) -> Path:
        """Where the local-disk media store keeps its files."""
        return Path(self.media_dir) if self.media_dir else data_dir / "media"


FAMILY_SETTINGS = web.AppKey("family_settings", FamilySettings)
MEDIA_STORE = web.AppKey("family_media_store", MediaStore)
# One video re-encoding at a time per hub worker (hub/media/transcode.py).
TRANSCODE_GATE = web.AppKey("family_transcode_gate", asyncio.Semaphore)
