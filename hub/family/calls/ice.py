"""ICE servers for clients: STUN URLs and time-limited TURN credentials.

coturn's REST-API scheme (``use-auth-secret`` + ``static-auth-secret``): the username is
``<expiry unix time>:<party>`` and the password is base64(HMAC-SHA1(secret, username)),
so the hub never stores TURN passwords and a leaked one stops working by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any


def turn_credentials(secret: str, party: str, now: datetime, ttl_s: int) -> tuple[str, str]:
    """A (username, password) pair valid for ``ttl_s`` seconds."""
    expiry = int((now + timedelta(seconds=ttl_s)).timestamp())
    username = f"{expiry}:{party}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(
    stun_urls: list[str],
    turn_urls: list[str],
    turn_secret: str,
    party: str,
    now: datetime,
    ttl_s: int,
) -> list[dict[str, Any]]:
    """The ``iceServers`` list for ``RTCPeerConnection`` (empty: host candidates only)."""
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and turn_secret:
        username, credential = turn_credentials(turn_secret, party, now, ttl_s)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
